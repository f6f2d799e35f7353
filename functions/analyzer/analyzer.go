// Package analyzer is the CloudEvent function that compares an experiment's two variants. On an
// analysis request it reads the KPI windows measured for both variants, runs Welch's t-test per
// metric (shared/analysis), stores the report and replies with the verdict. It is stateless: any
// replica may take any request, and a redelivered request yields the stored result.
package analyzer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/analysis"
	"github.com/phoenixotel/phoenix/shared/bootstrap"
	"github.com/phoenixotel/phoenix/shared/delivery"
	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/function"
	"github.com/phoenixotel/phoenix/shared/store"
)

// consumer names this function in the processed-events record.
const consumer = "analyzer"

// Defaults of the test; per-experiment settings arrive with the analysis capability.
const (
	confidence = 0.95
	alpha      = 1 - confidence
)

// Needs are the resources the analyzer uses.
func Needs() bootstrap.Needs { return bootstrap.Needs{Store: true} }

// Analyzer handles analysis requests.
type Analyzer struct {
	store *store.Store // KPI samples in, analysis results out
}

// New wires the analyzer.
func New(st *store.Store) *Analyzer { return &Analyzer{store: st} }

// Service is the analyzer as a deployable.
func Service(res *bootstrap.Resources) (function.Service, error) {
	return function.Service{Name: consumer, Events: New(res.Store)}, nil
}

// Handle answers one CloudEvent.
func (a *Analyzer) Handle(ctx context.Context, e event.Event) (*event.Event, error) {
	if e.Type() != events.AnalysisRequested {
		return nil, function.Invalid(fmt.Errorf("the analyzer does not consume %q", e.Type()))
	}
	var req events.ExperimentRef
	if err := events.DecodeAbout(e, &req, func() uuid.UUID { return req.ExperimentID }); err != nil {
		return nil, function.Invalid(err)
	}
	tenant, err := events.Tenant(e)
	if err != nil {
		return nil, function.Invalid(err)
	}
	res, err := delivery.Once(ctx, a.store, consumer, tenant, e, func(ctx context.Context, tx *store.Tx) (delivery.Result, error) {
		if _, err := tx.Experiment(ctx, req.ExperimentID); errors.Is(err, store.ErrNotFound) {
			return delivery.Result{}, function.Invalid(fmt.Errorf("tenant has no experiment %s", req.ExperimentID))
		} else if err != nil {
			return delivery.Result{}, err
		}
		series, err := tx.KPISeries(ctx, req.ExperimentID)
		if err != nil {
			return delivery.Result{}, err
		}
		rep := Analyze(series)
		raw, err := json.Marshal(rep)
		if err != nil {
			return delivery.Result{}, fmt.Errorf("encode report: %w", err)
		}
		rec, err := tx.SaveAnalysis(ctx, req.ExperimentID, e.ID(), rep.Verdict, raw)
		if err != nil {
			return delivery.Result{}, err
		}
		return delivery.Replied(events.Reply(e, consumer, events.AnalysisCompleted, events.SourceAnalyzer, tenant, req.ExperimentID,
			events.AnalysisResult{ExperimentID: req.ExperimentID, ResultID: rec.ID, Verdict: rec.Verdict}))
	})
	if err != nil {
		return nil, err
	}
	return res.Reply, nil
}

// Report is what the analyzer stores for one analysis.
type Report struct {
	Method     string                  `json:"method"`     // welch-t-test
	Correction string                  `json:"correction"` // holm: p-values adjusted across the tested metrics
	Confidence float64                 `json:"confidence"` // level of every interval
	Verdict    string                  `json:"verdict"`    // promote, reject or inconclusive
	Metrics    map[string]MetricResult `json:"metrics"`    // per KPI
}

// MetricResult is one KPI's comparison.
type MetricResult struct {
	Direction string           `json:"direction"`            // lower_is_better or higher_is_better
	Outcome   analysis.Outcome `json:"outcome,omitempty"`    // improved, regressed, no_change; empty on error
	Error     string           `json:"error,omitempty"`      // why the metric could not be tested
	Welch     *analysis.Welch  `json:"welch,omitempty"`      // the test's full result
	AdjustedP *float64         `json:"adjusted_p,omitempty"` // Welch's p after the Holm correction; the outcome uses it
	Windows   map[string]int   `json:"windows"`              // windows per variant
}

// direction of each KPI: coverage should rise, everything else (series, datapoints, bytes, cost,
// CPU, memory) should fall.
func direction(metric string) analysis.Direction {
	if metric == "critical_process_coverage" {
		return analysis.HigherIsBetter
	}
	return analysis.LowerIsBetter
}

// Analyze compares each metric's baseline and candidate windows. Metrics that cannot be tested
// (too few windows, no variance) are reported with their reason and do not count for the verdict.
func Analyze(series map[string]map[experiment.Variant][]float64) Report {
	rep := Report{Method: "welch-t-test", Correction: "holm", Confidence: confidence, Metrics: map[string]MetricResult{}}
	names := make([]string, 0, len(series))
	for m := range series {
		names = append(names, m)
	}
	sort.Strings(names)
	var tested []string
	var ps []float64
	for _, m := range names {
		b, c := series[m][experiment.Baseline], series[m][experiment.Candidate]
		res := MetricResult{Direction: "lower_is_better", Windows: map[string]int{"baseline": len(b), "candidate": len(c)}}
		if direction(m) == analysis.HigherIsBetter {
			res.Direction = "higher_is_better"
		}
		w, err := analysis.WelchTTest(b, c, confidence)
		if err != nil {
			res.Error = err.Error()
		} else {
			res.Welch = &w
			tested = append(tested, m)
			ps = append(ps, w.P)
		}
		rep.Metrics[m] = res
	}
	// Several metrics tested at once: without a correction, one in twenty would look significant
	// by chance at alpha 0.05. Holm controls the family-wise error rate.
	adjusted, _ := analysis.Holm(ps) // p-values from WelchTTest are always in [0, 1]
	var outcomes []analysis.Outcome
	for i, m := range tested {
		res := rep.Metrics[m]
		w := *res.Welch
		res.AdjustedP = &adjusted[i]
		w.P = adjusted[i]
		res.Outcome = analysis.Classify(w, direction(m), alpha)
		outcomes = append(outcomes, res.Outcome)
		rep.Metrics[m] = res
	}
	rep.Verdict = analysis.Verdict(outcomes)
	return rep
}
