package gateway

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons a handshake is refused: the label values of phoenix_gateway_handshakes_refused_total.
const (
	refusedOrigin       = "origin"
	refusedUnauthorized = "unauthorized"
	refusedForbidden    = "forbidden"
	refusedUnavailable  = "unavailable"
	refusedRate         = "rate"
	refusedCapacity     = "capacity"
	refusedTenantLimit  = "tenant_limit"
	refusedUserLimit    = "user_limit"
	refusedShuttingDown = "shutting_down"
)

// Reasons a connection ends: the label values of phoenix_gateway_disconnects_total.
const (
	disconnectClient     = "client_closed"
	disconnectLost       = "connection_lost"
	disconnectSlowReader = "slow_reader"
	disconnectExpired    = "token_expired"
	disconnectRevoked    = "token_revoked"
	disconnectShutdown   = "shutdown"
	disconnectTooBig     = "message_too_big"
	disconnectWriteError = "write_failed"
)

// Reasons something is dropped: the label values of phoenix_gateway_dropped_total.
const (
	droppedRateLimited  = "rate_limited"  // a client frame over the connection's message rate
	droppedInvalidEvent = "invalid_event" // an event from Redis that is not "<seq> <JSON>"
	droppedDuplicate    = "duplicate"     // an event already delivered from the history
	droppedHistoryGap   = "history_gap"   // events lost because the history no longer had them
)

// metrics are the gateway's Prometheus instruments. No label carries a tenant, user or channel:
// label values are bounded.
type metrics struct {
	// connections is the number of open WebSocket connections.
	connections prometheus.Gauge
	// maxConnections is this replica's connection cap (Options.MaxConnections), so saturation is
	// connections / max_connections whatever a deployment configures.
	maxConnections prometheus.Gauge
	// refused counts handshakes refused before the upgrade, by reason.
	refused *prometheus.CounterVec
	// disconnects counts ended connections, by reason.
	disconnects *prometheus.CounterVec
	// subscriptions is the number of channel subscriptions held by connections.
	subscriptions prometheus.Gauge
	// channels is the number of Redis channels this replica is subscribed to.
	channels prometheus.Gauge
	// messagesIn counts frames received from clients.
	messagesIn prometheus.Counter
	// messagesOut counts frames written to clients: events and replies.
	messagesOut prometheus.Counter
	// events counts events received from Redis.
	events prometheus.Counter
	// replayed counts events sent to clients from the history.
	replayed prometheus.Counter
	// dropped counts client frames and events dropped, by reason.
	dropped *prometheus.CounterVec
	// fanout observes, per delivery, the time from an event's arrival from Redis to its frame
	// being written to the client's socket.
	fanout prometheus.Histogram
	// redisUp is 1 while the pub/sub connection is subscribed, 0 while it is being re-established.
	redisUp prometheus.Gauge
	// redisReconnects counts re-established pub/sub connections.
	redisReconnects prometheus.Counter
}

// newMetrics creates the instruments and registers them with reg, if any.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "phoenix_gateway_connections", Help: "Open WebSocket connections.",
		}),
		maxConnections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "phoenix_gateway_max_connections", Help: "Connections this replica accepts (PHOENIX_WS_MAX_CONNECTIONS); handshakes beyond are refused with 503.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "phoenix_gateway_handshakes_refused_total", Help: "Handshakes refused before the upgrade, by reason.",
		}, []string{"reason"}),
		disconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "phoenix_gateway_disconnects_total", Help: "Ended WebSocket connections, by reason.",
		}, []string{"reason"}),
		subscriptions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "phoenix_gateway_subscriptions", Help: "Channel subscriptions held by connections.",
		}),
		channels: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "phoenix_gateway_channels", Help: "Redis channels this replica is subscribed to.",
		}),
		messagesIn: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "phoenix_gateway_messages_received_total", Help: "Frames received from clients.",
		}),
		messagesOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "phoenix_gateway_messages_sent_total", Help: "Frames written to clients, events and replies.",
		}),
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "phoenix_gateway_events_received_total", Help: "Events received from Redis.",
		}),
		replayed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "phoenix_gateway_events_replayed_total", Help: "Events sent to clients from the history (since).",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "phoenix_gateway_dropped_total", Help: "Client frames and events dropped, by reason.",
		}, []string{"reason"}),
		fanout: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "phoenix_gateway_fanout_seconds",
			Help:    "Time from an event's arrival from Redis to its frame being written to a client, per delivery.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .075, .1, .15, .25, .5, 1, 2.5},
		}),
		redisUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "phoenix_gateway_redis_up", Help: "1 while the Redis pub/sub connection is subscribed.",
		}),
		redisReconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "phoenix_gateway_redis_reconnects_total", Help: "Times the Redis pub/sub connection was re-established.",
		}),
	}
	// The default cap until New records the configured one (capacity).
	m.maxConnections.Set(DefaultMaxConnections)
	// Every reason exists from the start, so a rate over it is never "no data".
	for _, r := range []string{refusedOrigin, refusedUnauthorized, refusedForbidden, refusedUnavailable, refusedRate,
		refusedCapacity, refusedTenantLimit, refusedUserLimit, refusedShuttingDown} {
		m.refused.WithLabelValues(r)
	}
	for _, r := range []string{disconnectClient, disconnectLost, disconnectSlowReader, disconnectExpired,
		disconnectRevoked, disconnectShutdown, disconnectTooBig, disconnectWriteError} {
		m.disconnects.WithLabelValues(r)
	}
	for _, r := range []string{droppedRateLimited, droppedInvalidEvent, droppedDuplicate, droppedHistoryGap} {
		m.dropped.WithLabelValues(r)
	}
	if reg == nil {
		return m, nil
	}
	collectors := []prometheus.Collector{m.connections, m.maxConnections, m.refused, m.disconnects, m.subscriptions, m.channels,
		m.messagesIn, m.messagesOut, m.events, m.replayed, m.dropped, m.fanout, m.redisUp, m.redisReconnects}
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

// capacity records the connection cap the hub enforces (Options.MaxConnections after defaults).
func (m *metrics) capacity(maxConnections int) { m.maxConnections.Set(float64(maxConnections)) }
