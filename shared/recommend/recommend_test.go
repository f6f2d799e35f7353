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
	var input []pmetric.Metrics
	for s := range 6 {
		md := hostmetrics.Scrape(time.Unix(int64(1000+10*s), 0), procs...)
		b, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
		if err != nil {
			t.Fatal(err)
		}
		bodies, input = append(bodies, b), append(input, md)
	}
	in := preview.Summarize(input, 0)
	critical := []string{"postgres", "nginx"}
	previewOf := replayer(bin, bodies, in, critical, 0)
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
	if len(recs) != 2 || recs[0].Name != "without process.cpu.time" || recs[1].Name != "without process.memory.usage" {
		t.Errorf("recommended %d: %v", len(recs), recs)
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
		input := make([]pmetric.Metrics, 0, len(bodies))
		for _, body := range bodies {
			md, _ := (&pmetric.ProtoUnmarshaler{}).UnmarshalMetrics(body)
			input = append(input, md)
		}
		in := preview.Summarize(input, 15*time.Second)
		previewOf := replayer(bin, bodies, in, critical, 15*time.Second)
		cands := Candidates(in, critical, "10s")
		recs, _, err := Rank(context.Background(), cands, previewOf, Usage{})
		if err != nil || len(recs) == 0 {
			b.Fatalf("%d recommendations of %d candidates: %v", len(recs), len(cands), err)
		}
	}
}

// replayer previews a choice on bodies with the real collector, as the API does (window: the KPI
// window series are counted per; 0 counts them over the whole capture).
func replayer(bin *distribution.Binary, bodies [][]byte, in preview.Summary, critical []string, window time.Duration) Previewer {
	return func(ctx context.Context, c store.PipelineChoice) (preview.Result, error) {
		req := c.Request(critical)
		req.ExperimentID, req.Variant, req.Target, req.Output = uuid.New(), "candidate", pipeline.Local, pipeline.Output{Endpoint: "http://127.0.0.1:1"}
		cfg, err := pipeline.Render(req)
		if err != nil {
			return preview.Result{}, err
		}
		out, err := preview.Run(ctx, bin, cfg, bodies)
		if err != nil {
			return preview.Result{}, err
		}
		return preview.Compare(in, preview.Summarize(out, window), in.Span(10*time.Second).Seconds(), critical, experiment.Prices{SeriesMonth: 0.008}), nil
	}
}
