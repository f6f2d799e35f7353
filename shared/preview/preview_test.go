package preview

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/phoenixotel/phoenix/shared/distribution"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/pipeline"
	"github.com/phoenixotel/phoenix/test/collector"
	"github.com/phoenixotel/phoenix/test/hostmetrics"
)

// independentSeries counts series the plain way: the printed raw maps (fmt sorts map keys).
func independentSeries(reqs []pmetric.Metrics, keep func(process string) bool) (int, int64) {
	seen := map[string]bool{}
	var points int64
	for _, md := range reqs {
		for i := range md.ResourceMetrics().Len() {
			rm := md.ResourceMetrics().At(i)
			name, _ := rm.Resource().Attributes().Get("process.executable.name")
			if !keep(name.Str()) {
				continue
			}
			raw := rm.Resource().Attributes().AsRaw()
			ms := rm.ScopeMetrics().At(0).Metrics()
			for k := range ms.Len() {
				forEachPoint(ms.At(k), func(a pcommon.Map, _ pcommon.Timestamp) {
					points++
					seen[fmt.Sprint(raw, "|", ms.At(k).Name(), "|", a.AsRaw())] = true
				})
			}
		}
	}
	return len(seen), points
}

func TestSummarize_CountsSeriesAsABackendDoes(t *testing.T) {
	reqs := []pmetric.Metrics{hostmetrics.Scrape(time.Unix(100, 0), "postgres", "nginx"), hostmetrics.Scrape(time.Unix(110, 0), "postgres", "nginx", "cron")}
	s := Summarize(reqs, 0)
	// Two 10 s windows: 2 processes × 4 series, then 3 × 4; the series KPI of each, on average, is 10.
	if w := Summarize(reqs, 10*time.Second); w.SeriesPerWindow != 10 || w.Series != 12 || w.Bytes != s.Bytes {
		t.Fatalf("per window: %+v", w)
	}
	series, points := independentSeries(reqs, func(string) bool { return true })
	if s.Series != series || s.Datapoints != points || series != 12 || points != 20 {
		t.Fatalf("summary %d series %d points; independent count %d and %d; want 12 and 20", s.Series, s.Datapoints, series, points)
	}
	if fmt.Sprint(s.Processes) != "[cron nginx postgres]" || s.Metrics["process.cpu.time"] != 6 || s.Bytes <= 0 || s.Span(10*time.Second) != 20*time.Second {
		t.Fatalf("summary %+v", s)
	}
	out := Summarize([]pmetric.Metrics{hostmetrics.Scrape(time.Unix(100, 0), "postgres", "cron")}, 0)
	r := Compare(s, out, 20, []string{"postgres", "nginx", "mysqld"}, experiment.Prices{SeriesMonth: 0.73}) // unsorted on purpose
	if fmt.Sprint(r.Dropped.Processes) != "[nginx]" || fmt.Sprint(r.Dropped.Critical) != "[nginx]" || r.Dropped.Series != 4 ||
		*r.Measured.CriticalCoverage != 1 || *r.Predicted.CriticalCoverage != 0.5 || r.Change["series"] != -4.0/12 ||
		r.Measured.CostPerHour != 12*0.73/experiment.HoursPerMonth || r.Predicted.DatapointsPerSecond != 8.0/20 {
		t.Fatalf("compare: %+v", r)
	}
}

