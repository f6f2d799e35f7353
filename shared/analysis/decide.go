package analysis

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/phoenixotel/phoenix/shared/experiment"
)

// LookReport says which look a decision was and what of the error budget the run has spent.
type LookReport struct {
	Kind     LookKind `json:"kind"`            // live or planned
	Windows  int      `json:"windows"`         // paired windows: the look's index
	Schedule Schedule `json:"schedule"`        // planned and maximum windows
	Looks    int      `json:"looks"`           // looks the run has taken so far (one per paired window from FirstLook, and each due look)
	Weight   float64  `json:"weight"`          // share of alpha this look's intervals spend
	Spent    float64  `json:"budget_spent"`    // share of alpha spent by every look so far
	Goals    int      `json:"goals"`           // goal metrics the look's share is divided among (Bonferroni)
	Level    float64  `json:"goal_error"`      // error level of each goal's interval
	Guard    float64  `json:"guardrail_error"` // error level of each guardrail's interval
}

// Decision is one look's result.
type Decision struct {
	Verdict       experiment.Verdict `json:"verdict"`                  // promote, reject, inconclusive, continue or invalid
	Reason        string             `json:"reason"`                   // why, in plain words
	Stop          bool               `json:"stop"`                     // the run ends now with Verdict
	Early         bool               `json:"early"`                    // …before its planned end
	Pending       experiment.Verdict `json:"pending,omitempty"`        // a live look's verdict that early stopping does not (yet) allow to end the run
	WindowsNeeded int                `json:"windows_needed,omitempty"` // for continue and inconclusive: paired windows that would likely decide
	Look          LookReport         `json:"look"`                     // which look, and the budget
	Settings      Settings           `json:"settings"`                 // the options used
	Metrics       []MetricDecision   `json:"metrics"`                  // per metric, in input order
	Coverage      Coverage           `json:"coverage"`                 // the critical-coverage rule
	Parity        *Parity            `json:"parity,omitempty"`         // the input-parity check, when measured
	Delivery      *Delivery          `json:"delivery,omitempty"`       // windows delivered against the run's duration, at due looks
	Trace         []Step             `json:"trace"`                    // the overall rules, in order
}

