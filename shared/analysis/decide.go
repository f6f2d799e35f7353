package analysis

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Direction says which way a metric should move for the candidate to be better.
type Direction int

const (
	// LowerIsBetter suits cost-like metrics: series, datapoints, bytes, CPU, memory.
	LowerIsBetter Direction = iota
	// HigherIsBetter suits coverage-like metrics: critical-process coverage.
	HigherIsBetter
)

// String is the direction's name in specs and reports.
func (d Direction) String() string {
	if d == HigherIsBetter {
		return "higher_is_better"
	}
	return "lower_is_better"
}

// MarshalText writes the direction by name.
func (d Direction) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads lower_is_better or higher_is_better.
func (d *Direction) UnmarshalText(b []byte) error {
	switch string(b) {
	case "lower_is_better":
		*d = LowerIsBetter
	case "higher_is_better":
		*d = HigherIsBetter
	default:
		return fmt.Errorf("%w: direction %q is not lower_is_better or higher_is_better", ErrParameter, b)
	}
	return nil
}

// Outcome is a metric's classification.
type Outcome string

// Outcomes of Classify and Decide.
const (
	Improved     Outcome = "improved"     // a significant change in the better direction that matters
	Regressed    Outcome = "regressed"    // a significant change in the worse direction that matters
	NoChange     Outcome = "no_change"    // no change that matters, with enough data to say so
	Inconclusive Outcome = "inconclusive" // the data cannot tell yet (Decide only)
)

// Classify calls a difference significant when the two-sided p-value is below alpha, which is
// the same as the (1−alpha) confidence interval of Diff excluding zero; the sign of Diff
// (candidate − baseline) and the metric's direction decide better or worse. It is the plain
// rule `phoenix analyze` reports; [Decide] is the full decision.
func Classify(w Welch, dir Direction, alpha float64) Outcome {
	if !(w.P < alpha) || w.Diff == 0 {
		return NoChange
	}
	better := w.Diff < 0
	if dir == HigherIsBetter {
		better = !better
	}
	if better {
		return Improved
	}
	return Regressed
}

// Verdict is the overall decision about the candidate.
type Verdict string

// Verdicts of Decide.
const (
	Promote          Verdict = "promote"      // the candidate is better and harms no guardrail
	Reject           Verdict = "reject"       // the candidate is worse somewhere, or better nowhere
	InsufficientData Verdict = "inconclusive" // the data cannot decide, and the run cannot gather more
	Continue         Verdict = "continue"     // the data cannot decide yet; the run may gather more
)

// Correction names the multiple-comparison adjustment across metrics.
type Correction string

// Corrections Decide applies to the metrics' p-values.
const (
	HolmCorrection              Correction = "holm"               // family-wise error rate ([Holm]); the default
	BenjaminiHochbergCorrection Correction = "benjamini-hochberg" // false discovery rate ([BenjaminiHochberg])
)

// Defaults of Decide's settings.
const (
	DefaultAlpha          = 0.05 // significance level of each family of tests
	DefaultPower          = 0.8  // power the planning rules ask for
	DefaultTolerance      = 0.05 // guardrails: a 5% worsening still counts as no worse
	DefaultPlanningEffect = 0.05 // the relative change the power rule plans for when a metric has no threshold
)

// Criterion is one metric's part in a decision.
type Criterion struct {
	Metric         string    `json:"metric"`              // the metric's name
	Direction      Direction `json:"direction"`           // which way is better
	MinImprovement float64   `json:"min_improvement"`     // smallest relative change that matters, e.g. 0.1 for 10%; 0 means any
	Critical       bool      `json:"critical"`            // a guardrail: must be shown no worse than Tolerance; a regression always rejects
	Tolerance      float64   `json:"tolerance,omitempty"` // guardrails: largest relative worsening that still counts as no worse; 0 means DefaultTolerance
}

// Series is one metric's observations of both variants, oldest first.
type Series struct {
	Criterion
	Baseline  []float64 // the baseline's observations
	Candidate []float64 // the candidate's observations
}

// Options are Decide's settings; the zero value means the defaults.
type Options struct {
	Alpha            float64    // significance level; 0 means DefaultAlpha
	Power            float64    // power of the planning rules; 0 means DefaultPower
	Correction       Correction // across metrics; "" means HolmCorrection
	Batching         Batching   // how observations become independent windows
	PlanningEffect   float64    // relative change the power rule plans for when a metric has no MinImprovement; 0 means DefaultPlanningEffect
	MoreDataPossible bool       // the run can still gather data: answer Continue rather than InsufficientData
}

// Settings are the options Decide used, defaults filled in.
type Settings struct {
	Alpha            float64    `json:"alpha"`              // significance level of each family
	Confidence       float64    `json:"confidence"`         // 1 − Alpha: level of the reported intervals
	Power            float64    `json:"power"`              // power of the planning rules
	Correction       Correction `json:"correction"`         // multiple-comparison adjustment
	Batching         Batching   `json:"batching"`           // windowing as requested (zero: automatic)
	PlanningEffect   float64    `json:"planning_effect"`    // effect planned for metrics without a threshold
	MoreDataPossible bool       `json:"more_data_possible"` // whether Continue was possible
}

