package ingest

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/phoenixotel/phoenix/shared/experiment"
)

// BenchmarkServeMetrics is the request path in process (token cached, Redis real), to profile:
//
//	go test -run '^$' -bench ServeMetrics -cpuprofile cpu.out ./functions/ingest
func BenchmarkServeMetrics(b *testing.B) {
	e := newEnv(b, Options{ScopeTTL: time.Minute})
	tenant, exp := e.experiment("acme", `{"critical_processes":["postgres"]}`, experiment.Running)
	tok := e.token(tenant, exp, experiment.Baseline)
	bodies := make([][]byte, 512)
	for i := range bodies {
		bodies[i] = benchScrape(b, exp, i%50, time.Now().Add(time.Duration(i)*time.Second))
	}
	h := e.in.Routes()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			r := httptest.NewRequest(http.MethodPost, "/v1/metrics", bytes.NewReader(bodies[i%len(bodies)]))
			r.Header.Set("Content-Type", contentProto)
			r.Header.Set("Content-Encoding", "gzip")
			r.Header.Set("Authorization", "Bearer "+tok)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d", w.Code)
			}
			i++
		}
	})
	b.ReportMetric(float64(b.N)*2040/b.Elapsed().Seconds(), "datapoints/s")
}

func benchScrape(t testing.TB, exp uuid.UUID, host int, at time.Time) []byte {
	return encode(t, benchMetrics(exp, host, at), false, true)
}

// benchMetrics is one scrape of 170 processes on host: 2,040 datapoints.
func benchMetrics(exp uuid.UUID, host int, at time.Time) pmetric.Metrics {
	md := pmetric.NewMetrics()
	ts := pcommon.NewTimestampFromTime(at)
	for p := range 170 {
		rm := md.ResourceMetrics().AppendEmpty()
		a := rm.Resource().Attributes()
		a.PutStr("host.name", fmt.Sprintf("node-%03d", host))
		a.PutInt("process.pid", int64(1000+p))
		a.PutInt("process.parent_pid", 1)
		a.PutStr("process.executable.name", "postgres")
		a.PutStr("process.executable.path", "/usr/bin/postgres")
		a.PutStr("process.command", "postgres")
		a.PutStr("process.command_line", fmt.Sprintf("/usr/bin/postgres -c %d", p))
		a.PutStr("process.owner", "app")
		a.PutStr("phoenix.experiment.id", exp.String())
		a.PutStr("phoenix.variant", "baseline")
		a.PutStr("phoenix.template", "process-baseline")
		ms := rm.ScopeMetrics().AppendEmpty().Metrics()
		for _, n := range []string{"a", "b", "c", "d"} {
			m := ms.AppendEmpty()
			m.SetName("process." + n)
			g := m.SetEmptyGauge()
			for _, s := range []string{"user", "system", "wait"} {
				dp := g.DataPoints().AppendEmpty()
				dp.SetTimestamp(ts)
				dp.SetDoubleValue(1)
				dp.Attributes().PutStr("state", s)
			}
		}
	}
	return md
}

// BenchmarkMeasureSelfTelemetry is measure over one export of a collector's own telemetry, in
// the real collector's shape: what each collector sends every 5 s besides its output.
//
//	go test -run '^$' -bench MeasureSelfTelemetry -benchmem ./functions/ingest
func BenchmarkMeasureSelfTelemetry(b *testing.B) {
	md := collectorTelemetry(expA, "baseline", counters{name: "node-1", instance: "u-1", at: t0, started: t0.Add(-time.Hour),
		cpu: 12.5, uptime: 3600, accepted: []int64{120000, 50}, refused: []int64{0, 0}, rss: 64 << 20})
	t := tgt(expA, "baseline")
	s := newScratch()
	b.ReportAllocs()
	for b.Loop() {
		measure(md, t, s)
	}
}

// BenchmarkMeasureOutput is measure over one scrape of 170 processes (2,040 datapoints), kept
// whole (by arrival) and split by the window of each point's own time with scrapes told apart
// (as ingest runs with a lateness bound):
//
//	go test -run '^$' -bench MeasureOutput -benchmem ./functions/ingest
func BenchmarkMeasureOutput(b *testing.B) {
	exp := uuid.New()
	md := benchMetrics(exp, 1, time.Now())
	for _, c := range []struct {
		name             string
		window, interval int64
	}{{"whole", 0, 0}, {"by-own-time", 15_000, 10_000}} {
		b.Run(c.name, func(b *testing.B) {
			t := tgt(exp, "baseline", "postgres")
			t.window, t.interval = c.window, c.interval
			s := newScratch()
			b.ReportAllocs()
			for b.Loop() {
				if m := measure(md, t, s); m.datapoints != 2040 {
					b.Fatalf("%d datapoints", m.datapoints)
				}
			}
		})
	}
}