// Decide takes one look at a run and decides what it shows. It is pure: the same input gives the
// same Decision.
//
// Every metric is compared by window: the candidate's value against the baseline's in the same
// window, on the log-ratio scale when values are positive, so that whatever both variants saw
// cancels (see [Series], [Scale]). Its change gets an interval that holds under autocorrelation
// ([MeanInterval]) at this look's share of alpha: the [Schedule] splits alpha over every look the
// run may take, so every interval of the run — each live look, the planned look, each extension
// — holds together with probability 1 − alpha, whatever the data make the run do. The goals'
// share is divided among them (Bonferroni), since promotion needs only one of them to improve;
// the guardrails' is not, since promotion needs all of them to hold (an intersection–union test,
// Berger 1982).
//
// The rules, in order (recorded in Decision.Trace):
//
//  1. parity: when the collectors did not receive the same input ([CheckParity]) the comparison
//     is invalid, and the run ends; at a due look, a run whose variants delivered fewer windows
//     than its duration should give ([CheckDelivery]) cannot promote or go on: it ends
//     inconclusive unless the windows that came show a rejection;
//  2. critical coverage: more windows losing a critical process than the tolerance
//     ([CheckCoverage]) reject, naming the processes and windows;
//  3. a guardrail regressed beyond its tolerance rejects;
//  4. a goal regressed rejects;
//  5. a goal improved, with every guardrail shown within its tolerance, promotes;
//  6. every goal shown to change by less than matters rejects: better nowhere;
//  7. otherwise the data cannot decide: continue while the run may reach more windows, else
//     inconclusive, with the windows that would likely decide.
//
// At the planned look, and at a live look that reaches the maximum, the verdict is final. At a
// live look a final verdict ends the run early only as Options.EarlyStop allows (rejections at
// once, wins after a minimum run); otherwise the verdict is continue with the pending one named.
// An invalid comparison ends the run at any look.
//
// Decide returns an error wrapping ErrParameter for an invalid schedule, option or criterion.
//
// References:
//   - R. L. Berger (1982), Multiparameter hypothesis testing and acceptance sampling,
//     Technometrics 24(4):295–300.
func Decide(in Input, opt Options) (Decision, error) {
	set, err := opt.resolve()
	if err != nil {
		return Decision{}, err
	}
	if err := in.validate(); err != nil {
		return Decision{}, err
	}
	goals := 0
	for _, s := range in.Series {
		if !s.Critical {
			goals++
		}
	}
	sched := in.Schedule
	weight := sched.Weight(in.Look, in.Windows, in.extension())
	level := func(n int, w float64, critical bool) float64 {
		if critical || goals == 0 {
			return set.Alpha * w
		}
		return set.Alpha * w / float64(goals)
	}
	d := Decision{Settings: set, Metrics: []MetricDecision{}, Trace: []Step{}, Look: LookReport{
		Kind: in.Look, Windows: in.Windows, Schedule: sched, Weight: weight, Goals: goals,
		Spent: sched.Spent(in.Windows, in.Dues),
		Looks: max(0, min(in.Windows, sched.Max)-FirstLook+1) + in.Dues,
		Level: level(in.Windows, weight, false), Guard: level(in.Windows, weight, true),
	}}
	for _, s := range in.Series {
		j := judgement{set: set, limit: max(100*sched.Max, 100_000), cache: opt.Cache, level: level(in.Windows, weight, s.Critical),
			plan:    in.due(),
			levelAt: func(n int) float64 { return level(n, nextDue(sched, in.Dues, n), s.Critical) }}
		if !(j.level > 0) {
			j.level = math.SmallestNonzeroFloat64 // a look outside the schedule spends nothing: no interval is finite
		}
		d.Metrics = append(d.Metrics, judge(s, j))
	}
	d.Coverage = CheckCoverage(in.Coverage, set.MissTolerance)
	if in.Parity != nil {
		pin := *in.Parity
		pin.Paired = in.Windows
		p := CheckParity(pin, set.ParityTolerance)
		d.Parity = &p
	}
	if in.due() {
		b, c := in.Windows, in.Windows
		if in.Parity != nil {
			b, c = in.Parity.Baseline.Windows, in.Parity.Candidate.Windows
		}
		d.Delivery = CheckDelivery(in.Expected, b, c)
	}
	final := d.short(d.apply(in))
	d.conclude(in, final)
	return d, nil
}

// nextDue is the weight of the next due look, at n windows, after dues due looks: the planned
// look first, then the extensions; once the run cannot be extended, the planned look of a run of
// the same design but longer. The windows-needed estimate plans for it.
func nextDue(s Schedule, dues, n int) float64 {
	if dues == 0 || s.Max == s.Planned {
		return s.Weight(Planned, n, 0)
	}
	return s.Weight(Extension, n, dues)
}

// short keeps a due look whose run delivered too few windows ([CheckDelivery]) from promoting or
// going on: a rejection found in the windows that came stands (harm needs no more data), anything
// else becomes a final inconclusive that says how little arrived. It returns the verdict's kind,
// "short" for that.
func (d *Decision) short(kind string) string {
	dl := d.Delivery
	if dl == nil || dl.Holds || kind == "invalid" || kind == "reject" {
		return kind
	}
	was := string(d.Verdict)
	if kind == "" {
		was = "undecided"
	} else if d.Verdict == experiment.VerdictReject {
		was = "better nowhere"
	}
	d.Verdict, d.Reason = experiment.VerdictInconclusive, fmt.Sprintf("too few windows to decide on: %s; on those it was %s (%s)", dl.Detail, was, d.Reason)
	d.WindowsNeeded = 0
	return "short"
}