// Needed counts the observations each variant still needs.
type Needed struct {
	Baseline  int `json:"baseline"`  // more baseline observations
	Candidate int `json:"candidate"` // more candidate observations
}

// Step is one rule of a decision as it was applied.
type Step struct {
	Rule   string `json:"rule"`   // the rule's name
	Result string `json:"result"` // pass, fail, warn or info
	Detail string `json:"detail"` // what it found, with the numbers
}

// Results of a Step.
const (
	Pass = "pass" // the rule holds
	Fail = "fail" // the rule does not hold
	Warn = "warn" // the rule holds with a caveat
	Info = "info" // a measurement the later rules use
)

// VariantInput is what became of one variant's observations.
type VariantInput struct {
	Observations int     `json:"observations"`       // values received
	NonFinite    int     `json:"non_finite_dropped"` // NaN and ±Inf values left out
	Windows      Windows `json:"windows"`            // the independent windows tested
}

// PowerCheck is the planning rule applied to a metric without a decisive
// result: would the test have seen the change that matters?
type PowerCheck struct {
	Effect          float64 `json:"effect"`                     // the relative change that matters (threshold, tolerance or planning effect)
	EffectAbs       float64 `json:"effect_abs"`                 // Effect × |baseline mean|
	Alpha           float64 `json:"alpha"`                      // level planned for: the Bonferroni share for goals, alpha for guardrails
	Sides           int     `json:"sides"`                      // 2 for goals, 1 for guardrails (non-inferiority)
	MDE             float64 `json:"mde"`                        // smallest change detectable now, absolute
	MDERelative     float64 `json:"mde_relative"`               // MDE / |baseline mean|
	Powered         bool    `json:"powered"`                    // MDE ≤ EffectAbs
	RequiredWindows int     `json:"required_windows,omitempty"` // windows per variant to detect EffectAbs; 0 when powered or unknown
}

// MetricDecision is the outcome for one metric with everything it rests on.
type MetricDecision struct {
	Criterion
	Outcome              Outcome       `json:"outcome"`                           // improved, regressed, no_change or inconclusive
	Reason               string        `json:"reason"`                            // why, in a sentence
	Baseline             VariantInput  `json:"baseline"`                          // the baseline's observations and windows
	Candidate            VariantInput  `json:"candidate"`                         // the candidate's observations and windows
	Welch                *Welch        `json:"welch,omitempty"`                   // Welch's t-test on the windows
	WelchAdjustedP       *float64      `json:"welch_adjusted_p,omitempty"`        // Welch's p after the correction; the rules use it
	MannWhitney          *MannWhitney  `json:"mann_whitney,omitempty"`            // Mann–Whitney U and Hodges–Lehmann on the windows
	MannWhitneyAdjustedP *float64      `json:"mann_whitney_adjusted_p,omitempty"` // Mann–Whitney's p after the correction
	TOST                 *Equivalence  `json:"tost,omitempty"`                    // equivalence test against ±Tolerance (guardrails)
	Power                *PowerCheck   `json:"power,omitempty"`                   // the planning rule, when it was applied
	Needed               *Needed       `json:"additional_observations,omitempty"` // more observations per variant that would decide it
	Trace                []Step        `json:"trace"`                             // the rules applied, in order
	testable             bool          // Welch ran, so the metric is in the correction's family
	constant             *constantPair // both variants constant: the difference is exact
}

// constantPair holds the two values of a metric whose variants are each constant.
type constantPair struct{ base, cand float64 }

// Decision is the result of Decide.
type Decision struct {
	Verdict  Verdict          `json:"verdict"`                           // promote, reject, inconclusive or continue
	Reason   string           `json:"reason"`                            // why, in a sentence
	Needed   *Needed          `json:"additional_observations,omitempty"` // for inconclusive and continue: observations per variant the blocking metrics need
	Settings Settings         `json:"settings"`                          // the options used
	Metrics  []MetricDecision `json:"metrics"`                           // per metric, in input order
	Trace    []Step           `json:"trace"`                             // the overall rules applied, in order
}

