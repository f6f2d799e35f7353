// Package analyzer is the CloudEvent function that compares an experiment's two variants. On an
// analysis request it reads the KPI samples measured for both variants, decides with
// shared/analysis (independent windows, Welch's t-test confirmed by Mann–Whitney, TOST for
// guardrails, Holm across metrics, power planning) against the experiment's success criteria,
// stores the explained report and replies with the verdict. It is stateless: any replica may take
// any request, and a redelivered request yields the stored result.
package analyzer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

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

// Needs are the resources the analyzer uses.
func Needs() bootstrap.Needs { return bootstrap.Needs{Store: true} }

// Analyzer handles analysis requests.
type Analyzer struct {
	store   *store.Store  // KPI samples in, analysis results out
	metrics *metrics      // analysis durations, verdicts and outcomes
	window  time.Duration // length of a KPI window: one more observation per variant takes this long
}

// New wires the analyzer for KPI windows of the default length (PHOENIX_KPI_WINDOW's default).
func New(st *store.Store) *Analyzer {
	return &Analyzer{store: st, metrics: newMetrics(), window: 15 * time.Second}
}

// Service is the analyzer as a deployable.
func Service(res *bootstrap.Resources) (function.Service, error) {
	a := New(res.Store)
	a.window = res.Config.KPIWindow
	reg := prometheus.NewRegistry()
	if err := a.metrics.register(reg); err != nil {
		return function.Service{}, err
	}
	return function.Service{Name: consumer, Events: a, Registry: reg}, nil
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
	var stored *Report // set when this delivery, not an earlier one, analysed
	res, err := delivery.Once(ctx, a.store, consumer, tenant, e, func(ctx context.Context, tx *store.Tx) (delivery.Result, error) {
		exp, err := tx.Experiment(ctx, req.ExperimentID)
		if errors.Is(err, store.ErrNotFound) {
			return delivery.Result{}, function.Invalid(fmt.Errorf("tenant has no experiment %s", req.ExperimentID))
		} else if err != nil {
			return delivery.Result{}, err
		}
		var spec experiment.Spec
		if len(exp.Spec) > 0 {
			if err := json.Unmarshal(exp.Spec, &spec); err != nil {
				return delivery.Result{}, fmt.Errorf("read the spec of %s: %w", req.ExperimentID, err)
			}
		}
		start := time.Now()
		series, err := tx.KPISeries(ctx, req.ExperimentID)
		if err != nil {
			return delivery.Result{}, err
		}
		// While the run may still be extended (spec.analysis.max_duration_seconds), an undecided
		// result asks for more data instead of ending inconclusive.
		run := time.Duration(exp.DurationSeconds) * time.Second
		room := spec.MaxDuration(run) - run
		rep, err := AnalyzeRun(spec, series, room > 0)
		a.metrics.analysed(time.Since(start))
		if err != nil {
			// The API validated the spec; a stored one the engine refuses will not improve.
			return delivery.Result{}, function.Invalid(fmt.Errorf("analyse %s: %w", req.ExperimentID, err))
		}
		raw, err := json.Marshal(rep)
		if err != nil {
			return delivery.Result{}, fmt.Errorf("encode report: %w", err)
		}
		rec, err := tx.SaveAnalysis(ctx, req.ExperimentID, e.ID(), string(rep.Verdict), raw)
		if err != nil {
			return delivery.Result{}, err
		}
		stored = &rep
		result := events.AnalysisResult{ExperimentID: req.ExperimentID, ResultID: rec.ID, Verdict: rec.Verdict}
		if rep.Verdict == analysis.Continue {
			result.ExtendSeconds = extension(rep.Needed, a.window, room)
		}
		return delivery.Replied(events.Reply(e, consumer, events.AnalysisCompleted, events.SourceAnalyzer, tenant, req.ExperimentID, result))
	})
	if err != nil {
		return nil, err
	}
	if stored != nil {
		a.metrics.stored(*stored) // committed: Once returned no error
	}
	return res.Reply, nil
}