// apply runs the overall rules and sets Verdict and Reason as if the look were final; it returns
// the kind of the verdict: "invalid", "reject" (a regression or a lost process), "win" (a
// promotion, or better nowhere) or "" (undecided).
func (d *Decision) apply(in Input) string {
	add := func(rule, result, detail string) {
		d.Trace = append(d.Trace, Step{Rule: rule, Result: result, Detail: detail})
	}
	if p := d.Parity; p != nil {
		if !p.Holds {
			add("input parity", Fail, strings.Join(p.Problems, "; "))
			d.Verdict, d.Reason = experiment.VerdictInvalid, "the two collectors did not receive the same input: "+strings.Join(p.Problems, "; ")
			return "invalid"
		}
		add("input parity", Pass, "both collectors received the same input: compared "+strings.Join(p.Checked, ", "))
	} else {
		add("input parity", Warn, "not measured: no receiver telemetry")
	}
	if dl := d.Delivery; dl != nil {
		add("windows delivered", map[bool]string{true: Pass, false: Fail}[dl.Holds], dl.Detail)
	}
	if c := d.Coverage; c.Broken {
		detail := missDetail(c)
		add("critical coverage", Fail, detail)
		d.Verdict, d.Reason = experiment.VerdictReject, "the candidate lost critical processes: "+detail
		return "reject"
	} else if len(c.Misses) > 0 {
		add("critical coverage", Warn, missDetail(c)+fmt.Sprintf(", within the tolerance of %d", c.Tolerance))
	} else {
		add("critical coverage", Pass, "the candidate kept every critical process the baseline had, in every window")
	}
	if len(d.Metrics) == 0 {
		add("metrics", Fail, "no metrics to decide on")
		d.Verdict, d.Reason = experiment.VerdictInconclusive, "no metrics to decide on"
		return ""
	}
	var regressedGuard, regressedGoal, improved, openGuard, openGoal, goals []string
	for _, m := range d.Metrics {
		switch {
		case m.Critical && m.Outcome == Regressed:
			regressedGuard = append(regressedGuard, m.Metric)
		case m.Critical && m.Outcome == Undecided:
			openGuard = append(openGuard, m.Metric)
		case m.Critical:
		case m.Outcome == Regressed:
			regressedGoal = append(regressedGoal, m.Metric)
		case m.Outcome == Improved:
			improved = append(improved, m.Metric)
		case m.Outcome == Undecided:
			openGoal = append(openGoal, m.Metric)
		}
		if !m.Critical {
			goals = append(goals, m.Metric)
		}
	}
	if len(regressedGuard) > 0 {
		add("guardrails", Fail, "broken: "+d.summaries(regressedGuard))
		d.Verdict, d.Reason = experiment.VerdictReject, "a guardrail is broken: "+d.briefs(regressedGuard)
		return "reject"
	}
	if len(regressedGoal) > 0 {
		add("goals", Fail, "worse: "+d.summaries(regressedGoal))
		d.Verdict, d.Reason = experiment.VerdictReject, "worse: "+d.briefs(regressedGoal)
		return "reject"
	}
	switch {
	case len(openGuard) > 0:
		add("guardrails", Fail, "not yet shown within tolerance: "+d.summaries(openGuard))
	default:
		add("guardrails", Pass, "every guardrail holds")
	}
	if len(improved) > 0 && len(openGuard) == 0 {
		add("goals", Pass, "improved: "+d.summaries(improved))
		d.Verdict, d.Reason = experiment.VerdictPromote, "improved: "+d.briefs(improved)
		if g := critical(d.Metrics); len(g) > 0 {
			d.Reason += "; guardrails hold: " + d.briefs(g)
		}
		return "win"
	}
	if len(goals) > 0 && len(improved) == 0 && len(openGoal) == 0 {
		add("goals", Fail, "no goal changed by as much as matters: "+d.summaries(goals))
		d.Verdict, d.Reason = experiment.VerdictReject, "better nowhere: "+d.briefs(goals)
		return "win"
	}
	blocking := openGuard
	if len(improved) == 0 {
		blocking = append(append([]string{}, openGoal...), openGuard...)
	} else {
		add("goals", Pass, "improved: "+d.summaries(improved))
	}
	need := 0
	for _, m := range d.Metrics {
		if slices.Contains(blocking, m.Metric) {
			need = max(need, m.WindowsNeeded)
		}
	}
	detail := "undecided: " + d.summaries(blocking)
	if need > 0 {
		detail += fmt.Sprintf("; about %d paired windows would likely decide", need)
	}
	add("enough data", Fail, detail)
	d.Verdict, d.Reason, d.WindowsNeeded = experiment.VerdictInconclusive, detail, need
	return ""
}

