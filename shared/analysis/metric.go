package analysis

import (
	"errors"
	"fmt"
	"math"
)

// Series is one metric's observations, paired by window: Baseline[i] and Candidate[i] come from
// the same window, so whatever both variants saw in it (process churn, load) cancels in their
// comparison.
type Series struct {
	Criterion
	Baseline  []float64 // the baseline's value in each window complete for both, oldest first
	Candidate []float64 // the candidate's value in the same windows
	Unpaired  int       // windows in which only one variant had a value for this metric (left out)
}

// Scale names how a metric's pairs are compared.
type Scale string

// Scales of a metric.
const (
	// LogRatio compares ln(candidate/baseline) per window: its mean is the log of the geometric
	// mean ratio, so the change is relative and multiplicative host-wide variation cancels. Used
	// when every value is positive.
	LogRatio Scale = "log_ratio"
	// Difference compares candidate − baseline per window, when some value is 0 or negative; the
	// relative change is then the difference over the baseline's mean.
	Difference Scale = "difference"
)

// PairedDifferences returns the per-pair differences of candidate against baseline (equal lengths,
// finite values) on the scale that suits them: ln(cᵢ/bᵢ) when every value is positive, else
// cᵢ − bᵢ.
func PairedDifferences(baseline, candidate []float64) ([]float64, Scale) {
	scale := LogRatio
	for i := range baseline {
		if !(baseline[i] > 0 && candidate[i] > 0) {
			scale = Difference
			break
		}
	}
	d := make([]float64, len(baseline))
	for i := range baseline {
		if scale == LogRatio {
			d[i] = math.Log(candidate[i] / baseline[i])
		} else {
			d[i] = candidate[i] - baseline[i]
		}
	}
	return d, scale
}

// Relative converts a value on the scale to a relative change of the candidate (−0.2 for 20%
// less); base is |the baseline's mean|, the unit of the Difference scale (a zero base gives ±Inf).
func (s Scale) Relative(theta, base float64) float64 {
	if s == LogRatio {
		return math.Expm1(theta)
	}
	if base == 0 {
		return math.Copysign(math.Inf(1), theta)
	}
	return theta / base
}

// LeftOut counts the windows of a metric left out of its comparison, by reason.
type LeftOut struct {
	Unpaired  int `json:"unpaired"`   // only one variant had a value in the window
	NonFinite int `json:"non_finite"` // a NaN or ±Inf value
}

// Change is the candidate's change relative to the baseline, with its interval: −0.807 is 80.7%
// less than the baseline.
type Change struct {
	Estimate float64 `json:"estimate"`
	Low      float64 `json:"low"`
	High     float64 `json:"high"`
}

