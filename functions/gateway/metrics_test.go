package gateway

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoenixotel/phoenix/test/monitoring/promtest"
)

func TestMetrics_MaxConnectionsIsTheReplicasCap(t *testing.T) {
	tests := []struct {
		name string
		cap  int // recorded with capacity; 0 records nothing
		want float64
	}{
		{"before New records the cap: the default", 0, DefaultMaxConnections},
		{"a configured cap", 2500, 2500},
		{"a cap of one", 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			m, err := newMetrics(reg)
			if err != nil {
				t.Fatal(err)
			}
			if tt.cap > 0 {
				m.capacity(tt.cap)
			}
			if got := promtest.Value(t, reg, "phoenix_gateway_max_connections", nil); got != tt.want {
				t.Fatalf("phoenix_gateway_max_connections = %g, want %g", got, tt.want)
			}
		})
	}
}

func TestMetrics_RegisteringTwiceFailsCleanly(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := newMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := newMetrics(reg); err == nil {
		t.Fatal("a second gateway registered the same metrics")
	}
	// The failed attempt left the first gateway's metrics as they were.
	if got := promtest.Value(t, reg, "phoenix_gateway_max_connections", nil); got != DefaultMaxConnections {
		t.Fatalf("max connections %g after a failed registration", got)
	}
}

// The gauge reports the cap the gateway was configured with, which saturation alerts divide by.
func TestNew_ExportsTheConfiguredConnectionCap(t *testing.T) {
	e := newEnv(t, withOptions(func(o *Options) { o.MaxConnections = 1234 }))
	if got := metric(t, e.reg, "phoenix_gateway_max_connections"); got != 1234 {
		t.Fatalf("phoenix_gateway_max_connections = %g, want 1234", got)
	}
}