// method says in words what a report computed.
const method = "KPI samples averaged in independent windows (batch means); per metric Welch's t-test, " +
	"confirmed by Mann–Whitney U with the Hodges–Lehmann shift, and TOST for guardrails; " +
	"p-values corrected across metrics; power planning for metrics the data cannot decide"

// Report is what the analyzer stores for one analysis; GET /v1/experiments/{id}/analysis serves it
// as it is. The embedded decision contributes verdict, reason, additional_observations,
// settings, metrics (each with its inputs, windows, tests, outcome, reason and rule trace) and
// the overall trace.
type Report struct {
	Method            string   `json:"method"`                   // what was computed, in words
	Criteria          string   `json:"criteria"`                 // "spec": the experiment's success criteria; "defaults": every measured KPI's default
	Unused            []string `json:"unused_metrics,omitempty"` // measured metrics no criterion uses
	analysis.Decision          // the decision with everything it rests on
}

// Analyze decides on the experiment's KPI series against its spec. Only the criteria's metrics
// count; when the spec lists none, every measured KPI does, with its default criterion
// (experiment.DefaultCriterion). The run is taken as over, so an undecided result is
// inconclusive; AnalyzeRun decides for a run that may still be extended.
func Analyze(spec experiment.Spec, series map[string]map[experiment.Variant][]float64) (Report, error) {
	return AnalyzeRun(spec, series, false)
}

// extension is how much longer the run should last for the observations the decision still
// needs (one per variant per KPI window), within the room the spec leaves, and at least one
// window.
func extension(needed *analysis.Needed, window, room time.Duration) int {
	more := 1
	if needed != nil {
		more = max(needed.Baseline, needed.Candidate, 1)
	}
	d := min(time.Duration(more)*window, room)
	return max(int(d.Round(time.Second)/time.Second), 1)
}

// AnalyzeRun is Analyze for a run that may (moreDataPossible) still be extended: a decision the
// data cannot make yet is then Continue rather than Inconclusive.
func AnalyzeRun(spec experiment.Spec, series map[string]map[experiment.Variant][]float64, moreDataPossible bool) (Report, error) {
	rep := Report{Method: method, Criteria: "spec"}
	criteria := spec.SuccessCriteria
	if len(criteria) == 0 {
		rep.Criteria = "defaults"
		known := experiment.Metrics()
		for m := range series {
			if _, ok := known[m]; ok {
				criteria = append(criteria, experiment.DefaultCriterion(m))
			}
		}
		sort.Slice(criteria, func(i, j int) bool { return criteria[i].Metric < criteria[j].Metric })
	}
	used := map[string]bool{}
	input := make([]analysis.Series, 0, len(criteria))
	for _, c := range criteria {
		dir := c.Direction
		if dir == "" {
			dir = experiment.Metrics()[c.Metric]
		}
		var d analysis.Direction
		if err := d.UnmarshalText([]byte(dir)); err != nil {
			return Report{}, fmt.Errorf("criterion %s: %w", c.Metric, err)
		}
		used[c.Metric] = true
		input = append(input, analysis.Series{
			Criterion: analysis.Criterion{Metric: c.Metric, Direction: d, MinImprovement: c.MinImprovement, Critical: c.Critical, Tolerance: c.Tolerance},
			Baseline:  series[c.Metric][experiment.Baseline],
			Candidate: series[c.Metric][experiment.Candidate],
		})
	}
	for m := range series {
		if !used[m] {
			rep.Unused = append(rep.Unused, m)
		}
	}
	sort.Strings(rep.Unused)
	var opt analysis.Options
	if a := spec.Analysis; a != nil {
		opt = analysis.Options{Alpha: a.Alpha, Power: a.Power, Correction: analysis.Correction(a.Correction),
			Batching: analysis.Batching{Size: a.WindowSize}}
	}
	opt.MoreDataPossible = moreDataPossible
	d, err := analysis.Decide(input, opt)
	if err != nil {
		return Report{}, err
	}
	rep.Decision = d
	return rep, nil
}
