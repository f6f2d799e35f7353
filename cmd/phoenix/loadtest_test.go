package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/phoenixotel/phoenix/functions/gateway"
	"github.com/phoenixotel/phoenix/shared/auth"
	"github.com/phoenixotel/phoenix/shared/bootstrap"
	"github.com/phoenixotel/phoenix/shared/config"
	"github.com/phoenixotel/phoenix/shared/function"
	"github.com/phoenixotel/phoenix/test/pgtest"
)

// startGateway runs the gateway as deployed (its Service in the function runtime) on a free port
// and returns its address and its configuration.
func startGateway(t *testing.T, env map[string]string) (string, config.Config) {
	t.Helper()
	db := pgtest.Migrated(t)
	keys := filepath.Join(t.TempDir(), "keys.pem")
	if _, err := auth.EnsureDevKeyFile(keys); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"PHOENIX_DATABASE_URL": db.AppURL, "PHOENIX_JWT_KEYS_FILE": keys, "PHOENIX_DRAIN_TIMEOUT": "5s"}
	if a := os.Getenv("REDIS_ADDR"); a != "" {
		vars["PHOENIX_REDIS_URL"] = "redis://" + a + "/0"
	}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	res, err := bootstrap.Open(cfg, slog.New(slog.DiscardHandler), gateway.Needs())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr, started, done := make(chan net.Addr, 1), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- bootstrap.Run(ctx, res, gateway.Service, function.Options{
			Addr: "127.0.0.1:0", Listening: func(a net.Addr) { addr <- a }, Started: func() { close(started) }})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		res.Close()
	})
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("gateway: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("gateway did not start")
	}
	return (<-addr).String(), cfg
}

