package function

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoenixotel/phoenix/shared/events"
)

func TestMetrics_RouteLabelsAreBoundedPatternsAndKnownEventTypes(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/things/{id}", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("thing")) })
	base, _ := running(t, Service{Name: "probe", Events: echoHandler(), HTTP: mux})
	waitReady(t, base)

	for _, id := range []string{"4b0c6f0e-1111", "9d2a7c3e-2222"} {
		if code, _ := get(t, base+"/v1/things/"+id); code != http.StatusOK {
			t.Fatalf("GET /v1/things/%s = %d", id, code)
		}
	}
	resp, err := http.Post(base+"/v1/things/4b0c6f0e-1111", "text/plain", nil) // no POST route: 405
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	postBinary(t, base, "e-1", events.ExperimentStarted, []byte(`{}`))
	postBinary(t, base, "e-2", "attacker.invented.type.12345", []byte(`{}`))
	garbage, err := http.Post(base+"/", "application/json", strings.NewReader(`{"not":"an event"}`))
	if err != nil {
		t.Fatal(err)
	}
	garbage.Body.Close()

	tests := []struct {
		name string
		line string
	}{
		{"a pattern, not the ids", `phoenix_function_requests_total{code="200",function="probe",kind="http",route="GET /v1/things/{id}"} 2`},
		{"no pattern matched", `phoenix_function_requests_total{code="405",function="probe",kind="http",route="unmatched"} 1`},
		{"a catalog event type", `phoenix_function_requests_total{code="200",function="probe",kind="event",route="` + events.ExperimentStarted + `"} 1`},
		{"an unknown event type", `phoenix_function_requests_total{code="200",function="probe",kind="event",route="other"} 1`},
		{"not a CloudEvent", `phoenix_function_requests_total{code="400",function="probe",kind="event",route="invalid"} 1`},
		{"the 100 ms bucket exists", `phoenix_function_request_duration_seconds_bucket{function="probe",kind="http",route="GET /v1/things/{id}",le="0.1"}`},
		{"nothing in flight once answered", `phoenix_function_requests_in_flight{function="probe",kind="http"} 0`},
		{"build info", `go_build_info{`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { waitMetrics(t, base, tt.line) })
	}
	_, body := get(t, base+"/metrics")
	for _, leak := range []string{"4b0c6f0e", "9d2a7c3e", "attacker.invented"} {
		if strings.Contains(body, leak) {
			t.Errorf("an unbounded value %q became a label:\n%s", leak, body)
		}
	}
}

func TestMetrics_InFlightCountsWhileHandling(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	base, _ := running(t, Service{Name: "probe", HTTP: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
	})})
	waitReady(t, base)
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := http.Get(base + "/slow")
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	waitMetrics(t, base, `phoenix_function_requests_in_flight{function="probe",kind="http"} 1`)
	close(release)
	<-done
	waitMetrics(t, base, `phoenix_function_requests_in_flight{function="probe",kind="http"} 0`)
}

func TestMetrics_ReadyFollowsTheReadinessCheck(t *testing.T) {
	var broken atomic.Bool
	reg := prometheus.NewRegistry()
	base, stop := running(t, Service{Name: "probe", Registry: reg, Ready: func(context.Context) error {
		if broken.Load() {
			return errors.New("database unreachable")
		}
		return nil
	}})
	waitReady(t, base)
	ready := func() float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == MetricReady {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatalf("%s not registered", MetricReady)
		return -1
	}
	steps := []struct {
		name   string
		broken bool
		want   float64
	}{
		{"dependencies answer", false, 1},
		{"a dependency fails", true, 0},
		{"it recovers", false, 1},
	}
	for _, s := range steps {
		broken.Store(s.broken)
		_, _ = get(t, base+"/readyz")
		if got := ready(); got != s.want {
			t.Fatalf("%s: %s = %v, want %v", s.name, MetricReady, got, s.want)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// gathered collects c through a registry, as a scrape does: metric name -> its series, each as
// "label=value,..." (sorted by the registry) -> value.
func gathered(t *testing.T, c prometheus.Collector) map[string]map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]float64{}
	for _, mf := range mfs {
		series := map[string]float64{}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			series[strings.Join(labels, ",")] = v
		}
		out[mf.GetName()] = series
	}
	return out
}

func TestPoolCollector_ExportsTheStatsItReads(t *testing.T) {
	stats := PoolStats{Max: 10, Idle: 3, InUse: 5, Acquires: 120, Waits: 7, WaitTime: 1500 * time.Millisecond, Failures: 2}
	c := NewPoolCollector("api", "postgres", func() PoolStats { return stats })
	const l = "function=api,pool=postgres"
	want := map[string]map[string]float64{
		MetricPoolConnections:    {l + ",state=idle": 3, l + ",state=in_use": 5},
		MetricPoolMaxConnections: {l: 10},
		MetricPoolAcquires:       {l: 120},
		MetricPoolWaits:          {l: 7},
		MetricPoolWaitSeconds:    {l: 1.5},
		MetricPoolFailures:       {l: 2},
	}
	got := gathered(t, c)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("collected\n%v\nwant\n%v", got, want)
	}
	stats.InUse, stats.Acquires = 0, 121 // read again at the next scrape, not cached
	got = gathered(t, c)
	if got[MetricPoolAcquires][l] != 121 || got[MetricPoolConnections][l+",state=in_use"] != 0 {
		t.Fatalf("after a change: %v", got)
	}
}

func TestDependencyCollector_DownWhenFailingOrTooSlow(t *testing.T) {
	c := NewDependencyCollector("api", 50*time.Millisecond, map[string]func(context.Context) error{
		"postgres": func(context.Context) error { return nil },
		"redis":    func(context.Context) error { return errors.New("connection refused") },
		"slow": func(ctx context.Context) error {
			<-ctx.Done() // never answers within the scrape's bound
			return ctx.Err()
		},
	})
	got := gathered(t, c)
	want := map[string]float64{"dependency=postgres,function=api": 1, "dependency=redis,function=api": 0, "dependency=slow,function=api": 0}
	if fmt.Sprint(got[MetricDependencyUp]) != fmt.Sprint(want) {
		t.Fatalf("%s = %v, want %v", MetricDependencyUp, got[MetricDependencyUp], want)
	}
	if n := len(got[MetricDependencyDuration]); n != 3 {
		t.Fatalf("%s has %d series, want 3", MetricDependencyDuration, n)
	}
}
