package analyzer

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/phoenixotel/phoenix/shared/analysis"
	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/store"
	"github.com/phoenixotel/phoenix/test/monitoring/promtest"
	"github.com/phoenixotel/phoenix/test/pgtest"
)

func TestMetrics_EveryVerdictAndOutcomeHasASeriesFromTheStart(t *testing.T) {
	reg := promtest.Registry(t, newMetrics().register)
	if n := len(promtest.Series(t, reg, MetricVerdicts)); n != len(verdicts()) {
		t.Errorf("%d verdict series, want %d", n, len(verdicts()))
	}
	if n, want := len(promtest.Series(t, reg, MetricMetricOutcomes)), len(outcomes())*len(experiment.Metrics()); n != want {
		t.Errorf("%d outcome series, want %d (every KPI × every outcome)", n, want)
	}
	if n := promtest.Value(t, reg, MetricDuration, nil); n != 0 {
		t.Errorf("%g analyses observed before any", n)
	}
}

func TestMetrics_CountStoredAnalysesOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := pgtest.Migrated(t).AppStore(t, store.Options{})
	tenant := pgtest.Tenant(t, st, "acme")
	tests := []struct {
		name    string
		windows int     // windows stored
		ratio   float64 // candidate / baseline
		verdict experiment.Verdict
		outcome analysis.Outcome
	}{
		{"cheaper candidate", 12, 0.3, experiment.VerdictPromote, analysis.Improved},
		{"dearer candidate", 12, 2, experiment.VerdictReject, analysis.Regressed},
		{"two windows each", 2, 0.3, experiment.VerdictInconclusive, analysis.Undecided},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := New(st, nil, seededWindow)
			reg := promtest.Registry(t, a.metrics.register)
			exp := pgtest.Experiment(t, st, tenant)
			storeWindows(t, st, tenant, exp, 0, tt.windows, tt.ratio)
			req, _ := events.New(fmt.Sprint("req-", i), events.AnalysisRequested, events.SourceController, tenant, exp,
				events.ExperimentRef{ExperimentID: exp})
			for range 3 { // Knative may deliver a request more than once
				if _, err := a.Handle(ctx, req); err != nil {
					t.Fatal(err)
				}
			}
			for _, v := range verdicts() {
				want := 0.0
				if v == tt.verdict {
					want = 1
				}
				if got := promtest.Value(t, reg, MetricVerdicts, promtest.Labels{"verdict": string(v)}); got != want {
					t.Errorf("verdict %s counted %g, want %g", v, got, want)
				}
			}
			if got := promtest.Value(t, reg, MetricMetricOutcomes, promtest.Labels{"metric": "series", "outcome": string(tt.outcome)}); got != 1 {
				t.Errorf("series %s counted %g, want 1", tt.outcome, got)
			}
			if got := promtest.Value(t, reg, MetricDuration, nil); got != 1 {
				t.Errorf("%g analyses timed, want 1: a redelivery replays the stored result", got)
			}
		})
	}

	t.Run("another tenant's request counts nothing", func(t *testing.T) {
		a := New(st, nil, 15*time.Second)
		reg := promtest.Registry(t, a.metrics.register)
		exp := pgtest.Experiment(t, st, tenant)
		other := pgtest.Tenant(t, st, "other")
		bad, _ := events.New("foreign", events.AnalysisRequested, events.SourceController, other, exp, events.ExperimentRef{ExperimentID: exp})
		if _, err := a.Handle(ctx, bad); err == nil {
			t.Fatal("accepted")
		}
		if got := promtest.Value(t, reg, MetricDuration, nil); got != 0 {
			t.Errorf("%g analyses timed", got)
		}
		for _, v := range verdicts() {
			if got := promtest.Value(t, reg, MetricVerdicts, promtest.Labels{"verdict": string(v)}); got != 0 {
				t.Errorf("verdict %s counted", v)
			}
		}
	})
}

func TestMetrics_LabelsStayInTheirFixedSets(t *testing.T) {
	m := newMetrics()
	reg := promtest.Registry(t, m.register)
	m.stored(Report{Decision: analysis.Decision{Verdict: "made-up", Metrics: []analysis.MetricDecision{
		{Criterion: analysis.Criterion{Metric: "series"}, Outcome: analysis.Improved},
		{Criterion: analysis.Criterion{Metric: "not-a-kpi"}, Outcome: analysis.Regressed},
		{Criterion: analysis.Criterion{Metric: "series"}, Outcome: "made-up"},
	}}})
	if got := promtest.Value(t, reg, MetricMetricOutcomes, promtest.Labels{"metric": "series", "outcome": "improved"}); got != 1 {
		t.Errorf("series improved: %g", got)
	}
	if got := promtest.Value(t, reg, MetricMetricOutcomes, promtest.Labels{"metric": otherMetric, "outcome": "regressed"}); got != 1 {
		t.Errorf("an unknown metric is not labelled %q: %g", otherMetric, got)
	}
	if n, want := len(promtest.Series(t, reg, MetricMetricOutcomes)), len(outcomes())*len(experiment.Metrics())+1; n != want {
		t.Errorf("%d outcome series, want %d: unknown outcomes must not add series", n, want)
	}
	if n := len(promtest.Series(t, reg, MetricVerdicts)); n != len(verdicts()) {
		t.Errorf("%d verdict series: an unknown verdict added one", n)
	}
}
