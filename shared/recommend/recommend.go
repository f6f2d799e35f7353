// Package recommend proposes cheaper pipelines for what a baseline really sends: candidates drawn
// from a capture's cardinality (which processes and metrics cost the most), each previewed on the
// capture with the real collector, kept only when it loses no critical process and no series a
// team's dashboards or alerts use, ranked by predicted cost, and explained in a sentence with its
// numbers. The experiment that confirms a recommendation is one command away.
package recommend

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/phoenixotel/phoenix/shared/pipeline"
	"github.com/phoenixotel/phoenix/shared/preview"
	"github.com/phoenixotel/phoenix/shared/store"
)

// Candidate is a pipeline worth previewing.
type Candidate struct {
	Name   string               `json:"name"`   // short, e.g. "top 10 processes by CPU"
	What   string               `json:"what"`   // what it does, in words
	Choice store.PipelineChoice `json:"choice"` // the pipeline, as an experiment takes it
}

// Candidates proposes pipelines for a capture summarized as in: the top-k template at a few sizes
// when the host runs more processes than that, the owner aggregation, the critical-only template
// when critical processes are named, dropping each of the two metrics with the most series, and
// summing each of the two costliest metrics split by datapoint attributes over them.
// Every candidate scrapes at the baseline's interval, so a comparison is fair.
func Candidates(in preview.Summary, critical []string, interval string) []Candidate {
	params := func(kv ...string) map[string]any {
		m := map[string]any{"collection_interval": interval}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	var out []Candidate
	for _, k := range []int{5, 10, 20} {
		if len(in.Processes) > k+len(critical) {
			n := strconv.Itoa(k)
			out = append(out, Candidate{Name: "top " + n + " processes by CPU",
				What:   "keeps the " + n + " busiest processes of each scrape, and every critical process",
				Choice: store.PipelineChoice{Template: "process-topk", Parameters: params("k", n, "by", "cpu")}})
		}
	}
	if len(in.Processes) > 10+len(critical) {
		out = append(out, Candidate{Name: "top 10 processes by memory", What: "keeps the 10 largest processes of each scrape, and every critical process",
			Choice: store.PipelineChoice{Template: "process-topk", Parameters: params("k", "10", "by", "memory")}})
	}
	out = append(out, Candidate{Name: "other processes summed per owner",
		What:   "keeps critical processes one by one and sums every other process into one set of series per owner",
		Choice: store.PipelineChoice{Template: "process-aggregated", Parameters: params()}})
	if len(critical) > 0 {
		out = append(out, Candidate{Name: "critical processes only", What: "keeps only the critical processes, with CPU time and memory usage",
			Choice: store.PipelineChoice{Template: "process-minimal", Parameters: params()}})
	}
	metrics := make([]string, 0, len(in.Metrics))
	for m := range in.Metrics {
		metrics = append(metrics, m)
	}
	slices.SortFunc(metrics, func(a, b string) int { return cmp.Or(cmp.Compare(in.Metrics[b], in.Metrics[a]), strings.Compare(a, b)) })
	for _, m := range metrics[:min(2, len(metrics))] {
		share := 100 * float64(in.Metrics[m]) / float64(max(1, in.Series))
		out = append(out, Candidate{Name: "without " + m, What: fmt.Sprintf("drops %s (%.0f%% of the series)", m, share),
			Choice: store.PipelineChoice{Template: pipeline.CustomTemplate, Parameters: params(), Custom: &pipeline.Custom{Processors: []pipeline.Processor{{
				Name: "filter/drop-" + slug(m), Config: map[string]any{"error_mode": "ignore",
					"metrics": map[string]any{"metric": []any{"metric.name == " + strconv.Quote(m)}}}}}}}})
	}
	// A metric split by datapoint attributes (CPU time by state, say) costs a series per value;
	// summed over them it costs one per resource.
	summed := 0
	for _, m := range metrics {
		keys := in.PointAttributes[m]
		if len(keys) == 0 || summed == 2 {
			continue
		}
		summed++
		share := 100 * float64(in.Metrics[m]) / float64(max(1, in.Series))
		out = append(out, Candidate{Name: m + " summed over " + strings.Join(keys, ", "),
			What: fmt.Sprintf("sums %s (%.0f%% of the series) over its %s, one series per resource", m, share, strings.Join(keys, ", ")),
			Choice: store.PipelineChoice{Template: pipeline.CustomTemplate, Parameters: params(), Custom: &pipeline.Custom{Processors: []pipeline.Processor{{
				Name: "metrics_transform/sum-" + slug(m), Config: map[string]any{"transforms": []any{map[string]any{
					"include": m, "action": "update",
					"operations": []any{map[string]any{"action": "aggregate_labels", "label_set": []any{}, "aggregation_type": "sum"}},
				}}}}}}}})
	}
	return out
}

// slug is a metric's name as a component name's suffix: letters, digits, '_' and '-', at most 50.
func slug(metric string) string {
	b := []byte(metric[:min(len(metric), 50)])
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '-'
		}
	}
	return string(b)
}

