package analyzer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/analysis"
	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/store"
)

// method says in words what a report computed.
const method = "per-window pairs of the two variants (log-ratios), each metric's change with an interval that holds " +
	"under autocorrelation (equal-weighted cosine long-run variance, critical value guarded against AR(1) " +
	"autocorrelation up to 0.9) and at every look (the run's error budget split over its live, planned and extension " +
	"looks); critical processes checked window by window; the two collectors' inputs compared"

// Report is what the analyzer stores for one analysis; GET /v1/experiments/{id}/analysis serves it
// as it is. The embedded decision contributes verdict, reason, stop, early, look (which look and
// the budget spent), settings, metrics (each with its pairs, interval, outcome, summary, reason
// and rule trace), coverage, parity and the overall trace.
type Report struct {
	Method      string       `json:"method"`                   // what was computed, in words
	Criteria    string       `json:"criteria"`                 // "spec": the experiment's success criteria; "defaults": every measured KPI's default
	Unused      []string     `json:"unused_metrics,omitempty"` // measured metrics no criterion uses
	Calibration *Calibration `json:"calibration,omitempty"`    // for an A/A run: does the platform's false-alarm rate hold?
	// Prediction, for a run started from a recommendation: what its preview predicted against
	// what was measured.
	Prediction *PredictionCheck `json:"prediction,omitempty"`
	analysis.Decision
}

// Calibration is the verdict of an A/A run (the candidate is the baseline's pipeline): with both
// sides the same, no interval should exclude "no change" and no critical process should go
// missing; one that does is a false alarm, which the run's alpha bounds.
type Calibration struct {
	Holds       bool     `json:"holds"`        // no false alarm
	FalseAlarms []string `json:"false_alarms"` // metrics whose interval excludes no change, and lost processes
	Detail      string   `json:"detail"`       // in words
}

// Run is what the analyzer knows of an experiment when it looks at it.
type Run struct {
	Spec     experiment.Spec               // the experiment's spec
	AA       bool                          // the candidate is the baseline's pipeline
	Series   map[string]store.PairedSeries // per metric, the paired windows
	Coverage []analysis.CoverageWindow     // windows in which the candidate lacked a critical process
	Parity   analysis.ParityInput          // what both collectors received
	Schedule analysis.Schedule             // planned and maximum windows
	Early    analysis.EarlyStop            // what may end the run at a live look
	// Extendable is set while the run may still be extended (its duration below the maximum).
	Extendable bool
	// Expected is the complete windows each variant should deliver in the run's duration so far
	// (less its first and last, which may be partial), which a due look checks.
	Expected int
	// Measured names the KPIs the windows hold (for the report's unused metrics); nil: the
	// series' metrics.
	Measured []string
	// Prediction is the recommendation the run confirms, if it was started from one.
	Prediction *Prediction
	// Prices are the cost model the ingest function prices windows with, stated in the report.
	Prices experiment.Prices
}

// NewRun reads the design of an experiment's run: its planned and maximum windows (complete
// windows of length window that fit in the planned duration and the maximum duration), its
// early-stop settings, and whether a run that has lasted duration so far may still be extended.
// The planned duration is the experiment's first one: extensions lengthen the run, not its plan.
// The data fields are left for the caller.
func NewRun(spec experiment.Spec, planned, duration, window time.Duration) Run {
	plannedW := max(1, int(planned/window))
	maxW := max(plannedW, int(spec.MaxDuration(planned)/window))
	regressions, wins, minRun := spec.EarlyStopping(planned)
	return Run{Spec: spec, Schedule: analysis.Schedule{Planned: plannedW, Max: maxW}, Extendable: spec.MaxDuration(planned) > duration,
		Expected: max(0, int(duration/window)-1),
		Early:    analysis.EarlyStop{Regressions: regressions, Wins: wins, MinWindows: int(math.Ceil(float64(minRun) / float64(window)))}}
}