// Decide compares candidate with baseline on every metric and decides
// whether to promote it. It is pure: the same input always gives the same
// Decision.
//
// Per metric, in order (each step is recorded in MetricDecision.Trace):
//
//  1. inputs: NaN and ±Inf observations are dropped and counted; fewer than
//     two per variant is inconclusive.
//  2. windows: both variants are cut into windows of the same size (see
//     [WindowSize] and [BatchMeans]), because observations taken one after
//     another are autocorrelated and the tests assume independence; every
//     later test runs on the window means. Windows that remain correlated
//     are reported as a warning.
//  3. tests: Welch's t-test ([WelchTTest]) and Mann–Whitney U with the
//     Hodges–Lehmann shift ([MannWhitneyU]) at confidence 1 − alpha; for a
//     critical metric, TOST ([TOST]) against ±Tolerance of the baseline
//     mean. When both variants are constant the difference is exact and no
//     test is needed.
//  4. correction: Welch's p-values of all tested metrics are adjusted
//     together (Holm by default), and so are Mann–Whitney's.
//  5. classification, on the adjusted p and the relative change (candidate
//     − baseline over |baseline mean|) oriented so that positive is better:
//     - a goal (not critical) has improved when the change is significant,
//     better, and at least MinImprovement; regressed when significant,
//     worse and at least MinImprovement; no_change when significant but
//     smaller than MinImprovement, or not significant while the test had
//     the power to detect MinImprovement (or PlanningEffect when
//     MinImprovement is 0) — see [MinimumDetectableEffect], planned at the
//     Bonferroni share alpha/m, the most stringent level Holm uses —;
//     otherwise inconclusive, with the windows needed from
//     [RequiredSampleSize].
//     - a guardrail (critical) has regressed when the change is significant,
//     worse and beyond Tolerance; improved when it is shown no worse than
//     Tolerance (the worse-side test of TOST, at alpha: non-inferiority)
//     and is significantly better by at least MinImprovement; no_change
//     when shown no worse otherwise; otherwise inconclusive, with the
//     windows a non-inferiority test needs.
//     - an improvement must be confirmed by Mann–Whitney (adjusted p below
//     alpha, Hodges–Lehmann shift in the better direction), or it is
//     inconclusive: a mean moved by outliers is no reason to promote. A
//     regression needs no confirmation; rejecting is the safe side.
//
// Overall, in order (recorded in Decision.Trace): a critical metric that
// regressed rejects; a goal that regressed rejects; when nothing improved
// and nothing is inconclusive, the candidate is better nowhere and is
// rejected; when something improved and every guardrail is shown no worse,
// it is promoted; otherwise the data cannot decide: Continue if
// MoreDataPossible, else InsufficientData, with the observations per
// variant the blocking metrics need (the largest of their needs).
//
// Guardrails need no correction for being several: promotion needs all of
// them shown no worse, an intersection–union test, which holds its level
// with each at alpha (Berger 1982). Goals do: promotion needs any one
// improved, a union–intersection test.
//
// An interim decision on a run that may continue (MoreDataPossible) uses the
// same alpha at every look; looking repeatedly raises the chance of a false
// promotion. Callers that look often should lower Alpha (a Pocock or
// O'Brien–Fleming boundary; Jennison & Turnbull 2000).
//
// Decide returns an error wrapping ErrParameter for invalid options or
// criteria (an empty or repeated metric name, a negative or non-finite
// threshold or tolerance); data it cannot use is reported per metric.
//
// References:
//   - R. L. Berger (1982), Multiparameter hypothesis testing and acceptance
//     sampling, Technometrics 24(4):295–300.
//   - S. Holm (1979), A simple sequentially rejective multiple test
//     procedure, Scandinavian Journal of Statistics 6(2):65–70.
//   - C. Jennison, B. W. Turnbull (2000), Group Sequential Methods with
//     Applications to Clinical Trials, Chapman & Hall/CRC.
func Decide(series []Series, opt Options) (Decision, error) {
	set, err := opt.resolve()
	if err != nil {
		return Decision{}, err
	}
	seen := map[string]bool{}
	for _, s := range series {
		c := s.Criterion
		switch {
		case c.Metric == "" || seen[c.Metric]:
			return Decision{}, fmt.Errorf("%w: metric name %q is empty or repeated", ErrParameter, c.Metric)
		case c.Direction != LowerIsBetter && c.Direction != HigherIsBetter:
			return Decision{}, fmt.Errorf("%w: %s: unknown direction %d", ErrParameter, c.Metric, c.Direction)
		case !(c.MinImprovement >= 0) || !isFinite(c.MinImprovement) || !(c.Tolerance >= 0) || !isFinite(c.Tolerance):
			return Decision{}, fmt.Errorf("%w: %s: min_improvement %v and tolerance %v must be finite and not negative",
				ErrParameter, c.Metric, c.MinImprovement, c.Tolerance)
		}
		seen[c.Metric] = true
	}

	d := Decision{Settings: set, Metrics: make([]MetricDecision, len(series))}
	for i, s := range series {
		d.Metrics[i] = measure(s, set)
	}
	if err := correct(d.Metrics, set); err != nil {
		return Decision{}, err
	}
	family := 0
	for _, m := range d.Metrics {
		if m.testable {
			family++
		}
	}
	for i := range d.Metrics {
		classify(&d.Metrics[i], set, family)
	}
	d.verdict()
	return d, nil
}