func TestLoad_MoreThanAThousandConnectionsGetEveryEvent(t *testing.T) {
	addr, cfg := startGateway(t, nil)
	o := loadOptions{connections: 1100, duration: 1500 * time.Millisecond, events: 3, gateway: "ws://" + addr + "/ws",
		sources: 4, concurrency: 32, grace: 10 * time.Second, settle: time.Second}
	var progress bytes.Buffer
	rep, err := runLoad(context.Background(), o, cfg, nil, &progress)
	if err != nil {
		t.Fatalf("runLoad: %v\n%s", err, progress.String())
	}
	var out bytes.Buffer
	rep.write(&out)
	t.Log("\n" + out.String())
	if err := rep.verdict(); err != nil {
		t.Fatal(err)
	}
	// Defaults: one tenant for up to 1000 connections, so two here; 25 connections per subject.
	if rep.Opened != 1100 || rep.Tenants != 2 || rep.Users != 22 || rep.Expected != 3300 || rep.Delivered != 3300 ||
		len(rep.Latency) != 3300 || !rep.MemoryKnown || rep.GatewayConns != 1100 {
		t.Fatalf("report %+v", rep)
	}
	// The gateway's histogram saw exactly the deliveries of the events, and spent CPU on them.
	if n := rep.Fanout[len(rep.Fanout)-1].count; n != 3300 || rep.GatewayCPU <= 0 {
		t.Fatalf("gateway fan-out histogram counted %v deliveries (want 3300), CPU %v s", n, rep.GatewayCPU)
	}
	// The gateway runs in this test's process, whose memory can fall while the connections open
	// (a second -count frees the first's): which memory line is printed is TestLoadReport_MemoryLine's.
	for _, want := range []string{"1100 opened, 0 failed", "3300 of 3300; lost 0", "latency", "gateway memory", "gateway fan-out", "per delivery"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
}

func TestLoad_RetriesRefusalsTheGatewayAsksToRetry(t *testing.T) {
	// A handshake rate of 50/s: 120 connections need retries after 503 with Retry-After.
	addr, cfg := startGateway(t, map[string]string{"PHOENIX_WS_CONNECT_RATE": "50/s"})
	o := loadOptions{connections: 120, duration: 200 * time.Millisecond, events: 1, gateway: "ws://" + addr + "/ws",
		sources: 1, concurrency: 16, grace: 10 * time.Second, distinctTokens: true, settle: time.Second}
	rep, err := runLoad(context.Background(), o, cfg, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.verdict(); err != nil || rep.Opened != 120 {
		t.Fatalf("verdict %v, opened %d", err, rep.Opened)
	}
}

func TestLoad_ReportsFailuresAsAnError(t *testing.T) {
	tests := []struct {
		name string
		rep  loadReport
		want bool
	}{
		{"all delivered", loadReport{Expected: 10, Delivered: 10}, false},
		{"lost", loadReport{Expected: 10, Delivered: 9}, true},
		{"duplicates", loadReport{Expected: 10, Delivered: 10, Duplicates: 1}, true},
		{"failed connections", loadReport{FailedCount: 1}, true},
		{"ended early", loadReport{Ended: 1}, true},
		{"error frames", loadReport{ErrorFrames: 1}, true},
	}
	for _, tt := range tests {
		if got := tt.rep.verdict() != nil; got != tt.want {
			t.Errorf("%s: failed = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestLoadOptions_Validate(t *testing.T) {
	cfg, err := config.Load(func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		o       loadOptions
		wantErr bool
		check   func(o loadOptions) bool
	}{
		{"defaults for 10000", loadOptions{connections: 10000, duration: 10 * time.Second, gateway: "ws://127.0.0.1:8081/ws", sources: 16, concurrency: 64}, false,
			func(o loadOptions) bool {
				return o.events == 10 && o.tenants == 10 && o.users == 40 && o.metrics == "http://127.0.0.1:8081/metrics" &&
					o.redisURL == cfg.RedisURL && o.keysFile == ".phoenix/dev-jwt.pem"
			}},
		{"wss metrics", loadOptions{connections: 5, duration: time.Second, gateway: "wss://gw.example/ws", sources: 1, concurrency: 1}, false,
			func(o loadOptions) bool {
				return o.metrics == "https://gw.example/metrics" && o.tenants == 1 && o.users == 1
			}},
		{"through the API: one tenant", loadOptions{connections: 3000, duration: time.Second, gateway: "ws://x/ws", sources: 1, concurrency: 1, throughAPI: true}, false,
			func(o loadOptions) bool { return o.tenants == 1 && o.users == 120 }},
		{"through the API with tenants", loadOptions{connections: 10, duration: time.Second, gateway: "ws://x/ws", sources: 1, concurrency: 1, throughAPI: true, tenants: 2}, true, nil},
		{"no connections", loadOptions{duration: time.Second, gateway: "ws://x/ws", sources: 1, concurrency: 1}, true, nil},
		{"not a ws URL", loadOptions{connections: 1, duration: time.Second, gateway: "http://x/ws", sources: 1, concurrency: 1}, true, nil},
		{"too many sources", loadOptions{connections: 1, duration: time.Second, gateway: "ws://x/ws", sources: 300, concurrency: 1}, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.validate(cfg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("validate = %v, want error %v", err, tt.wantErr)
			}
			var bad inputError
			if err != nil && !errors.As(err, &bad) {
				t.Fatalf("error %v is not an input error (exit status 2)", err)
			}
			if tt.check != nil && !tt.check(tt.o) {
				t.Fatalf("options after validate: %+v", tt.o)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	xs := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	tests := []struct {
		p    float64
		want time.Duration
	}{{.5, 5}, {.95, 10}, {.99, 10}, {1, 10}, {.1, 1}, {0, 1}}
	for _, tt := range tests {
		if got := percentile(xs, tt.p); got != tt.want {
			t.Errorf("percentile(%v) = %v, want %v", tt.p, got, tt.want)
		}
	}
	if percentile(nil, .5) != 0 {
		t.Error("percentile of nothing is not 0")
	}
}

func TestHistogramQuantile(t *testing.T) {
	inf := math.Inf(1)
	h := []bucket{{.01, 50}, {.05, 90}, {.1, 100}, {inf, 100}}
	tests := []struct {
		name    string
		q       float64
		buckets []bucket
		want    float64
	}{
		{"within the first bucket, from 0", .2, h, .004},
		{"interpolated in the second", .7, h, .01 + .04*20/40},
		{"at a bound", .9, h, .05},
		{"the last finite bucket", .99, h, .05 + .05*9/10},
		{"beyond the finite buckets", .99, []bucket{{.1, 90}, {inf, 100}}, .1},
		{"empty bucket reached exactly", .5, []bucket{{.1, 50}, {.2, 50}, {inf, 100}}, .1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := histogramQuantile(tt.q, tt.buckets); math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("histogramQuantile(%v) = %v, want %v", tt.q, got, tt.want)
			}
		})
	}
	if !math.IsNaN(histogramQuantile(.5, nil)) || !math.IsNaN(histogramQuantile(.5, []bucket{{inf, 0}})) {
		t.Error("a quantile of no observations is not NaN")
	}
}

func TestFanoutSince_SubtractsBucketByBucket(t *testing.T) {
	before := &gatewayMetrics{fanout: []bucket{{.1, 5}, {math.Inf(1), 7}}}
	after := &gatewayMetrics{fanout: []bucket{{.1, 15}, {math.Inf(1), 27}}}
	got := after.fanoutSince(before)
	if len(got) != 2 || got[0].count != 10 || got[1].count != 20 || got[0].le != .1 {
		t.Fatalf("fanoutSince = %v", got)
	}
	if (&gatewayMetrics{fanout: []bucket{{.1, 1}}}).fanoutSince(before) != nil {
		t.Fatal("histograms of different buckets were subtracted")
	}
}

func TestLoadReport_MemoryLine(t *testing.T) {
	tests := []struct {
		name string
		rep  loadReport
		want string
	}{
		{"measured", loadReport{MemoryKnown: true, MemoryCollected: true, HeapPerConn: 8 << 10, RSSPerConn: 11 << 10, GatewayConns: 10},
			"8.0 KB live heap+stacks and 11.0 KB resident per idle connection (10 connections; after a garbage collection)"},
		{"no collection yet", loadReport{MemoryKnown: true, HeapPerConn: 1024, RSSPerConn: 1024},
			"no garbage collection yet, so an upper bound"},
		{"fell while connecting", loadReport{MemoryKnown: true, HeapPerConn: 1024, RSSPerConn: -2048},
			"not measurable: the process's memory fell"},
		{"no metrics", loadReport{}, "unknown (its /metrics could not be read)"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		tt.rep.write(&out)
		if !strings.Contains(out.String(), tt.want) {
			t.Errorf("%s: report lacks %q:\n%s", tt.name, tt.want, out.String())
		}
	}
}

func TestFrameFields(t *testing.T) {
	frame := []byte(`{"type":"event","seq":42,"data":{"experiment_id":"abc-1","sent_ns":17,"to":"x"}}`)
	numbers := []struct {
		key  string
		want uint64
		ok   bool
	}{
		{`"seq":`, 42, true},
		{`"sent_ns":`, 17, true},
		{`"to":`, 0, false}, // a string, not a number
		{`"missing":`, 0, false},
	}
	for _, tt := range numbers {
		if got, ok := numberAfter(frame, tt.key); got != tt.want || ok != tt.ok {
			t.Errorf("numberAfter(%s) = %d, %v; want %d, %v", tt.key, got, ok, tt.want, tt.ok)
		}
	}
	strs := []struct {
		frame, key, want string
		ok               bool
	}{
		{string(frame), `"experiment_id":"`, "abc-1", true},
		{string(frame), `"missing":"`, "", false},
		{`{"experiment_id":"unterminated`, `"experiment_id":"`, "", false},
	}
	for _, tt := range strs {
		if got, ok := stringAfter([]byte(tt.frame), tt.key); got != tt.want || ok != tt.ok {
			t.Errorf("stringAfter(%s, %s) = %q, %v; want %q, %v", tt.frame, tt.key, got, ok, tt.want, tt.ok)
		}
	}
}