// Look decides on the run at one look (see analysis.Decide): only the criteria's metrics count;
// when the spec lists none, every default KPI (experiment.DefaultMetrics) that either variant
// measured does, with its default criterion. dues counts the due looks taken, this one included.
func Look(run Run, kind analysis.LookKind, dues int, cache *analysis.Cache) (Report, error) {
	rep := Report{Method: method, Criteria: "spec"}
	criteria := run.Spec.SuccessCriteria
	if len(criteria) == 0 {
		rep.Criteria = "defaults"
		for _, m := range experiment.DefaultMetrics() {
			if _, measured := run.Series[m]; measured {
				criteria = append(criteria, experiment.DefaultCriterion(m))
			}
		}
	}
	used := map[string]bool{}
	// The look's index is the number of windows complete for both variants, as the metrics' pairs
	// (one statement, one snapshot) count them: the parity read, a statement later, may already
	// see a window that closed in between.
	in := analysis.Input{Schedule: run.Schedule, Look: kind, Dues: dues, Coverage: run.Coverage, Extendable: run.Extendable}
	if kind != analysis.Live {
		in.Expected = run.Expected
	}
	for _, s := range run.Series {
		in.Windows = max(in.Windows, len(s.Baseline))
	}

	parity := run.Parity
	in.Parity = &parity
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
		s := run.Series[c.Metric]
		in.Series = append(in.Series, analysis.Series{
			Criterion: analysis.Criterion{Metric: c.Metric, Direction: d, MinImprovement: c.MinImprovement, Critical: c.Critical,
				Tolerance: c.Tolerance, ToleranceFloor: c.ToleranceFloor},
			Baseline: s.Baseline, Candidate: s.Candidate, Unpaired: max(0, s.Unpaired),
		})
	}
	measured := run.Measured
	if measured == nil {
		for m := range run.Series {
			measured = append(measured, m)
		}
	}
	for _, m := range measured {
		if !used[m] {
			rep.Unused = append(rep.Unused, m)
		}
	}
	sort.Strings(rep.Unused)
	opt := analysis.Options{Cache: cache, EarlyStop: run.Early}
	if a := run.Spec.Analysis; a != nil {
		opt.Alpha, opt.Power, opt.MissTolerance, opt.ParityTolerance = a.Alpha, a.Power, a.CriticalMissTolerance, a.ParityTolerance
	}
	d, err := analysis.Decide(in, opt)
	if err != nil {
		return Report{}, err
	}
	rep.Decision = d
	if run.AA {
		rep.Calibration = calibrate(d)
	}
	if run.Prediction != nil {
		changes := map[string]*analysis.Change{}
		for _, m := range d.Metrics {
			changes[m.Metric] = m.Change
		}
		rep.Prediction = checkPrediction(*run.Prediction, changes, run.Prices)
	}
	return rep, nil
}

// calibrate judges an A/A run: any interval that excludes no change, and any lost critical
// process, is a false alarm.
func calibrate(d analysis.Decision) *Calibration {
	c := &Calibration{FalseAlarms: []string{}}
	for _, m := range d.Metrics {
		if iv := m.Interval; iv != nil && !iv.Drifting && (iv.Low > 0 || iv.High < 0) {
			c.FalseAlarms = append(c.FalseAlarms, m.Summary)
		}
	}
	for _, p := range d.Coverage.Processes {
		c.FalseAlarms = append(c.FalseAlarms, "critical process "+p+" lost")
	}
	c.Holds = len(c.FalseAlarms) == 0
	if c.Holds {
		c.Detail = fmt.Sprintf("both sides ran the same pipeline and nothing differed: every interval contains no change, no critical process was lost; a false alarm happens in at most %.3g%% of such runs",
			100*d.Settings.Alpha)
	} else {
		c.Detail = "both sides ran the same pipeline, yet: " + strings.Join(c.FalseAlarms, "; ") +
			fmt.Sprintf(". At most %.3g%% of A/A runs should show this; if it repeats, the two collectors do not see the same input or are not measured alike", 100*d.Settings.Alpha)
	}
	return c
}

// lookEvent is the look as the gateway streams it.
func lookEvent(id uuid.UUID, rep Report, windowEnd time.Time) events.Look {
	d := rep.Decision
	l := events.Look{ExperimentID: id, Kind: string(d.Look.Kind), Windows: d.Look.Windows, WindowEnd: windowEnd.UTC(),
		Verdict: d.Verdict, Pending: d.Pending, Early: d.Early, Reason: d.Reason, Spent: d.Look.Spent,
		Misses: len(d.Coverage.Misses), Metrics: make([]events.LookMetric, 0, len(d.Metrics))}
	finite := func(x float64) *float64 {
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return nil
		}
		return &x
	}
	for _, m := range d.Metrics {
		lm := events.LookMetric{Metric: m.Metric, Critical: m.Critical, Outcome: m.Outcome, Pairs: m.Pairs}
		if c := m.Change; c != nil {
			lm.Estimate, lm.Low, lm.High = finite(c.Estimate), finite(c.Low), finite(c.High)
		}
		l.Metrics = append(l.Metrics, lm)
	}
	return l
}

// sameChoice reports whether two pipeline choices are the same pipeline (an A/A run): the same
// template with the same parameters (JSON encodes a map with its keys sorted).
func sameChoice(a, b store.PipelineChoice) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}
