// Package analyzer is the CloudEvent function that compares an experiment's two variants. It looks
// at a running experiment as each KPI window closes (a live look: the interval of every metric's
// change, streamed to the gateway, and an early end when the answer is clear) and when the run or
// an extension is over (a due look, on an analysis request: the verdict, or continue). Each look
// reads the KPI windows of both variants paired by window, decides with shared/analysis against
// the experiment's success criteria, and stores the look and, for a verdict, the explained report.
// It is stateless: any replica may take any event, and a redelivered event yields the stored
// result.
package analyzer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
	"github.com/phoenixotel/phoenix/shared/logging"
	"github.com/phoenixotel/phoenix/shared/preview"
	"github.com/phoenixotel/phoenix/shared/realtime"
	"github.com/phoenixotel/phoenix/shared/store"
)

// consumer names this function in the processed-events record.
const consumer = "analyzer"

// Needs are the resources the analyzer uses: the store, and Redis to stream its looks.
func Needs() bootstrap.Needs { return bootstrap.Needs{Store: true, Redis: true} }

// Publisher streams looks to the gateway.
type Publisher interface {
	Publish(ctx context.Context, tenant, experiment uuid.UUID, payload []byte) error
}

// Analyzer handles analysis requests and closed KPI windows.
type Analyzer struct {
	store     *store.Store      // KPI windows in, looks and reports out
	publisher Publisher         // looks to the gateway; nil streams nothing
	metrics   *metrics          // analysis durations, verdicts and outcomes
	window    time.Duration     // length of a KPI window: the run's windows are its duration over this
	cache     *analysis.Cache   // critical values, shared by every look this replica takes
	prices    experiment.Prices // the cost model (PHOENIX_PRICE_PER_*), stated in prediction checks
}

// New wires the analyzer for KPI windows of the given length (PHOENIX_KPI_WINDOW).
func New(st *store.Store, pub Publisher, window time.Duration) *Analyzer {
	return &Analyzer{store: st, publisher: pub, metrics: newMetrics(), window: window, cache: analysis.NewCache()}
}

// Service is the analyzer as a deployable.
func Service(res *bootstrap.Resources) (function.Service, error) {
	a := New(res.Store, realtime.NewPublisher(res.Redis, realtime.DefaultPrefix), res.Config.KPIWindow)
	a.prices = res.Config.Prices
	reg := prometheus.NewRegistry()
	if err := a.metrics.register(reg); err != nil {
		return function.Service{}, err
	}
	return function.Service{Name: consumer, Events: a, Registry: reg}, nil
}

// Handle answers one CloudEvent.
func (a *Analyzer) Handle(ctx context.Context, e event.Event) (*event.Event, error) {
	tenant, err := events.Tenant(e)
	if err != nil {
		return nil, function.Invalid(err)
	}
	switch e.Type() {
	case events.AnalysisRequested:
		var req events.ExperimentRef
		if err := events.DecodeAbout(e, &req, func() uuid.UUID { return req.ExperimentID }); err != nil {
			return nil, function.Invalid(err)
		}
		return a.look(ctx, e, tenant, req.ExperimentID, time.Time{})
	case events.KPIWindowClosed:
		var w events.KPIWindow
		if err := events.DecodeAbout(e, &w, func() uuid.UUID { return w.ExperimentID }); err != nil {
			return nil, function.Invalid(err)
		}
		return a.look(ctx, e, tenant, w.ExperimentID, w.WindowEnd)
	}
	return nil, function.Invalid(fmt.Errorf("the analyzer does not consume %q", e.Type()))
}