// resolve fills in defaults and validates the options.
func (o Options) resolve() (Settings, error) {
	s := Settings{Alpha: o.Alpha, Power: o.Power, Correction: o.Correction, Batching: o.Batching,
		PlanningEffect: o.PlanningEffect, MoreDataPossible: o.MoreDataPossible}
	if s.Alpha == 0 {
		s.Alpha = DefaultAlpha
	}
	if s.Power == 0 {
		s.Power = DefaultPower
	}
	if s.Correction == "" {
		s.Correction = HolmCorrection
	}
	if s.PlanningEffect == 0 {
		s.PlanningEffect = DefaultPlanningEffect
	}
	switch {
	case !(s.Alpha > 0 && s.Alpha < 0.5):
		return Settings{}, fmt.Errorf("%w: alpha %v outside (0, 0.5)", ErrParameter, s.Alpha)
	case !(s.Power >= 0.5 && s.Power < 1):
		return Settings{}, fmt.Errorf("%w: power %v outside [0.5, 1)", ErrParameter, s.Power)
	case s.Correction != HolmCorrection && s.Correction != BenjaminiHochbergCorrection:
		return Settings{}, fmt.Errorf("%w: correction %q is not holm or benjamini-hochberg", ErrParameter, s.Correction)
	case !(s.PlanningEffect > 0) || !isFinite(s.PlanningEffect):
		return Settings{}, fmt.Errorf("%w: planning effect %v", ErrParameter, s.PlanningEffect)
	}
	if _, err := WindowSize(s.Batching); err != nil {
		return Settings{}, err
	}
	s.Confidence = 1 - s.Alpha
	return s, nil
}

// finite returns xs without NaN and ±Inf, and how many it left out; xs
// itself when it is clean.
func finite(xs []float64) ([]float64, int) {
	bad := 0
	for _, x := range xs {
		if !isFinite(x) {
			bad++
		}
	}
	if bad == 0 {
		return xs, 0
	}
	out := make([]float64, 0, len(xs)-bad)
	for _, x := range xs {
		if isFinite(x) {
			out = append(out, x)
		}
	}
	return out, bad
}

// measure runs steps 1–3 for one metric: inputs, windows, tests.
func measure(s Series, set Settings) MetricDecision {
	md := MetricDecision{Criterion: s.Criterion}
	if md.Critical && md.Tolerance == 0 {
		md.Tolerance = DefaultTolerance
	}
	b, badB := finite(s.Baseline)
	c, badC := finite(s.Candidate)
	md.Baseline = VariantInput{Observations: len(s.Baseline), NonFinite: badB}
	md.Candidate = VariantInput{Observations: len(s.Candidate), NonFinite: badC}
	detail := fmt.Sprintf("baseline %d observations, candidate %d", len(s.Baseline), len(s.Candidate))
	if badB+badC > 0 {
		detail += fmt.Sprintf("; dropped as NaN or infinite: baseline %d, candidate %d", badB, badC)
	}
	if len(b) < 2 || len(c) < 2 {
		md.add("inputs", Fail, detail+"; each variant needs at least 2")
		md.inconclusive(fmt.Sprintf("too few observations (baseline %d, candidate %d; at least 2 each)", len(b), len(c)),
			&Needed{Baseline: max(0, 2-len(b)), Candidate: max(0, 2-len(c))})
		return md
	}
	md.add("inputs", Pass, detail)

	size, err := WindowSize(set.Batching, b, c)
	if err != nil { // resolve validated the batching
		md.add("windows", Fail, err.Error())
		md.inconclusive("windowing failed: "+err.Error(), nil)
		return md
	}
	bw, _ := BatchMeans(b, size, set.Batching.MaxLag1)
	cw, _ := BatchMeans(c, size, set.Batching.MaxLag1)
	md.Baseline.Windows, md.Candidate.Windows = bw, cw
	detail = "baseline: " + bw.Note + "; candidate: " + cw.Note
	if bw.Count < 2 || cw.Count < 2 {
		md.add("windows", Fail, detail+"; each variant needs at least 2 windows")
		md.inconclusive(fmt.Sprintf("too few windows of %d observations (baseline %d, candidate %d; at least 2 each)", size, bw.Count, cw.Count),
			&Needed{Baseline: max(0, 2*size-len(b)), Candidate: max(0, 2*size-len(c))})
		return md
	}
	if bw.Independent && cw.Independent {
		md.add("windows", Pass, detail)
	} else {
		md.add("windows", Warn, detail)
	}

	w, err := WelchTTest(bw.Means, cw.Means, set.Confidence)
	switch {
	case errors.Is(err, ErrZeroVariance):
		md.constant = &constantPair{base: bw.Means[0], cand: cw.Means[0]}
		md.add("welch", Info, fmt.Sprintf("both variants are constant (baseline %g, candidate %g): the difference is exact, no test is needed",
			md.constant.base, md.constant.cand))
		return md
	case err != nil:
		md.add("welch", Fail, err.Error())
		md.inconclusive("Welch's test failed: "+err.Error(), nil)
		return md
	}
	md.Welch, md.testable = &w, true
	md.add("welch", Info, fmt.Sprintf("change %s (%g%% CI %s to %s), t = %.4g, df = %.4g, p = %.3g",
		relOrAbs(w.RelDefined, w.RelChange, w.Diff), 100*set.Confidence,
		relOrAbs(w.RelDefined, w.RelLow, w.CILow), relOrAbs(w.RelDefined, w.RelHigh, w.CIHigh), w.T, w.DF, w.P))

	if u, err := MannWhitneyU(bw.Means, cw.Means, set.Confidence); err == nil {
		md.MannWhitney = &u
		method := "normal approximation"
		if u.Exact {
			method = "exact"
		}
		md.add("mann-whitney", Info, fmt.Sprintf("Hodges–Lehmann shift %s (%.4g%% CI %s to %s), U = %g, p = %.3g (%s)",
			relOrAbs(u.RelDefined, u.RelShift, u.Shift), 100*u.Coverage, relOrAbs(u.RelDefined, u.RelLow, u.ShiftLow),
			relOrAbs(u.RelDefined, u.RelHigh, u.ShiftHigh), u.U, u.P, method))
	} else {
		md.add("mann-whitney", Warn, "not computed: "+err.Error())
	}

	if md.Critical {
		e, err := TOST(w, Margin{Lower: -md.Tolerance, Upper: md.Tolerance, Relative: true}, set.Alpha)
		if err != nil {
			md.add("tost", Warn, "not computed: "+err.Error())
		} else {
			md.TOST = &e
			md.add("tost", Info, fmt.Sprintf("equivalence within ±%s: p = %.3g (lower %.3g, upper %.3g); %g%% CI %s to %s",
				pct(md.Tolerance), e.P, e.PLower, e.PUpper, 100*(1-2*set.Alpha),
				relOrAbs(w.RelDefined, e.CILow/math.Abs(w.Mean1), e.CILow), relOrAbs(w.RelDefined, e.CIHigh/math.Abs(w.Mean1), e.CIHigh)))
		}
	}
	return md
}