// Recommendation is a candidate with its preview, kept because it loses nothing it must keep.
type Recommendation struct {
	Rank int `json:"rank"` // 1 saves the most
	Candidate
	Preview     preview.Result `json:"preview"`
	Explanation string         `json:"explanation"` // one sentence with its numbers
}

// Rejection is a candidate left out, and why.
type Rejection struct {
	Candidate
	Reason string `json:"reason"`
}

// Previewer previews a pipeline on the capture being recommended for: on all of it, or with
// screen on a part (preview.Capture.Screen); a result says when it covers a part.
type Previewer func(ctx context.Context, choice store.PipelineChoice, screen bool) (preview.Result, error)

// Rank screens every candidate on a part of the capture, then previews the most promising on
// all of it: those that lose no critical process and no series of a used metric (usage) and save
// something are recommended, cheapest first. The best of those the screening passed — the one an
// experiment is started from first — is previewed whole; a candidate the whole capture rejects
// gives its place to the next. The others keep their screening's preview, which says it covers a
// part. Only the best, because on a million datapoints (BenchmarkRecommend_1MDatapoints)
// confirming the best two took 5.6 s of 8.65 s: the second (process-aggregated, OTTL on every
// datapoint) replays in 4.5 s on one core, the best alone in 1.5 s.
func Rank(ctx context.Context, candidates []Candidate, previewOf Previewer, usage Usage) ([]Recommendation, []Rejection, error) {
	screened, err := screenAll(ctx, candidates, previewOf)
	if err != nil {
		return nil, nil, err
	}
	var recs []Recommendation
	var rejected []Rejection
	for i, c := range candidates {
		if why := reject(screened[i], usage); why != "" {
			rejected = append(rejected, Rejection{Candidate: c, Reason: why})
			continue
		}
		recs = append(recs, Recommendation{Candidate: c, Preview: screened[i]})
	}
	sortByCost(recs)
	// Each round previews the best whole or drops it, so it ends within as many rounds as there
	// are candidates (one, unless the whole capture rejects or reorders the best).
	for len(recs) > 0 && recs[0].Preview.Sample != nil {
		full, err := previewOf(ctx, recs[0].Choice, false)
		if err != nil {
			return nil, nil, fmt.Errorf("preview %s: %w", recs[0].Name, err)
		}
		if why := reject(full, usage); why != "" {
			rejected = append(rejected, Rejection{Candidate: recs[0].Candidate, Reason: why})
			recs = recs[1:]
			continue
		}
		recs[0].Preview = full
		sortByCost(recs)
	}
	for i := range recs {
		recs[i].Rank = i + 1
		recs[i].Explanation = explain(recs[i].Candidate, recs[i].Preview)
	}
	return recs, rejected, nil
}