// look takes one look at an experiment: a due look for an analysis request, a live look for a
// closed window (windowEnd set). The windows are read first, side by side and outside the event's
// transaction (read); then the look, and for a due look or a look that ends the run the report,
// commit with the processed-event record; then the look is streamed (best effort: it is stored,
// and GET /v1/experiments/{id}/looks serves it). A redelivery reads again and is answered from
// the record.
func (a *Analyzer) look(ctx context.Context, e event.Event, tenant, id uuid.UUID, windowEnd time.Time) (*event.Event, error) {
	live := !windowEnd.IsZero()
	start := time.Now()
	exp, run, dues, err := a.read(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	if live && exp.State != experiment.Running {
		return nil, nil // a window closing after the run: the due look covers it
	}
	kind := analysis.Live
	if !live {
		kind, dues = analysis.Planned, dues+1
		if dues > 1 {
			kind = analysis.Extension
		}
	}
	rep, err := Look(run, kind, dues, a.cache)
	took := time.Since(start)
	if err != nil {
		// The API validated the spec; a stored one the engine refuses will not improve.
		return nil, function.Invalid(fmt.Errorf("analyse %s: %w", id, err))
	}
	if live && rep.Look.Windows < analysis.FirstLook {
		return nil, nil
	}
	if windowEnd.IsZero() {
		windowEnd = time.Now()
	}
	l := lookEvent(id, rep, windowEnd)
	raw, err := json.Marshal(l)
	if err != nil {
		return nil, fmt.Errorf("encode look: %w", err)
	}
	var streamed bool // this delivery, not an earlier one, took the look
	res, err := delivery.Once(ctx, a.store, consumer, tenant, e, func(ctx context.Context, tx *store.Tx) (delivery.Result, error) {
		if live {
			// The state is read again under the event's transaction: a run that ended since the
			// read is the due look's business.
			now, err := tx.Experiment(ctx, id)
			if err != nil {
				return delivery.Result{}, err
			}
			if now.State != experiment.Running {
				return delivery.Result{Outcome: delivery.Ignored}, nil
			}
		}
		saved, err := tx.SaveLook(ctx, id, e.ID(), store.Look{Kind: string(kind), Windows: rep.Look.Windows, Verdict: string(rep.Verdict), Look: raw})
		if err != nil {
			return delivery.Result{}, err
		}
		if !saved {
			// A live look at this many windows was taken already (the other variant's window
			// closed first, or this one closed twice). A due look is saved once per request.
			return delivery.Result{Outcome: delivery.Ignored}, nil
		}
		streamed = true
		if live && !rep.Stop {
			return delivery.Result{Outcome: delivery.Applied}, nil
		}
		return delivery.Replied(a.conclude(ctx, tx, e, tenant, exp, rep))
	})
	if err != nil {
		return nil, err
	}
	if streamed { // committed: Once returned no error
		a.metrics.analysed(took)
		if !live || rep.Stop {
			a.metrics.stored(rep)
		}
		a.stream(ctx, tenant, id, l)
	}
	return res.Reply, nil
}

// read reads what a look needs of an experiment: the experiment, the due looks taken, each
// criterion's paired windows, the coverage gaps and what both collectors received. One
// repeatable-read transaction: the reads see the same windows although windows keep closing, so
// the pairs, the coverage and the parity of a look describe one set of windows.
func (a *Analyzer) read(ctx context.Context, tenant, id uuid.UUID) (store.Experiment, Run, int, error) {
	var exp store.Experiment
	var dues int
	var measured []string
	var run Run
	var metrics []string // the criteria's, read and then kept in this order
	var series map[string]store.PairedSeries
	err := a.store.ReadTenant(ctx, tenant, func(tx *store.Tx) (err error) {
		if exp, err = tx.Experiment(ctx, id); err != nil {
			return err
		}
		if dues, err = tx.DueLooks(ctx, id); err != nil {
			return err
		}
		if measured, err = tx.MeasuredMetrics(ctx, id); err != nil {
			return err
		}
		spec := exp.Spec
		run = NewRun(spec, time.Duration(exp.PlannedDurationSeconds)*time.Second, time.Duration(exp.DurationSeconds)*time.Second, a.window)
		metrics = criteriaMetrics(spec)
		if series, err = tx.PairedMetrics(ctx, id, metrics); err != nil {
			return err
		}
		if run.Coverage, err = tx.CoverageGaps(ctx, id); err != nil {
			return err
		}
		if run.Parity, err = tx.InputParity(ctx, id); err != nil {
			return err
		}
		run.Prediction, err = prediction(ctx, tx, exp)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return exp, Run{}, 0, function.Invalid(fmt.Errorf("tenant has no experiment %s", id))
	}
	if err != nil {
		return exp, Run{}, 0, err
	}
	run.AA = sameChoice(exp.Baseline, exp.Candidate)
	run.Series = map[string]store.PairedSeries{}
	for _, m := range metrics {
		s := series[m]
		s.Metric = m
		if len(s.Baseline) > 0 || slices.Contains(measured, m) {
			// Complete windows of either variant without a pair for this metric.
			s.Unpaired = max(0, run.Parity.Baseline.Windows+run.Parity.Candidate.Windows-2*len(s.Baseline))
			run.Series[m] = s
		}
	}
	run.Measured = measured
	run.Prices = a.prices
	return exp, run, dues, nil
}

// prediction reads the recommendation exp was started from, with the paired windows of the
// metrics it predicted; nil when there is none (or it is gone).
func prediction(ctx context.Context, tx *store.Tx, exp store.Experiment) (*Prediction, error) {
	if exp.RecommendationID == nil {
		return nil, nil
	}
	rec, err := tx.Recommendation(ctx, *exp.RecommendationID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r preview.Result
	if err := json.Unmarshal(rec.Preview, &r); err != nil {
		return nil, fmt.Errorf("recommendation %s: %w", rec.ID, err)
	}
	series, err := tx.PairedMetrics(ctx, exp.ID, predictedMetrics)
	if err != nil {
		return nil, err
	}
	return &Prediction{Recommendation: rec.ID, Rates: r.Predicted, Change: r.Change, Error: r.Error, Series: series}, nil
}

// criteriaMetrics names the metrics a look reads: the spec's criteria, or every default KPI.
func criteriaMetrics(spec experiment.Spec) []string {
	if len(spec.SuccessCriteria) == 0 {
		return experiment.DefaultMetrics()
	}
	out := make([]string, len(spec.SuccessCriteria))
	for i, c := range spec.SuccessCriteria {
		out[i] = c.Metric
	}
	return out
}

// conclude stores the report of a look that ends the run or asks for more (a due look, or a live
// look that stops early) and builds the reply for the controller.
func (a *Analyzer) conclude(ctx context.Context, tx *store.Tx, e event.Event, tenant uuid.UUID, exp store.Experiment, rep Report) (event.Event, error) {
	raw, err := json.Marshal(rep)
	if err != nil {
		return event.Event{}, fmt.Errorf("encode report: %w", err)
	}
	rec, err := tx.SaveAnalysis(ctx, exp.ID, e.ID(), string(rep.Verdict), raw)
	if err != nil {
		return event.Event{}, err
	}
	result := events.AnalysisResult{ExperimentID: exp.ID, ResultID: rec.ID, Verdict: experiment.Verdict(rec.Verdict),
		Early: rep.Early, Reason: truncate(rep.Reason, 4000)}
	if result.Verdict == experiment.VerdictContinue {
		run := time.Duration(exp.DurationSeconds) * time.Second
		result.ExtendSeconds = extension(rep.WindowsNeeded-rep.Look.Windows, a.window, exp.Spec.MaxDuration(run)-run)
	}
	return events.Reply(e, consumer, events.AnalysisCompleted, events.SourceAnalyzer, tenant, exp.ID, result)
}

// stream publishes a look for the gateway, best effort.
func (a *Analyzer) stream(ctx context.Context, tenant, id uuid.UUID, l events.Look) {
	if a.publisher == nil {
		return
	}
	ev, err := events.New(uuid.NewSHA1(id, fmt.Appendf(nil, "%s/%d", l.Kind, l.Windows)).String(), events.AnalysisLook, events.SourceAnalyzer, tenant, id, l)
	if err == nil {
		var b []byte
		if b, err = ev.MarshalJSON(); err == nil {
			err = a.publisher.Publish(ctx, tenant, id, b)
		}
	}
	if err != nil {
		logging.FromContext(ctx).Error("publish look for the gateway", "experiment", id, "err", err)
	}
}

// extension is how much longer the run should last for the paired windows the decision still
// needs, within the room the spec leaves, and at least one window.
func extension(more int, window, room time.Duration) int {
	d := min(time.Duration(max(more, 1))*window, room)
	return max(int(d.Round(time.Second)/time.Second), 1)
}

// truncate cuts s to at most n bytes at a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