// correct adjusts the Welch and Mann–Whitney p-values of the tested metrics.
func correct(ms []MetricDecision, set Settings) error {
	var welch, mw []float64
	var wi, mi []int
	for i, m := range ms {
		if m.testable {
			welch, wi = append(welch, m.Welch.P), append(wi, i)
		}
		if m.testable && m.MannWhitney != nil {
			mw, mi = append(mw, m.MannWhitney.P), append(mi, i)
		}
	}
	fn := Holm
	if set.Correction == BenjaminiHochbergCorrection {
		fn = BenjaminiHochberg
	}
	aw, err := fn(welch)
	if err != nil {
		return fmt.Errorf("adjust Welch p-values: %w", err)
	}
	am, err := fn(mw)
	if err != nil {
		return fmt.Errorf("adjust Mann–Whitney p-values: %w", err)
	}
	for k, i := range wi {
		ms[i].WelchAdjustedP = &aw[k]
	}
	for k, i := range mi {
		ms[i].MannWhitneyAdjustedP = &am[k]
	}
	return nil
}

// classify runs steps 4–5 for one metric; family is the number of metrics
// in the correction.
func classify(md *MetricDecision, set Settings, family int) {
	switch {
	case md.Outcome != "": // decided while measuring: untestable
		return
	case md.constant != nil:
		md.classifyExact()
		return
	}
	w := *md.Welch
	p := *md.WelchAdjustedP
	md.add("correction", Info, fmt.Sprintf("%s across %d metrics: Welch p %.3g → %.3g", set.Correction, family, w.P, p))
	significant := p < set.Alpha
	gain, gainAbs := md.orient(w.RelChange), md.orient(w.Diff)
	better := gainAbs > 0
	changeText := relOrAbs(w.RelDefined, w.RelChange, w.Diff)
	if significant {
		md.add("significance", Pass, fmt.Sprintf("adjusted p %.3g < alpha %g: the candidate is %s (%s)", p, set.Alpha, betterWorse(better), changeText))
	} else {
		md.add("significance", Fail, fmt.Sprintf("adjusted p %.3g ≥ alpha %g: no significant change (%s)", p, set.Alpha, changeText))
	}
	if md.Critical {
		md.classifyGuardrail(set, significant, better, gain)
	} else {
		md.classifyGoal(set, family, significant, better, gain)
	}
}

// classifyGoal applies the goal rules to a tested metric.
func (md *MetricDecision) classifyGoal(set Settings, family int, significant, better bool, gain float64) {
	w := *md.Welch
	t := md.MinImprovement
	if significant {
		size := math.Abs(gain)
		if w.RelDefined && size < t {
			md.add("threshold", Fail, fmt.Sprintf("the change of %s is below the %s that matters", pct(size), pct(t)))
			md.decide(NoChange, fmt.Sprintf("significantly %s by %s, less than the %s threshold", betterWorse(better), pct(size), pct(t)))
			return
		}
		if t > 0 {
			md.add("threshold", Pass, fmt.Sprintf("the change of %s reaches the %s that matters", relOrAbs(w.RelDefined, size, math.Abs(w.Diff)), pct(t)))
		}
		if !better {
			md.decide(Regressed, fmt.Sprintf("significantly worse by %s (adjusted p %.3g)", relOrAbs(w.RelDefined, size, math.Abs(w.Diff)), *md.WelchAdjustedP))
			return
		}
		if md.confirmed(set) {
			md.decide(Improved, fmt.Sprintf("significantly better by %s (adjusted p %.3g), confirmed by Mann–Whitney", relOrAbs(w.RelDefined, size, math.Abs(w.Diff)), *md.WelchAdjustedP))
		}
		return
	}
	effect := t
	if effect == 0 {
		effect = set.PlanningEffect
	}
	md.planPower(set, effect, set.Alpha/float64(family), 2, "a change of")
}