// screenAll screens candidates side by side, one per core: each is a collector process replaying
// the screening part of the capture (shared/distribution bounds them too).
func screenAll(ctx context.Context, candidates []Candidate, previewOf Previewer) ([]preview.Result, error) {
	results := make([]preview.Result, len(candidates))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, runtime.NumCPU()))
	for i, c := range candidates {
		g.Go(func() error {
			r, err := previewOf(gctx, c.Choice, true)
			if err != nil {
				return fmt.Errorf("preview %s: %w", c.Name, err)
			}
			results[i] = r
			return nil
		})
	}
	return results, g.Wait()
}

// sortByCost orders recommendations by their predicted change in cost, then in series, then by
// name (ties rank the same whatever order the previews finished in): the change, not the cost
// itself, so that a screening (a part of the capture) and a whole preview compare alike.
func sortByCost(recs []Recommendation) {
	slices.SortStableFunc(recs, func(a, b Recommendation) int {
		return cmp.Or(cmp.Compare(a.Preview.Change["cost_per_hour"], b.Preview.Change["cost_per_hour"]),
			cmp.Compare(a.Preview.Change["series"], b.Preview.Change["series"]), strings.Compare(a.Name, b.Name))
	})
}

// reject says why a previewed candidate may not be recommended, or "".
func reject(r preview.Result, usage Usage) string {
	if r.Predicted.Series == 0 {
		return "keeps nothing"
	}
	if len(r.Dropped.Critical) > 0 {
		return "loses the critical processes " + strings.Join(r.Dropped.Critical, ", ")
	}
	var lost []string
	for _, m := range r.Dropped.Metrics {
		if usage.Uses(m) {
			lost = append(lost, m)
		}
	}
	for m := range r.Dropped.Reduced {
		if usage.Uses(m) {
			lost = append(lost, m)
		}
	}
	if len(lost) > 0 {
		slices.Sort(lost)
		return "loses series of " + strings.Join(lost, ", ") + ", which your dashboards or rules use"
	}
	if r.Predicted.CostPerHour >= r.Measured.CostPerHour && r.Predicted.Series >= r.Measured.Series {
		return "saves nothing on this capture"
	}
	return ""
}

// explain is a recommendation in one sentence with its numbers.
func explain(c Candidate, r preview.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %.0f → %.0f series (%+.1f%%%s), %.3g → %.3g datapoints/s, $%.2f → $%.2f a month",
		upper(c.What), r.Measured.SeriesKPI(), r.Predicted.SeriesKPI(),
		100*r.Change["series"], within(r.Error, "series"),
		r.Measured.DatapointsPerSecond, r.Predicted.DatapointsPerSecond, r.Measured.CostPerMonth, r.Predicted.CostPerMonth)
	if n := len(r.Dropped.Processes); n > 0 {
		fmt.Fprintf(&b, "; drops %d processes (%s)", n, head(r.Dropped.Processes, 3))
	}
	if n := len(r.Dropped.Metrics); n > 0 && !strings.HasPrefix(c.What, "drops ") {
		fmt.Fprintf(&b, "; drops the metrics %s", head(r.Dropped.Metrics, 3))
	}
	if r.Predicted.CriticalCoverage != nil && !strings.Contains(c.What, "critical") {
		b.WriteString("; every critical process kept")
	}
	if s := r.Sample; s != nil {
		fmt.Fprintf(&b, " (screened on %d of the capture's %d requests)", s.Requests, s.Of)
	}
	b.WriteString(".")
	return b.String()
}

// within is " ± E pp", the stated error of a predicted change, or "" when none is stated.
func within(errs map[string]float64, metric string) string {
	e, ok := errs[metric]
	if !ok {
		return ""
	}
	return fmt.Sprintf(" ± %.1f pp", 100*e)
}

func upper(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// head is the first n items, and how many more.
func head(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:n], ", ") + fmt.Sprintf(" and %d more", len(items)-n)
}
