package gateway

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the gateway's Prometheus instruments.
type metrics struct {
	// connections is the number of open WebSocket connections.
	connections prometheus.Gauge
	// messagesSent counts frames written to clients, events and replies.
	messagesSent prometheus.Counter
	// slowConsumers counts clients disconnected because their send buffer
	// was full.
	slowConsumers prometheus.Counter
}

// newMetrics creates the instruments and registers them with reg, if any.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "phoenix_gateway_connections",
			Help: "Open WebSocket connections.",
		}),
		messagesSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "phoenix_gateway_messages_sent_total",
			Help: "WebSocket messages written to clients.",
		}),
		slowConsumers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "phoenix_gateway_slow_consumers_total",
			Help: "Clients disconnected because their send buffer was full.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	collectors := []prometheus.Collector{m.connections, m.messagesSent, m.slowConsumers}
	for i, c := range collectors {
		if err := reg.Register(c); err != nil {
			for _, done := range collectors[:i] {
				reg.Unregister(done)
			}
			return nil, fmt.Errorf("gateway: register metrics: %w", err)
		}
	}
	return m, nil
}