// TestRun_ThePredictedOutputIsWhatTheRealCollectorMakes replays scrapes through pipelines with
// the real collector: a custom filter and the top-k template. The predicted series equal an
// independent count over the same input with the pipeline's rule applied.
func TestRun_ThePredictedOutputIsWhatTheRealCollectorMakes(t *testing.T) {
	bin := distribution.New(collector.Binary(t))
	var bodies [][]byte
	var input []pmetric.Metrics
	procs := []string{"postgres", "nginx"}
	for i := range 20 {
		procs = append(procs, "worker-"+strconv.Itoa(i))
	}
	for s := range 5 {
		md := hostmetrics.Scrape(time.Unix(int64(1000+10*s), 0), procs...)
		input = append(input, md)
		b, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, b)
	}
	render := func(r pipeline.Request) []byte {
		r.ExperimentID, r.Variant, r.Target = uuid.New(), "candidate", pipeline.Local
		r.Output = pipeline.Output{Endpoint: "http://127.0.0.1:1", Headers: pipeline.IngestHeaders()}
		cfg, err := pipeline.Render(r)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	workers := &pipeline.Custom{Processors: []pipeline.Processor{{Name: "filter/workers", Config: map[string]any{"error_mode": "ignore",
		"metrics": map[string]any{"resource": []any{`IsMatch(resource.attributes["process.executable.name"], "^worker-.*")`}}}}}}
	out, err := Run(context.Background(), bin, render(pipeline.Request{Template: pipeline.CustomTemplate, Custom: workers}), bodies)
	if err != nil {
		t.Fatal(err)
	}
	got := Summarize(out, 0)
	series, points := independentSeries(input, func(p string) bool { return p == "postgres" || p == "nginx" })
	if got.Series != series || got.Datapoints != points || fmt.Sprint(got.Processes) != "[nginx postgres]" {
		t.Fatalf("the filter's output: %d series, %d datapoints, processes %v; an independent count gives %d and %d over postgres and nginx",
			got.Series, got.Datapoints, got.Processes, series, points)
	}
	r := Compare(Summarize(input, 0), got, 50, []string{"postgres"}, experiment.Prices{SeriesMonth: 0.008})
	if len(r.Dropped.Processes) != 20 || len(r.Dropped.Critical) != 0 || r.Change["series"] >= -0.9 {
		t.Fatalf("compare: dropped %v, critical %v, change %v", r.Dropped.Processes, r.Dropped.Critical, r.Change)
	}

	topk, err := Run(context.Background(), bin, render(pipeline.Request{Template: "process-topk",
		Params: map[string]string{"k": "3", "by": "memory", "critical_processes": "postgres"}}), bodies)
	if err != nil {
		t.Fatal(err)
	}
	if s := Summarize(topk, 0); len(s.Processes) < 2 || len(s.Processes) > 4 || !slices.Contains(s.Processes, "postgres") {
		t.Fatalf("top 3 by memory plus postgres kept %v", s.Processes)
	}
}

// BenchmarkPreview_1MDatapoints previews a capture of a million datapoints (500 requests of 500
// processes, 2,000 datapoints each) through the top-k template with the real collector, as the
// API does: the capture decoded and summarized, replayed, the output summarized and compared,
// examples of the dropped series named:
//
//	go test -run '^$' -bench Preview_1M -benchtime 3x ./shared/preview
func BenchmarkPreview_1MDatapoints(b *testing.B) {
	bin := distribution.New(collector.Binary(b))
	procs := make([]string, 500)
	for i := range procs {
		procs[i] = "proc-" + strconv.Itoa(i)
	}
	bodies := make([][]byte, 500)
	for s := range bodies {
		raw, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(hostmetrics.Scrape(time.Unix(int64(1000+10*s), 0), procs...))
		if err != nil {
			b.Fatal(err)
		}
		bodies[s] = raw
	}
	cfg, err := pipeline.Render(pipeline.Request{Template: "process-topk", Params: map[string]string{"k": "10"}, ExperimentID: uuid.New(),
		Variant: "candidate", Target: pipeline.Local, Output: pipeline.Output{Endpoint: "http://127.0.0.1:1"}})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		c, err := NewCapture(bodies, 10*time.Second, 15*time.Second)
		if err != nil || c.In.Datapoints != 1_000_000 {
			b.Fatalf("%d datapoints in: %v", c.In.Datapoints, err)
		}
		r, err := c.Preview(context.Background(), bin, cfg, nil, experiment.Prices{SeriesMonth: 0.008})
		if err != nil || len(r.Dropped.Examples) == 0 {
			b.Fatalf("preview: %v (%d examples)", err, len(r.Dropped.Examples))
		}
	}
}