// classifyGuardrail applies the guardrail rules to a tested metric.
func (md *MetricDecision) classifyGuardrail(set Settings, significant, better bool, gain float64) {
	w := *md.Welch
	tol := md.Tolerance
	if significant && !better && (!w.RelDefined || -gain > tol) {
		md.add("tolerance", Fail, fmt.Sprintf("worse by %s, beyond the %s tolerance", relOrAbs(w.RelDefined, -gain, -md.orient(w.Diff)), pct(tol)))
		md.decide(Regressed, fmt.Sprintf("guardrail broken: significantly worse by %s, beyond the %s tolerance (adjusted p %.3g)",
			relOrAbs(w.RelDefined, -gain, -md.orient(w.Diff)), pct(tol), *md.WelchAdjustedP))
		return
	}
	if md.TOST == nil {
		md.add("non-inferiority", Fail, "not tested: the relative tolerance needs a baseline mean other than 0")
		md.inconclusive("cannot test the guardrail: its tolerance is relative and the baseline mean is 0", nil)
		return
	}
	// The worse side of TOST: for lower is better, H₀ "Diff ≥ +tol"; else "Diff ≤ −tol".
	pNI, worstEnd := md.TOST.PUpper, md.TOST.CIHigh
	if md.Direction == HigherIsBetter {
		pNI, worstEnd = md.TOST.PLower, md.TOST.CILow
	}
	worst := worstCase(-md.orient(worstEnd)/math.Abs(w.Mean1), 100*(1-2*set.Alpha))
	if pNI < set.Alpha {
		md.add("non-inferiority", Pass, fmt.Sprintf("no worse than %s: p %.3g < alpha %g; %s", pct(tol), pNI, set.Alpha, worst))
		if significant && better && gain >= md.MinImprovement {
			if md.confirmed(set) {
				md.decide(Improved, fmt.Sprintf("significantly better by %s (adjusted p %.3g), confirmed by Mann–Whitney", pct(gain), *md.WelchAdjustedP))
			}
			return
		}
		md.decide(NoChange, fmt.Sprintf("no worse than the %s tolerance (non-inferiority p %.3g)", pct(tol), pNI))
		return
	}
	md.add("non-inferiority", Fail, fmt.Sprintf("not shown no worse than %s: p %.3g ≥ alpha %g; %s", pct(tol), pNI, set.Alpha, worst))
	md.planPower(set, tol, set.Alpha, 1, "no worse than")
}

// worstCase describes the worse end of a guardrail's interval, given as the
// relative worsening it allows (negative when even that end is better).
func worstCase(worsening, level float64) string {
	if worsening <= 0 {
		return fmt.Sprintf("even the worse end of the %.3g%% interval is %s better", level, pct(-worsening))
	}
	return fmt.Sprintf("the %.3g%% interval reaches %s worse", level, pct(worsening))
}

// confirmed applies the robustness rule to an improvement: Mann–Whitney
// must agree. It records the step and, if the rule fails, the outcome.
func (md *MetricDecision) confirmed(set Settings) bool {
	u := md.MannWhitney
	if u == nil || md.MannWhitneyAdjustedP == nil {
		md.add("robustness", Fail, "Mann–Whitney could not be computed")
		md.inconclusive("improved by Welch's test, but Mann–Whitney could not confirm it", nil)
		return false
	}
	p := *md.MannWhitneyAdjustedP
	if p < set.Alpha && md.orient(u.Shift) > 0 {
		md.add("robustness", Pass, fmt.Sprintf("Mann–Whitney agrees: adjusted p %.3g, Hodges–Lehmann shift %s", p, relOrAbs(u.RelDefined, u.RelShift, u.Shift)))
		return true
	}
	md.add("robustness", Fail, fmt.Sprintf("Mann–Whitney does not confirm: adjusted p %.3g, Hodges–Lehmann shift %s", p, relOrAbs(u.RelDefined, u.RelShift, u.Shift)))
	md.inconclusive("Welch's test shows an improvement that Mann–Whitney does not confirm: outliers or a skewed distribution may drive the mean; more windows may settle it", nil)
	return false
}

