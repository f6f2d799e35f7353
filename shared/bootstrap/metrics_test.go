package bootstrap_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoenixotel/phoenix/shared/bootstrap"
	"github.com/phoenixotel/phoenix/shared/config"
	"github.com/phoenixotel/phoenix/shared/function"
	"github.com/phoenixotel/phoenix/shared/logging"
	"github.com/phoenixotel/phoenix/test/monitoring/promtest"
	"github.com/phoenixotel/phoenix/test/pgtest"
)

// openBoth opens the store and Redis with the given URLs.
func openBoth(t *testing.T, dbURL, redisURL string) *bootstrap.Resources {
	t.Helper()
	cfg, err := config.Load(func(k string) (string, bool) {
		switch k {
		case "PHOENIX_DATABASE_URL":
			return dbURL, true
		case "PHOENIX_REDIS_URL":
			return redisURL, true
		}
		return "", false
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := bootstrap.Open(cfg, logging.New(io.Discard, "test", slog.LevelInfo), bootstrap.Needs{Store: true, Redis: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(res.Close)
	return res
}

func TestInstrument_ExportsPoolSaturationAndDependencyHealth(t *testing.T) {
	db := newAppDB(t)
	tests := []struct {
		name     string
		dbURL    string
		redisURL string
		up       float64 // phoenix_dependency_up of both
	}{
		{"both answer", db, config.DefaultRedisURL, 1},
		{"neither answers", "postgres://phoenix_app@127.0.0.1:1/phoenix?sslmode=disable&connect_timeout=1",
			"redis://127.0.0.1:1/0?dial_timeout=1s", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := openBoth(t, tt.dbURL, tt.redisURL)
			reg := prometheus.NewRegistry()
			if err := res.Instrument("probe", reg); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if tt.up == 1 {
				// Use both pools, so their counters have moved.
				if err := res.Store.Ping(ctx); err != nil {
					t.Fatal(err)
				}
				if err := res.Redis.Ping(ctx).Err(); err != nil {
					t.Fatal(err)
				}
			}
			// One scrape: each runs the dependency checks, which for "neither answers" wait on
			// refused dials and retries; once per value they added up to seconds on a busy machine.
			snap := promtest.Snapshot(t, reg)
			for _, dep := range []string{"postgres", "redis"} {
				if got := promtest.Value(t, snap, function.MetricDependencyUp, promtest.Labels{"function": "probe", "dependency": dep}); got != tt.up {
					t.Errorf("%s up = %g, want %g", dep, got, tt.up)
				}
			}
			for pool, want := range map[string]float64{"postgres": float64(res.Store.PoolStats().MaxConns()), "redis": float64(res.Redis.Options().PoolSize)} {
				if got := promtest.Value(t, snap, function.MetricPoolMaxConnections, promtest.Labels{"function": "probe", "pool": pool}); got != want || want < 1 {
					t.Errorf("%s max connections %g, want %g", pool, got, want)
				}
			}
			for _, pool := range []string{"postgres", "redis"} {
				acquires := promtest.Value(t, snap, function.MetricPoolAcquires, promtest.Labels{"pool": pool})
				if tt.up == 1 && acquires < 1 {
					t.Errorf("%s: %g acquisitions after a ping", pool, acquires)
				}
				// The ping returned its connection to the pool; the scrape's own dependency check
				// may hold it at the moment the pool is read (Gather runs collectors side by side,
				// CI once read 0 idle), so it counts as idle or in use.
				idle := promtest.Value(t, snap, function.MetricPoolConnections, promtest.Labels{"pool": pool, "state": "idle"})
				inUse := promtest.Value(t, snap, function.MetricPoolConnections, promtest.Labels{"pool": pool, "state": "in_use"})
				if tt.up == 1 && idle+inUse < 1 {
					t.Errorf("%s: %g idle and %g in-use connections after a ping", pool, idle, inUse)
				}
			}
		})
	}
}

func TestRun_ServesPoolAndDependencyMetrics(t *testing.T) {
	res := openBoth(t, newAppDB(t), config.DefaultRedisURL)
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- bootstrap.Run(ctx, res, func(*bootstrap.Resources) (function.Service, error) {
			return function.Service{Name: "probe", HTTP: http.NotFoundHandler()}, nil
		}, function.Options{Addr: "127.0.0.1:0", Listening: func(a net.Addr) { addrs <- a }, DrainTimeout: 5 * time.Second})
	}()
	t.Cleanup(func() { cancel(); <-done })
	var base string
	select {
	case a := <-addrs:
		base = "http://" + a.String()
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	for _, want := range []string{
		`phoenix_dependency_up{dependency="postgres",function="probe"} 1`,
		`phoenix_dependency_up{dependency="redis",function="probe"} 1`,
		`phoenix_pool_connections{function="probe",pool="postgres",state="in_use"}`,
		`phoenix_pool_acquire_wait_seconds_total{function="probe",pool="redis"}`,
	} {
		if !strings.Contains(body.String(), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// newAppDB is a migrated database's URL as the runtime role.
func newAppDB(t *testing.T) string {
	t.Helper()
	return pgtest.Migrated(t).AppURL
}