// TestStatedErrors_TheFloorPlusTwiceTheSpreadOfTheWindowsChanges: a window's change, output over
// input, varies over the capture; the stated error is ErrorFloor plus twice its standard
// deviation. A window the pipeline emptied counts as −100%.
func TestStatedErrors_TheFloorPlusTwiceTheSpreadOfTheWindowsChanges(t *testing.T) {
	in := Summary{Window: 10 * time.Second, Windows: map[int64]WindowCount{}}
	out := Summary{Window: 10 * time.Second, Windows: map[int64]WindowCount{}}
	for i, s := range []int{50, 50, 60, 40} {
		in.Windows[int64(i)] = WindowCount{Series: 100, Datapoints: 200}
		out.Windows[int64(i)] = WindowCount{Series: s, Datapoints: 100}
	}
	got := statedErrors(in, out, experiment.Prices{SeriesMonth: 0.73})
	// Series changes −50, −50, −40, −60%: sample standard deviation √(0.02/3); datapoints all −50%.
	want := map[string]float64{"series": ErrorFloor + 2*math.Sqrt(0.02/3), "datapoints_per_second": ErrorFloor, "cost_per_hour": ErrorFloor + 2*math.Sqrt(0.02/3)}
	for m, w := range want {
		if math.Abs(got[m]-w) > 1e-12 {
			t.Errorf("%s: stated error %v, want %v", m, got[m], w)
		}
	}
	delete(out.Windows, 3)
	if e := statedErrors(in, out, experiment.Prices{SeriesMonth: 0.73})["series"]; e < 0.4 {
		t.Errorf("an emptied window (−100%%) widens the error to %v", e)
	}
	if statedErrors(Summary{}, out, experiment.Prices{}) != nil {
		t.Error("a summary without windows states no error")
	}
	// Compare states them, and counts the series change per window.
	r := Compare(Summary{Series: 200, SeriesPerWindow: 100, Window: in.Window, Windows: in.Windows}, Summary{Series: 80, SeriesPerWindow: 50},
		40, nil, experiment.Prices{SeriesMonth: 0.73})
	if r.Change["series"] != -0.5 || r.Error["series"] == 0 {
		t.Errorf("compare: change %v, error %v", r.Change, r.Error)
	}
}

// TestPreview_NamesTheSeriesAPipelineDrops replays scrapes with the real collector through a
// filter that keeps two processes of six: the examples name series of the other four, never a
// kept one (though the pipeline adds its phoenix.* identity to every series), three for each
// metric; and the capture's distinct attribute values are counted.
func TestPreview_NamesTheSeriesAPipelineDrops(t *testing.T) {
	bin := distribution.New(collector.Binary(t))
	procs := []string{"postgres", "nginx", "worker-1", "worker-2", "worker-3", "worker-4"}
	var bodies [][]byte
	for s := range 4 {
		b, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(hostmetrics.Scrape(time.Unix(int64(1000+10*s), 0), procs...))
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, b)
	}
	c, err := NewCapture(bodies, 10*time.Second, 0)
	if err != nil {
		t.Fatal(err)
	}
	if c.In.AttributeValues["process.executable.name"] != 6 || c.In.AttributeValues["state"] != 2 {
		t.Fatalf("attribute values %v", c.In.AttributeValues)
	}
	custom := &pipeline.Custom{Processors: []pipeline.Processor{{Name: "filter/workers", Config: map[string]any{"error_mode": "ignore",
		"metrics": map[string]any{"resource": []any{`IsMatch(resource.attributes["process.executable.name"], "^worker-.*")`}}}}}}
	cfg, err := pipeline.Render(pipeline.Request{Template: pipeline.CustomTemplate, Custom: custom, ExperimentID: uuid.New(), Variant: "candidate",
		Target: pipeline.Local, Output: pipeline.Output{Endpoint: "http://127.0.0.1:1", Headers: pipeline.IngestHeaders()}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Preview(context.Background(), bin, cfg, nil, experiment.Prices{SeriesMonth: 0.008})
	if err != nil {
		t.Fatal(err)
	}
	perMetric := map[string]int{}
	for _, e := range r.Dropped.Examples {
		metric, _, _ := strings.Cut(e, "{")
		perMetric[metric]++
		if !strings.Contains(e, `process.executable.name="worker-`) || strings.Contains(e, "phoenix.") {
			t.Errorf("example %q: not a dropped worker's series", e)
		}
	}
	// Every metric lost the workers' series; three examples each.
	if len(perMetric) != 3 || perMetric["process.cpu.time"] != ExamplesPerMetric || perMetric["process.threads"] != ExamplesPerMetric {
		t.Errorf("examples per metric %v: %q", perMetric, r.Dropped.Examples)
	}
}