// planPower applies the planning rule: a metric whose test had the power to
// detect the change that matters shows no change; otherwise it is
// inconclusive with the windows it needs. For a goal (sides 2) the change
// is effect × |baseline mean|. For a guardrail (sides 1, non-inferiority)
// it is the distance from the estimate to the tolerance: the tolerance
// less the observed worsening, if any, which is the difference a
// non-inferiority test must resolve if the estimate is the truth (with no
// worsening, the usual planning assumption of a true difference of 0).
func (md *MetricDecision) planPower(set Settings, effect, alpha float64, sides int, what string) {
	w := *md.Welch
	base := math.Abs(w.Mean1)
	if base == 0 {
		md.add("power", Fail, "not planned: the relative effect needs a baseline mean other than 0")
		md.inconclusive("no significant change, and with a baseline mean of 0 the change that matters is undefined", nil)
		return
	}
	target := effect * base
	if sides == 1 {
		target -= max(0, -md.orient(w.Diff))
		if target <= 0 {
			md.add("power", Fail, fmt.Sprintf("the estimate is already worse than the %s tolerance, though not significantly", pct(effect)))
			md.inconclusive(fmt.Sprintf("worse by about the %s tolerance or more, not significantly: more data will tell", pct(effect)), nil)
			return
		}
	}
	pc := PowerCheck{Effect: target / base, EffectAbs: target, Alpha: alpha, Sides: sides}
	mde, err := MinimumDetectableEffect(w.Var1, w.N1, w.Var2, w.N2, alpha, set.Power, sides)
	if err != nil {
		md.add("power", Fail, err.Error())
		md.inconclusive("the power rule failed: "+err.Error(), nil)
		return
	}
	pc.MDE, pc.MDERelative = mde, mde/base
	pc.Powered = mde <= target
	md.Power = &pc
	if pc.Powered {
		// Only for goals: a failed non-inferiority test has MDE above its
		// target, as both use the same t quantile and standard error.
		md.add("power", Pass, fmt.Sprintf("%s %s would have been detected with power %g: detectable now %s", what, pct(effect), set.Power, pct(pc.MDERelative)))
		md.decide(NoChange, fmt.Sprintf("no significant change, and %s %s would have been detected (detectable: %s)", what, pct(effect), pct(pc.MDERelative)))
		return
	}
	size := md.Baseline.Windows.Size
	n, err := RequiredSampleSize(w.Var1, w.Var2, target, alpha, set.Power, sides)
	if err != nil {
		md.add("power", Fail, fmt.Sprintf("the test detects %s, not %s %s; %v", pct(pc.MDERelative), what, pct(effect), err))
		md.inconclusive(fmt.Sprintf("too little data to see %s %s, and no feasible amount would do", what, pct(effect)), nil)
		return
	}
	pc.RequiredWindows = n
	need := &Needed{Baseline: max(0, n-w.N1) * size, Candidate: max(0, n-w.N2) * size}
	md.add("power", Fail, fmt.Sprintf("the test resolves %s, not the %s needed for %s %s: %d windows of %d per variant are needed (have %d and %d)",
		pct(pc.MDERelative), pct(pc.Effect), what, pct(effect), n, size, w.N1, w.N2))
	md.inconclusive(fmt.Sprintf("not enough data for %s %s: about %d more baseline and %d more candidate observations",
		what, pct(effect), need.Baseline, need.Candidate), need)
}

// classifyExact classifies a metric whose variants are both constant.
func (md *MetricDecision) classifyExact() {
	b, c := md.constant.base, md.constant.cand
	if b == c {
		md.add("exact", Pass, fmt.Sprintf("both variants are constant at %g", b))
		md.decide(NoChange, fmt.Sprintf("both variants constant at %g", b))
		return
	}
	gainAbs := md.orient(c - b)
	better := gainAbs > 0
	gain := math.Inf(1) // relative change against a zero baseline: any change is total
	if b != 0 {
		gain = gainAbs / math.Abs(b)
	}
	size := math.Abs(gain)
	text := fmt.Sprintf("constant %g against constant %g", c, b)
	limit := md.MinImprovement
	if md.Critical && !better {
		limit = md.Tolerance
	}
	matters := size >= limit
	if md.Critical && !better {
		matters = size > limit
	}
	switch {
	case !matters:
		md.add("exact", Pass, text+fmt.Sprintf(": a change of %s, within %s", pct(size), pct(limit)))
		md.decide(NoChange, text+": within the threshold")
	case better:
		md.add("exact", Pass, text+fmt.Sprintf(": better by %s", pct(size)))
		md.decide(Improved, text+fmt.Sprintf(": better by %s", pct(size)))
	default:
		md.add("exact", Fail, text+fmt.Sprintf(": worse by %s", pct(size)))
		md.decide(Regressed, text+fmt.Sprintf(": worse by %s", pct(size)))
	}
}

// orient turns a candidate − baseline quantity into a gain: positive when
// the candidate is better.
func (md *MetricDecision) orient(v float64) float64 {
	if md.Direction == LowerIsBetter {
		return -v
	}
	return v
}

func (md *MetricDecision) add(rule, result, detail string) {
	md.Trace = append(md.Trace, Step{Rule: rule, Result: result, Detail: detail})
}

func (md *MetricDecision) decide(o Outcome, reason string) {
	md.Outcome, md.Reason = o, reason
}

func (md *MetricDecision) inconclusive(reason string, need *Needed) {
	md.Outcome, md.Reason, md.Needed = Inconclusive, reason, need
}

