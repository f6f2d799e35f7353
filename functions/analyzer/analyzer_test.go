package analyzer

import (
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/phoenixotel/phoenix/shared/analysis"
	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/store"
	"github.com/phoenixotel/phoenix/test/pgtest"
)

func TestAnalyze_VerdictFollowsTheMetrics(t *testing.T) {
	t.Parallel()
	const n = 12
	// Deterministic jitter so each sample has variance.
	series := func(mean float64) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = mean + math.Sin(float64(i)*1.7)*mean*0.01
		}
		return out
	}
	tests := []struct {
		name    string
		metrics map[string]map[experiment.Variant][]float64
		want    string
	}{
		{"cheaper candidate", map[string]map[experiment.Variant][]float64{
			"series": {experiment.Baseline: series(1000), experiment.Candidate: series(400)},
		}, "promote"},
		{"cheaper but loses coverage", map[string]map[experiment.Variant][]float64{
			"series":                    {experiment.Baseline: series(1000), experiment.Candidate: series(400)},
			"critical_process_coverage": {experiment.Baseline: series(1), experiment.Candidate: series(0.5)},
		}, "reject"},
		{"no difference", map[string]map[experiment.Variant][]float64{
			"series": {experiment.Baseline: series(1000), experiment.Candidate: series(1000)},
		}, "inconclusive"},
		{"too few windows is reported, not decided", map[string]map[experiment.Variant][]float64{
			"series": {experiment.Baseline: {1}, experiment.Candidate: {2}},
		}, "inconclusive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := Analyze(tt.metrics)
			if rep.Verdict != tt.want {
				t.Fatalf("verdict %s, want %s: %+v", rep.Verdict, tt.want, rep.Metrics)
			}
		})
	}
	rep := Analyze(tests[3].metrics)
	if rep.Correction != "holm" {
		t.Fatalf("correction %q", rep.Correction)
	}
	if m := rep.Metrics["series"]; m.Error == "" || m.Welch != nil {
		t.Fatalf("untestable metric not reported as such: %+v", m)
	}
	// Holm: with two metrics the smaller p-value is doubled before it is compared with alpha.
	borderline := map[string]map[experiment.Variant][]float64{
		"series":           {experiment.Baseline: {100, 101, 102, 103, 104, 105}, experiment.Candidate: {98.5, 99.5, 100.5, 101.5, 102.5, 103.5}},
		"bytes_per_second": {experiment.Baseline: series(1000), experiment.Candidate: series(1000)},
	}
	single := map[string]map[experiment.Variant][]float64{"series": borderline["series"]}
	one, two := Analyze(single).Metrics["series"], Analyze(borderline).Metrics["series"]
	if *one.AdjustedP != one.Welch.P || *two.AdjustedP <= *one.AdjustedP {
		t.Fatalf("adjusted p: alone %v (raw %v), with another metric %v", *one.AdjustedP, one.Welch.P, *two.AdjustedP)
	}
	rep = Analyze(tests[1].metrics)
	if m := rep.Metrics["critical_process_coverage"]; m.Outcome != analysis.Regressed || m.Direction != "higher_is_better" {
		t.Fatalf("coverage: %+v", m)
	}
}

func TestHandle_StoresReportAndRepliesOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := pgtest.Migrated(t).AppStore(t, store.Options{})
	tenant := pgtest.Tenant(t, st, "acme")
	exp := pgtest.Experiment(t, st, tenant)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var samples []store.KPISample
	for i := range 10 {
		w := start.Add(time.Duration(i) * 30 * time.Second)
		jitter := float64(i%3) * 5
		samples = append(samples,
			store.KPISample{Variant: experiment.Baseline, Metric: "series", WindowStart: w, WindowEnd: w.Add(30 * time.Second), Value: 1000 + jitter},
			store.KPISample{Variant: experiment.Candidate, Metric: "series", WindowStart: w, WindowEnd: w.Add(30 * time.Second), Value: 300 + jitter*2},
		)
	}
	if err := st.WithTenant(ctx, tenant, func(tx *store.Tx) error { return tx.AddKPISamples(ctx, exp, samples) }); err != nil {
		t.Fatal(err)
	}
	req, _ := events.New("req-1", events.AnalysisRequested, events.SourceController, tenant, exp, events.ExperimentRef{ExperimentID: exp})
	a := New(st)
	reply, err := a.Handle(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	var res events.AnalysisResult
	if err := events.Decode(*reply, &res); err != nil {
		t.Fatal(err)
	}
	if res.Verdict != "promote" || res.ExperimentID != exp {
		t.Fatalf("result %+v", res)
	}
	again, err := a.Handle(ctx, req)
	if err != nil || again.ID() != reply.ID() {
		t.Fatalf("redelivery: %v %v", again, err)
	}
	err = st.WithTenant(ctx, tenant, func(tx *store.Tx) error {
		var n int
		var report json.RawMessage
		if err := tx.QueryRow(ctx, "SELECT count(*), max(report::text)::jsonb FROM analysis_results").Scan(&n, &report); err != nil {
			return err
		}
		var rep Report
		if err := json.Unmarshal(report, &rep); err != nil {
			return err
		}
		if n != 1 || rep.Metrics["series"].Welch == nil || rep.Metrics["series"].Welch.Diff >= 0 {
			t.Errorf("%d results, report %+v", n, rep)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Another tenant cannot ask for this experiment's analysis.
	other := pgtest.Tenant(t, st, "other")
	bad, _ := events.New("req-2", events.AnalysisRequested, events.SourceController, other, exp, events.ExperimentRef{ExperimentID: exp})
	if _, err := a.Handle(ctx, bad); err == nil {
		t.Fatal("analysis for another tenant's experiment accepted")
	}
}