// conclude turns the as-if-final verdict into this look's: at a due look final, or continue when
// undecided and the run may be extended; at a live look early only as the settings allow,
// continue otherwise.
func (d *Decision) conclude(in Input, kind string) {
	add := func(result, detail string) {
		d.Trace = append(d.Trace, Step{Rule: "stop", Result: result, Detail: detail})
	}
	es := d.Settings.EarlyStop
	switch {
	case kind == "invalid":
		d.Stop, d.Early = true, !in.due()
		add(Fail, "the comparison is invalid: the run ends")
		return
	case kind == "short":
		d.Stop = true
		add(Fail, "too few windows delivered to decide, and more time would not bring back the lost ones: the run ends")
		return
	case in.due():
		if d.Verdict == experiment.VerdictInconclusive && in.Extendable {
			d.Verdict = experiment.VerdictContinue
			add(Info, fmt.Sprintf("undecided at %d paired windows, and the run may be extended: it goes on", in.Windows))
			return
		}
		d.Stop = true
		add(Pass, fmt.Sprintf("final look at %d paired windows", in.Windows))
		return
	case kind == "reject" && es.Regressions:
		d.Stop, d.Early = true, true
		add(Pass, "a rejection ends the run early")
		return
	case kind == "win" && es.Wins && in.Windows >= es.MinWindows:
		d.Stop, d.Early = true, true
		add(Pass, fmt.Sprintf("clear after %d paired windows (early wins allowed from %d): the run ends early", in.Windows, es.MinWindows))
		return
	}
	if kind != "" {
		d.Pending = d.Verdict
		why := "early stopping is off for this outcome"
		if kind == "win" && es.Wins {
			why = fmt.Sprintf("early wins are allowed from %d paired windows", es.MinWindows)
		}
		add(Info, fmt.Sprintf("%s, but %s: the run goes on", d.Verdict, why))
		d.Reason = fmt.Sprintf("%s if it ended now (%s), but %s", d.Verdict, d.Reason, why)
	}
	d.Verdict = experiment.VerdictContinue
}

// briefs lists the named metrics with their change and interval, for a verdict's reason; the
// trace and each metric's reason say the rest.
func (d *Decision) briefs(metrics []string) string {
	var parts []string
	for _, m := range d.Metrics {
		if !slices.Contains(metrics, m.Metric) {
			continue
		}
		if c := m.Change; c != nil {
			parts = append(parts, fmt.Sprintf("%s %s [%s, %s]", m.Metric, signedPct(c.Estimate), signedPct(c.Low), signedPct(c.High)))
		} else {
			parts = append(parts, m.Metric+" ("+m.Reason+")")
		}
	}
	return strings.Join(parts, ", ")
}

// summaries lists the named metrics with their one-line summaries and reasons.
func (d *Decision) summaries(metrics []string) string {
	var parts []string
	for _, m := range d.Metrics {
		if slices.Contains(metrics, m.Metric) {
			parts = append(parts, m.Summary+" ("+m.Reason+")")
		}
	}
	return strings.Join(parts, "; ")
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

// missDetail names the lost processes and the windows.
func missDetail(c Coverage) string {
	windows := make([]string, 0, min(len(c.Misses), 5))
	for i, m := range c.Misses {
		if i == 5 {
			windows = append(windows, fmt.Sprintf("and %d more", len(c.Misses)-5))
			break
		}
		windows = append(windows, m.Window.Format(time.TimeOnly)+" ("+strings.Join(m.Processes, ", ")+")")
	}
	return fmt.Sprintf("%s missing from the candidate's output in %d windows: %s", strings.Join(c.Processes, ", "), len(c.Misses), strings.Join(windows, ", "))
}
