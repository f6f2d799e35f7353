package recommend

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/phoenixotel/phoenix/shared/distribution"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/pipeline"
	"github.com/phoenixotel/phoenix/shared/preview"
	"github.com/phoenixotel/phoenix/shared/store"
	"github.com/phoenixotel/phoenix/test/collector"
	"github.com/phoenixotel/phoenix/test/hostmetrics"
)

// TestRank_KeepsCriticalAndUsedSeriesAndRanksBySaving recommends for 40 processes scraped six
// times, two of them critical, with a dashboard that uses process.threads: every candidate is
// previewed with the real collector; none recommended loses a critical process or a thread series.
func TestRank_KeepsCriticalAndUsedSeriesAndRanksBySaving(t *testing.T) {
	bin := distribution.New(collector.Binary(t))
	procs := []string{"postgres", "nginx"}
	for i := range 38 {
		procs = append(procs, "batch-"+strconv.Itoa(i))
	}
	var bodies [][]byte
	for s := range 6 {
		b, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(hostmetrics.Scrape(time.Unix(int64(1000+10*s), 0), procs...))
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, b)
	}
	capture, err := preview.NewCapture(bodies, 10*time.Second, 0)
	if err != nil {
		t.Fatal(err)
	}
	in := capture.In
	critical := []string{"postgres", "nginx"}
	previewOf := replayer(bin, capture, critical)
	dashboard, err := FromDashboard([]byte(`{"panels": [{"targets": [{"expr": "sum by (process_executable_name) (process_threads)"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	cands := Candidates(in, critical, "10s")
	recs, rejected, err := Rank(context.Background(), cands, previewOf, dashboard)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) == 0 || len(recs)+len(rejected) != len(cands) {
		t.Fatalf("%d recommended and %d rejected of %d candidates: %+v", len(recs), len(rejected), len(cands), rejected)
	}
	for i, r := range recs {
		if r.Rank != i+1 || (i > 0 && r.Preview.Predicted.CostPerHour < recs[i-1].Preview.Predicted.CostPerHour) {
			t.Errorf("rank %d: %s at $%.4f/h, after $%.4f/h", r.Rank, r.Name, r.Preview.Predicted.CostPerHour, recs[max(0, i-1)].Preview.Predicted.CostPerHour)
		}
		if len(r.Preview.Dropped.Critical) > 0 || *r.Preview.Predicted.CriticalCoverage != 1 {
			t.Errorf("%s loses critical processes %v", r.Name, r.Preview.Dropped.Critical)
		}
		if r.Preview.Output.Metrics["process.threads"] != in.Metrics["process.threads"] {
			t.Errorf("%s keeps %d of %d thread series, which the dashboard uses", r.Name, r.Preview.Output.Metrics["process.threads"], in.Metrics["process.threads"])
		}
		if !strings.Contains(r.Explanation, " series (") || !strings.Contains(r.Explanation, "a month") {
			t.Errorf("explanation %q", r.Explanation)
		}
	}
	reasons := map[string]string{}
	for _, r := range rejected {
		reasons[r.Name] = r.Reason
	}
	// Every top-k, the aggregation and critical-only drop or merge thread series of some
	// processes, which the dashboard uses; dropping another metric keeps them.
	for _, name := range []string{"top 5 processes by CPU", "top 10 processes by memory", "other processes summed per owner", "critical processes only"} {
		if !strings.Contains(reasons[name], "process.threads, which your dashboards or rules use") {
			t.Errorf("%s: rejected for %q", name, reasons[name])
		}
	}
	var names []string
	for _, r := range recs {
		names = append(names, r.Name)
	}
	if strings.Join(names, "; ") != "without process.cpu.time; process.cpu.time summed over state; without process.memory.usage" {
		t.Errorf("recommended %q", names)
	}
	// Summed over its state, CPU time keeps one series per process, and every datapoint's time.
	if out := recs[1].Preview.Output; out.Metrics["process.cpu.time"] != len(procs) || len(out.PointAttributes["process.cpu.time"]) != 0 ||
		recs[1].Preview.Dropped.Reduced["process.cpu.time"] != len(procs) {
		t.Errorf("summed over state: %d CPU time series, attributes %v, reduced %v", out.Metrics["process.cpu.time"],
			out.PointAttributes["process.cpu.time"], recs[1].Preview.Dropped.Reduced)
	}
	t.Logf("recommended: %d; first: %s", len(recs), recs[0].Explanation)

	// Without the dashboard, the cheapest keeps the two critical processes only.
	recs, _, err = Rank(context.Background(), cands, previewOf, Usage{})
	if err != nil {
		t.Fatal(err)
	}
	if recs[0].Name != "critical processes only" || recs[0].Preview.Change["series"] > -0.9 {
		t.Errorf("without usage the first is %s (%v)", recs[0].Name, recs[0].Preview.Change)
	}
}

// BenchmarkRecommend_1MDatapoints recommends for a capture of a million datapoints (500 requests
// of 500 processes, 2,000 datapoints each): the input summarized once, then every candidate
// previewed with the real collector, checked and ranked:
//
//	go test -run '^$' -bench Recommend_1M -benchtime 2x ./shared/recommend
func BenchmarkRecommend_1MDatapoints(b *testing.B) {
	bin := distribution.New(collector.Binary(b))
	procs := make([]string, 500)
	for i := range procs {
		procs[i] = "proc-" + strconv.Itoa(i)
	}
	var bodies [][]byte
	for s := range 500 {
		raw, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(hostmetrics.Scrape(time.Unix(int64(1000+10*s), 0), procs...))
		if err != nil {
			b.Fatal(err)
		}
		bodies = append(bodies, raw)
	}
	critical := []string{"proc-1"}
	b.ResetTimer()
	for b.Loop() {
		capture, err := preview.NewCapture(bodies, 10*time.Second, 15*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		cands := Candidates(capture.In, critical, "10s")
		recs, _, err := Rank(context.Background(), cands, replayer(bin, capture, critical), Usage{})
		if err != nil || len(recs) < 2 || recs[0].Preview.Sample != nil || recs[1].Preview.Sample == nil {
			b.Fatalf("%d recommendations of %d candidates, the first not previewed whole or the second not screened: %v", len(recs), len(cands), err)
		}
	}
}

// replayer previews a choice on the capture (or its screening part) with the real collector, as
// the API does.
func replayer(bin *distribution.Binary, capture *preview.Capture, critical []string) Previewer {
	return func(ctx context.Context, c store.PipelineChoice, screen bool) (preview.Result, error) {
		req := c.Request(critical)
		req.ExperimentID, req.Variant, req.Target, req.Output = uuid.New(), "candidate", pipeline.Local, pipeline.Output{Endpoint: "http://127.0.0.1:1"}
		cfg, err := pipeline.Render(req)
		if err != nil {
			return preview.Result{}, err
		}
		if screen {
			return capture.Screen().Preview(ctx, bin, cfg, critical, experiment.Prices{SeriesMonth: 0.008})
		}
		return capture.Preview(ctx, bin, cfg, critical, experiment.Prices{SeriesMonth: 0.008})
	}
}

// TestRank_ScreensOnAPartAndConfirmsTheBestOnTheWhole recommends for a capture larger than a
// screening (154,500 datapoints): every candidate is screened on four runs of its requests, the best
// is previewed on all of it. The capture's thread counts appear only between the runs: the
// screening cannot see that every process-dropping candidate loses some, the whole capture does,
// so each is rejected when confirmed, and the next takes its place.
func TestRank_ScreensOnAPartAndConfirmsTheBestOnTheWhole(t *testing.T) {
	bin := distribution.New(collector.Binary(t))
	procs := []string{"postgres"}
	for i := range 499 {
		procs = append(procs, "batch-"+strconv.Itoa(i))
	}
	var bodies [][]byte
	for s := range 100 {
		md := hostmetrics.Scrape(time.Unix(int64(1000+10*s), 0), procs...)
		if s < 18 || s > 26 { // the runs screened are requests 0-15, 28-43, 56-71 and 84-99
			rms := md.ResourceMetrics()
			for i := range rms.Len() {
				rms.At(i).ScopeMetrics().At(0).Metrics().RemoveIf(func(m pmetric.Metric) bool { return m.Name() == "process.threads" })
			}
		}
		b, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, b)
	}
	capture, err := preview.NewCapture(bodies, 10*time.Second, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if s := capture.Screen(); s == capture || s.In.Datapoints > preview.ScreenDatapoints || s.In.Metrics["process.threads"] != 0 {
		t.Fatalf("the screening part holds %d datapoints and %d thread series", s.In.Datapoints, s.In.Metrics["process.threads"])
	}
	critical := []string{"postgres"}
	cands := Candidates(capture.In, critical, "10s")
	dashboard, err := FromDashboard([]byte(`{"panels": [{"targets": [{"expr": "process_threads"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	recs, rejected, err := Rank(context.Background(), cands, replayer(bin, capture, critical), dashboard)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range recs {
		names = append(names, r.Name)
	}
	if recs[0].Preview.Sample != nil {
		t.Errorf("the first, %s, was not previewed on the whole capture: %+v", recs[0].Name, recs[0].Preview.Sample)
	}
	if strings.Join(names, ", ") != "without process.cpu.time, process.cpu.time summed over state, without process.memory.usage" {
		t.Errorf("recommended %v", names)
	}
	for _, r := range rejected {
		if !strings.Contains(r.Reason, "process.threads") {
			t.Errorf("%s rejected for %q, want the thread series the whole capture shows", r.Name, r.Reason)
		}
	}
	if len(rejected) != len(cands)-3 {
		t.Errorf("%d rejected of %d", len(rejected), len(cands))
	}

	// Without the dashboard: the best previewed whole, the rest as screened, and saying so.
	recs, _, err = Rank(context.Background(), cands, replayer(bin, capture, critical), Usage{})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		screened := r.Preview.Sample != nil
		if screened != (i >= 1) || screened != strings.Contains(r.Explanation, "screened on 64 of the capture's 100 requests") {
			t.Errorf("rank %d, %s: sample %+v, %q", r.Rank, r.Name, r.Preview.Sample, r.Explanation)
		}
		if i > 0 && r.Preview.Change["cost_per_hour"] < recs[i-1].Preview.Change["cost_per_hour"] {
			t.Errorf("rank %d saves more than rank %d", r.Rank, r.Rank-1)
		}
	}
	if len(recs) != len(cands) || recs[0].Name != "critical processes only" {
		t.Errorf("%d recommended of %d, first %s", len(recs), len(cands), recs[0].Name)
	}
}