// verdict applies the overall rules to the classified metrics.
func (d *Decision) verdict() {
	add := func(rule, result, detail string) {
		d.Trace = append(d.Trace, Step{Rule: rule, Result: result, Detail: detail})
	}
	var regressedCritical, regressedGoal, improved, openGuardrails, openGoals []string
	warned := []string{}
	for _, m := range d.Metrics {
		switch {
		case m.Outcome == Regressed && m.Critical:
			regressedCritical = append(regressedCritical, m.Metric)
		case m.Outcome == Regressed:
			regressedGoal = append(regressedGoal, m.Metric)
		case m.Outcome == Improved:
			improved = append(improved, m.Metric)
		case m.Outcome == Inconclusive && m.Critical:
			openGuardrails = append(openGuardrails, m.Metric)
		case m.Outcome == Inconclusive:
			openGoals = append(openGoals, m.Metric)
		}
		if !m.Baseline.Windows.Independent && m.Baseline.Windows.Count > 0 || !m.Candidate.Windows.Independent && m.Candidate.Windows.Count > 0 {
			warned = append(warned, m.Metric)
		}
	}
	if len(warned) > 0 {
		add("independence", Warn, "windows still autocorrelated, so their p-values are too small: "+strings.Join(warned, ", "))
	}
	if len(d.Metrics) == 0 {
		add("metrics", Fail, "no metrics to decide on")
		d.undecided("no metrics to decide on", nil)
		return
	}
	if len(regressedCritical) > 0 {
		add("critical regression", Fail, "guardrails broken: "+d.reasons(regressedCritical))
		d.Verdict, d.Reason = Reject, "a critical metric regressed: "+d.reasons(regressedCritical)
		return
	}
	add("critical regression", Pass, "no critical metric regressed")
	if len(regressedGoal) > 0 {
		add("goal regression", Fail, "regressed: "+d.reasons(regressedGoal))
		d.Verdict, d.Reason = Reject, "a metric regressed: "+d.reasons(regressedGoal)
		return
	}
	add("goal regression", Pass, "no other metric regressed")
	if len(improved) == 0 && len(openGuardrails)+len(openGoals) == 0 {
		add("improvement", Fail, "no metric improved, and every metric had the data to show it")
		d.Verdict, d.Reason = Reject, "no metric improved: "+d.reasons(names(d.Metrics))
		return
	}
	if len(improved) > 0 {
		add("improvement", Pass, "improved: "+d.reasons(improved))
	} else {
		add("improvement", Fail, "nothing improved yet; undecided: "+strings.Join(append(append([]string{}, openGoals...), openGuardrails...), ", "))
	}
	if len(openGuardrails) > 0 {
		add("guardrails", Fail, "not yet shown no worse: "+d.reasons(openGuardrails))
	} else {
		add("guardrails", Pass, "every critical metric is shown no worse")
	}
	if len(improved) > 0 && len(openGuardrails) == 0 {
		d.Verdict, d.Reason = Promote, "improved: "+d.reasons(improved)
		if g := critical(d.Metrics); len(g) > 0 {
			d.Reason += "; guardrails hold: " + strings.Join(g, ", ")
		}
		return
	}
	blocking := openGuardrails
	if len(improved) == 0 {
		blocking = append(append([]string{}, openGoals...), openGuardrails...)
	}
	var need *Needed
	unknown := []string{}
	for _, m := range d.Metrics {
		if !slices.Contains(blocking, m.Metric) {
			continue
		}
		if m.Needed == nil {
			unknown = append(unknown, m.Metric)
			continue
		}
		if need == nil {
			need = &Needed{}
		}
		need.Baseline = max(need.Baseline, m.Needed.Baseline)
		need.Candidate = max(need.Candidate, m.Needed.Candidate)
	}
	detail := "undecided: " + d.reasons(blocking)
	if need != nil {
		detail += fmt.Sprintf("; about %d more baseline and %d more candidate observations would decide the planned metrics", need.Baseline, need.Candidate)
	}
	if len(unknown) > 0 {
		detail += "; no estimate for " + strings.Join(unknown, ", ")
	}
	add("enough data", Fail, detail)
	d.undecided(detail, need)
}

// undecided sets Continue or InsufficientData.
func (d *Decision) undecided(reason string, need *Needed) {
	d.Verdict, d.Reason, d.Needed = InsufficientData, reason, need
	if d.Settings.MoreDataPossible {
		d.Verdict = Continue
	}
}

// reasons lists the named metrics with their reasons.
func (d *Decision) reasons(metrics []string) string {
	var parts []string
	for _, m := range d.Metrics {
		if slices.Contains(metrics, m.Metric) {
			parts = append(parts, m.Metric+" ("+m.Reason+")")
		}
	}
	return strings.Join(parts, "; ")
}

func names(ms []MetricDecision) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Metric
	}
	return out
}

func critical(ms []MetricDecision) []string {
	var out []string
	for _, m := range ms {
		if m.Critical {
			out = append(out, m.Metric)
		}
	}
	return out
}

// pct formats a fraction as a percentage.
func pct(f float64) string {
	if math.IsInf(f, 0) {
		return "all of it"
	}
	return fmt.Sprintf("%.3g%%", 100*f)
}

// relOrAbs formats a change relative to the baseline when that is defined,
// else absolute.
func relOrAbs(relDefined bool, rel, abs float64) string {
	if relDefined {
		return fmt.Sprintf("%+.3g%%", 100*rel)
	}
	return fmt.Sprintf("%+.4g", abs)
}

func betterWorse(better bool) string {
	if better {
		return "better"
	}
	return "worse"
}