// MetricDecision is one metric's outcome at a look, with everything it rests on.
type MetricDecision struct {
	Criterion
	Outcome       Outcome   `json:"outcome"`                  // improved, regressed, no_change or undecided
	Summary       string    `json:"summary"`                  // the change, its interval, the direction and the outcome in one line
	Reason        string    `json:"reason"`                   // why, in a sentence
	Scale         Scale     `json:"scale"`                    // how the pairs are compared
	Pairs         int       `json:"pairs"`                    // windows compared
	LeftOut       LeftOut   `json:"left_out"`                 // windows not compared, by reason
	BaselineMean  float64   `json:"baseline_mean"`            // mean over the windows compared
	CandidateMean float64   `json:"candidate_mean"`           // mean over the windows compared
	Change        *Change   `json:"change,omitempty"`         // relative change and its interval
	Interval      *Interval `json:"interval,omitempty"`       // the interval on Scale, with its autocorrelation guard
	WindowsNeeded int       `json:"windows_needed,omitempty"` // paired windows that would likely decide it (undecided only)
	Trace         []Step    `json:"trace"`                    // the rules applied, in order
	baseScale     float64   // |baseline mean|, the unit of relative margins on the Difference scale
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

// judgement carries what a metric's classification needs besides the series.
type judgement struct {
	level   float64             // the interval's error level at this look
	set     Settings            // the decision's settings
	levelAt func(n int) float64 // the level a look at n windows would have (planning)
	limit   int                 // the most windows the planning searches
	plan    bool                // estimate the windows an undecided metric needs (due looks only: live looks come again)
	cache   *Cache              // critical values
}

// judge compares one metric's pairs at one look: the pairs' differences on their scale, their
// autocorrelation-robust interval (MeanInterval), and the outcome the interval allows.
func judge(s Series, j judgement) MetricDecision {
	md := MetricDecision{Criterion: s.Criterion, Outcome: Undecided, LeftOut: LeftOut{Unpaired: s.Unpaired}, Trace: []Step{}}
	var b, c []float64
	for i := range min(len(s.Baseline), len(s.Candidate)) {
		if !isFinite(s.Baseline[i]) || !isFinite(s.Candidate[i]) {
			md.LeftOut.NonFinite++
			continue
		}
		b, c = append(b, s.Baseline[i]), append(c, s.Candidate[i])
	}
	md.LeftOut.Unpaired += max(len(s.Baseline), len(s.Candidate)) - min(len(s.Baseline), len(s.Candidate))
	md.Pairs = len(b)
	d, scale := PairedDifferences(b, c)
	md.Scale = scale
	if len(b) > 0 {
		md.BaselineMean, md.CandidateMean = compensatedSum(b)/float64(len(b)), compensatedSum(c)/float64(len(c))
		md.baseScale = math.Abs(md.BaselineMean)
	}
	md.add("pairs", Info, fmt.Sprintf("%d windows compared on the %s scale; left out: %d with one variant only, %d non-finite",
		md.Pairs, md.Scale, md.LeftOut.Unpaired, md.LeftOut.NonFinite))
	iv, err := MeanInterval(d, j.level, j.cache)
	switch {
	case errors.Is(err, ErrTooFewSamples):
		md.add("interval", Fail, fmt.Sprintf("%d paired windows; an interval needs 3", md.Pairs))
		md.undecided(fmt.Sprintf("only %d paired windows so far", md.Pairs), 0)
		return md
	case err != nil:
		md.add("interval", Fail, err.Error())
		md.undecided("the interval could not be computed: "+err.Error(), 0)
		return md
	}
	md.Interval = &iv
	if iv.Drifting {
		md.add("autocorrelation", Fail, fmt.Sprintf("lag-1 autocorrelation %.2f: the differences drift more persistently than the %.1f the error rates are made for", iv.Lag1, MaxLag1))
		md.undecided(fmt.Sprintf("the per-window differences drift (lag-1 autocorrelation %.2f): no interval holds its level on them", iv.Lag1), 0)
		return md
	}
	md.Change = &Change{Estimate: md.relative(iv.Mean), Low: md.relative(iv.Low), High: md.relative(iv.High)}
	md.add("interval", Info, md.intervalDetail(iv))
	if md.Critical {
		md.classifyGuardrail(j)
	} else {
		md.classifyGoal(j)
	}
	md.Summary = fmt.Sprintf("%s %s [%s, %s], %s: %s", md.Metric, signedPct(md.Change.Estimate), signedPct(md.Change.Low),
		signedPct(md.Change.High), md.Direction.words(), md.Outcome)
	return md
}

// intervalDetail says how the interval was made.
func (md *MetricDecision) intervalDetail(iv Interval) string {
	if iv.Exact {
		return fmt.Sprintf("every window differs by the same amount: the change is exactly %s", signedPct(md.Change.Estimate))
	}
	return fmt.Sprintf("%s [%s, %s] at error level %.3g: estimate ± %.3g standard errors; %d cosine terms, lag-1 autocorrelation %.2f, guarded up to %.2f (interval ×%.2f); as wide as %.1f independent windows would give",
		signedPct(md.Change.Estimate), signedPct(md.Change.Low), signedPct(md.Change.High), iv.Level, iv.Critical,
		iv.Terms, iv.Lag1, iv.Lag1Bound, iv.Stretch, iv.EffectiveN)
}

// theta converts a relative change of the candidate (−0.2 for 20% less) to the analysis scale;
// NaN when it is undefined there (a relative change on the difference scale of a zero baseline).
func (md *MetricDecision) theta(rel float64) float64 {
	if md.Scale == LogRatio {
		return math.Log1p(rel)
	}
	if md.baseScale == 0 {
		return math.NaN()
	}
	return rel * md.baseScale
}

// relative converts a value on the analysis scale to a relative change.
func (md *MetricDecision) relative(theta float64) float64 {
	return md.Scale.Relative(theta, md.baseScale)
}

// gain orients a value on the analysis scale: positive when the candidate is better.
func (md *MetricDecision) gain(theta float64) float64 {
	if md.Direction == LowerIsBetter {
		return -theta
	}
	return theta
}

// betterBy and worseBy are the gains of a change of f (a fraction) in the better and the worse
// direction; NaN where relative changes are undefined.
func (md *MetricDecision) betterBy(f float64) float64 {
	if md.Direction == LowerIsBetter {
		return md.gain(md.theta(-f))
	}
	return md.gain(md.theta(f))
}

func (md *MetricDecision) worseBy(f float64) float64 {
	if md.Direction == LowerIsBetter {
		return md.gain(md.theta(f))
	}
	return md.gain(md.theta(-f))
}

// gains returns the estimate and the interval's ends as gains, worse end first.
func (md *MetricDecision) gains() (est, lo, hi float64) {
	iv := md.Interval
	est, lo, hi = md.gain(iv.Mean), md.gain(iv.Low), md.gain(iv.High)
	if lo > hi {
		lo, hi = hi, lo
	}
	return est, lo, hi
}

// classifyGoal applies the goal rules: improved when the whole interval is better and the
// estimate reaches MinImprovement; regressed when the whole interval is worse (and the estimate
// reaches MinImprovement, if one is set); no change when the interval lies within the change that
// matters (MinImprovement, or the planning effect without one) or is wholly on one side by less
// than MinImprovement; otherwise undecided.
func (md *MetricDecision) classifyGoal(j judgement) {
	est, lo, hi := md.gains()
	t := md.MinImprovement
	e := t
	if e == 0 {
		e = j.set.PlanningEffect
	}
	change := md.Change.Estimate
	switch {
	case lo > 0 && !(est < md.betterBy(t)):
		md.add("better", Pass, fmt.Sprintf("the whole interval is better, and the estimate %s reaches the %s that matters", signedPct(change), pct(t)))
		md.decide(Improved, fmt.Sprintf("better by %s, beyond doubt", pct(math.Abs(change))))
	case lo > 0:
		md.add("better", Warn, fmt.Sprintf("the whole interval is better, but the estimate %s is short of the %s that matters", signedPct(change), pct(t)))
		md.decide(NoChange, fmt.Sprintf("better by %s, less than the %s that matters", pct(math.Abs(change)), pct(t)))
	case hi < 0 && (t == 0 || !(est > md.worseBy(t))):
		md.add("worse", Fail, fmt.Sprintf("the whole interval is worse: %s", signedPct(change)))
		md.decide(Regressed, fmt.Sprintf("worse by %s, beyond doubt", pct(math.Abs(change))))
	case hi < 0:
		md.add("worse", Warn, fmt.Sprintf("the whole interval is worse, but the estimate %s is short of the %s that matters", signedPct(change), pct(t)))
		md.decide(NoChange, fmt.Sprintf("worse by %s, less than the %s that matters", pct(math.Abs(change)), pct(t)))
	case lo > md.worseBy(e) && hi < md.betterBy(e):
		md.add("no change", Pass, fmt.Sprintf("the interval lies within ±%s", pct(e)))
		md.decide(NoChange, fmt.Sprintf("no change that matters: the interval lies within ±%s", pct(e)))
	default:
		// Resolved either way: the interval clears zero on the estimate's side, or fits within ±e.
		distance := max(math.Abs(est), min(md.betterBy(e)-est, est-md.worseBy(e)))
		md.add("undecided", Fail, fmt.Sprintf("the interval spans no change and a change of %s or more", pct(e)))
		md.plan(j, distance, fmt.Sprintf("the interval [%s, %s] still spans both no change and a change of %s", signedPct(md.Change.Low), signedPct(md.Change.High), pct(e)))
	}
}

// classifyGuardrail applies the guardrail rules: regressed when the whole interval is worse and
// the estimate is worse than Tolerance; holding (no change, or improved when the whole interval
// is better by at least MinImprovement) when the worse end of the interval stays within
// Tolerance; otherwise undecided.
func (md *MetricDecision) classifyGuardrail(j judgement) {
	est, lo, hi := md.gains()
	tol := md.Tolerance
	if tol == 0 {
		tol = DefaultTolerance
	}
	if md.ToleranceFloor > 0 && md.baseScale > 0 && md.ToleranceFloor/md.baseScale > tol {
		md.add("tolerance", Info, fmt.Sprintf("the floor of %g over a baseline of %.3g widens the %s tolerance to %s",
			md.ToleranceFloor, md.BaselineMean, pct(tol), pct(md.ToleranceFloor/md.baseScale)))
		tol = md.ToleranceFloor / md.baseScale
		if md.Direction == HigherIsBetter {
			tol = min(tol, 0.999) // a higher-is-better metric cannot fall by more than all of it
		}
	}
	limit := md.worseBy(tol)
	change := md.Change.Estimate
	worstRel := md.Change.High
	if md.Direction == HigherIsBetter {
		worstRel = md.Change.Low
	}
	switch {
	case hi < 0 && !(est > limit):
		md.add("tolerance", Fail, fmt.Sprintf("the whole interval is worse and the estimate %s is beyond the %s tolerance", signedPct(change), pct(tol)))
		md.decide(Regressed, fmt.Sprintf("guardrail broken: worse by %s beyond doubt, past the %s tolerance", pct(math.Abs(change)), pct(tol)))
	case lo > limit:
		md.add("tolerance", Pass, fmt.Sprintf("the interval's worse end %s is within the %s tolerance", signedPct(worstRel), pct(tol)))
		if lo > 0 && !(est < md.betterBy(md.MinImprovement)) {
			md.decide(Improved, fmt.Sprintf("better by %s, beyond doubt", pct(math.Abs(change))))
		} else {
			md.decide(NoChange, fmt.Sprintf("holds: at worst %s, within the %s tolerance", signedPct(worstRel), pct(tol)))
		}
	default:
		distance := max(est-limit, -est)
		md.add("tolerance", Fail, fmt.Sprintf("the interval reaches %s, past the %s tolerance", signedPct(worstRel), pct(tol)))
		md.plan(j, distance, fmt.Sprintf("not yet shown within the %s tolerance: the interval reaches %s", pct(tol), signedPct(worstRel)))
	}
}

// plan marks the metric undecided, with the paired windows that would likely resolve distance
// (a gain on the analysis scale) if the estimate is the truth.
func (md *MetricDecision) plan(j judgement, distance float64, why string) {
	need := 0
	if j.plan && isFinite(distance) {
		need = windowsNeeded(*md.Interval, distance, j.set.Power, j.limit, j.levelAt)
	}
	if need > 0 {
		md.add("windows needed", Info, fmt.Sprintf("about %d paired windows would resolve it with probability %g if the estimate holds", need, j.set.Power))
		md.undecided(why+fmt.Sprintf("; about %d paired windows would resolve it", need), need)
		return
	}
	md.add("windows needed", Info, "no run within the maximum duration is likely to resolve it")
	md.undecided(why, 0)
}

func (md *MetricDecision) add(rule, result, detail string) {
	md.Trace = append(md.Trace, Step{Rule: rule, Result: result, Detail: detail})
}

func (md *MetricDecision) decide(o Outcome, reason string) { md.Outcome, md.Reason = o, reason }

func (md *MetricDecision) undecided(reason string, need int) {
	md.Outcome, md.Reason, md.WindowsNeeded = Undecided, reason, need
	if md.Summary == "" {
		md.Summary = fmt.Sprintf("%s: %s", md.Metric, Undecided)
	}
}
