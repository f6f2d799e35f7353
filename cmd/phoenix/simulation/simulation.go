// Package simulation measures the error rates and the power of Phoenix's decision procedure
// (shared/analysis Decide) by seeded Monte Carlo: runs of KPI windows are drawn under stated
// conditions — autocorrelated noise of each variant, host-wide noise both variants see, lost
// windows, lost critical processes, unequal inputs — and taken through the looks a real run takes
// (live looks with early stopping, the planned look, the continue loop), exactly as the analyzer
// calls Decide. The rate of each verdict over the runs, with its Monte Carlo standard error, is
// what the documentation and the closing notes of the statistics report.
//
// It is pure: no I/O, no clock; a scenario's seed fixes every run, so the figures repeat.
//
// Only the CLI (phoenix simulate) and its tests import it; no deployable may.
package simulation

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/phoenixotel/phoenix/shared/analysis"
	"github.com/phoenixotel/phoenix/shared/experiment"
)

// Mode is how a simulated run looks at its data.
type Mode string

// Modes of a run.
const (
	// Fixed takes only the planned look at the end of the planned run: a fixed-horizon test.
	Fixed Mode = "fixed"
	// Sequential takes a live look at every paired window with early stopping (rejections at once,
	// wins at once), and the planned look at the end.
	Sequential Mode = "sequential"
	// ContinueLoop is Sequential with room to extend: an undecided planned look extends the run
	// by the windows it asks for, up to four times the planned length, looking live throughout.
	ContinueLoop Mode = "continue"
)

// Scenario describes a family of simulated runs. Noise is on the log scale: 0.05 is about 5%.
type Scenario struct {
	Name    string  // shown in reports
	Mode    Mode    // how the runs look
	Windows int     // planned windows of each run
	Runs    int     // runs to simulate
	Seed    uint64  // fixes every run
	Lag1    float64 // lag-1 autocorrelation of each variant's own noise (AR(1))
	Shared  float64 // standard deviation of the host-wide noise both variants see, per metric
	// SharedLag1 is the lag-1 autocorrelation of the host-wide noise (AR(1)).
	SharedLag1 float64
	Own        float64 // standard deviation of each variant's own noise on goal metrics
	Guard      float64 // standard deviation of each variant's own noise on guardrail metrics
	Effect     float64 // the candidate's relative change on every goal (−0.2: 20% less)
	Harm       float64 // the candidate's relative change on every guardrail (0.1: 10% more CPU)
	Missing    float64 // chance that a window is lost for one variant
	// Misses is the number of windows (spread over the run) in which the candidate's output lacks
	// one of three critical processes.
	Misses int
	// Unequal, when not 0, makes the candidate's collector receive this much more input.
	Unequal float64
	// Outage is the part of the run, from its start, during which the candidate's collector
	// delivers nothing (down, cut off).
	Outage float64
}

// Goals and guardrails of a simulated run: the default criteria of a Phoenix experiment.
var (
	goals      = []string{"series", "datapoints_per_second", "bytes_per_second", "cost_per_hour"}
	guardrails = []string{"collector_cpu", "collector_memory"}
)

// Result counts the verdicts of a scenario's runs.
type Result struct {
	Scenario     Scenario
	Promoted     int           // runs that ended with promote
	Rejected     int           // …reject
	Futile       int           // of those, rejected as better nowhere (the right answer for an A/A run); the rest found a regression or a lost process
	Inconclusive int           // …inconclusive
	Invalid      int           // …invalid
	Early        int           // runs that ended before their planned end
	Windows      float64       // mean paired windows at the end of a run
	Looks        float64       // mean looks taken
	Elapsed      time.Duration // wall time of the simulation (not part of the result proper)
}

// Rate returns count/runs and its Monte Carlo standard error √(p(1 − p)/runs).
func (r Result) Rate(count int) (p, se float64) {
	n := float64(r.Scenario.Runs)
	p = float64(count) / n
	return p, math.Sqrt(p * (1 - p) / n)
}

// Run simulates the scenario. cache may be shared between scenarios (nil: one for this call).
func Run(s Scenario, cache *analysis.Cache) (Result, error) {
	if s.Runs < 1 || s.Windows < 1 {
		return Result{}, fmt.Errorf("scenario %q: %d runs of %d windows", s.Name, s.Runs, s.Windows)
	}
	if cache == nil {
		cache = analysis.NewCache()
	}
	start := time.Now()
	res := Result{Scenario: s}
	rng := rand.New(rand.NewPCG(s.Seed, 0x9e3779b97f4a7c15)) // #nosec G404 -- a seeded simulation must repeat: no secret is drawn
	for range s.Runs {
		out, err := runOne(s, rng, cache)
		if err != nil {
			return Result{}, fmt.Errorf("scenario %q: %w", s.Name, err)
		}
		switch out.verdict {
		case experiment.VerdictPromote:
			res.Promoted++
		case experiment.VerdictReject:
			res.Rejected++
			if out.futile {
				res.Futile++
			}
		case experiment.VerdictInvalid:
			res.Invalid++
		default:
			res.Inconclusive++
		}
		if out.early {
			res.Early++
		}
		res.Windows += float64(out.windows)
		res.Looks += float64(out.looks)
	}
	res.Windows /= float64(s.Runs)
	res.Looks /= float64(s.Runs)
	res.Elapsed = time.Since(start)
	return res, nil
}

// outcome is how one run ended.
type outcome struct {
	verdict experiment.Verdict
	futile  bool // rejected as better nowhere
	early   bool
	windows int // paired windows at the end
	looks   int
}

// runOne draws one run's windows and takes it through its looks.
func runOne(s Scenario, rng *rand.Rand, cache *analysis.Cache) (outcome, error) {
	maxW := s.Windows
	if s.Mode == ContinueLoop {
		maxW = 4 * s.Windows
	}
	data := draw(s, maxW, rng)
	opt := analysis.Options{Cache: cache}
	if s.Mode != Fixed {
		opt.EarlyStop = analysis.EarlyStop{Regressions: true, Wins: true}
	}
	sched := analysis.Schedule{Planned: s.Windows, Max: maxW}
	dues := 0 // due looks taken
	look := func(kind analysis.LookKind, t int) (analysis.Decision, error) {
		return analysis.Decide(data.input(t, sched, kind, dues), opt)
	}
	out := outcome{}
	due := s.Windows // the window at whose end the run's scheduled time is up
	for t := 1; t <= maxW; t++ {
		// A live look as each window closes, as the analyzer takes them: when it adds a paired
		// window, from FirstLook paired windows on.
		if s.Mode != Fixed && data.newPair[t-1] && t < due && data.paired(t) >= analysis.FirstLook {
			d, err := look(analysis.Live, t)
			if err != nil {
				return out, err
			}
			out.looks++
			if d.Stop {
				return outcome{verdict: d.Verdict, futile: futile(d), early: d.Early, windows: data.paired(t), looks: out.looks}, nil
			}
		}
		if t != due {
			continue
		}
		kind := analysis.Extension
		if dues == 0 {
			kind = analysis.Planned
		}
		dues++
		d, err := look(kind, t)
		if err != nil {
			return out, err
		}
		out.looks++
		if d.Stop || s.Mode != ContinueLoop {
			v := d.Verdict
			if v == experiment.VerdictContinue {
				v = experiment.VerdictInconclusive
			}
			return outcome{verdict: v, futile: futile(d), windows: data.paired(t), looks: out.looks}, nil
		}
		// Continue: extend by the windows asked for (at least one), as the analyzer does.
		more := max(1, d.WindowsNeeded-data.paired(t))
		due = min(maxW, t+more)
	}
	return outcome{verdict: experiment.VerdictInconclusive, windows: data.paired(maxW), looks: out.looks}, nil
}

// futile reports whether a decision rejected the candidate as better nowhere.
func futile(d analysis.Decision) bool {
	return d.Verdict == experiment.VerdictReject && strings.HasPrefix(d.Reason, "better nowhere")
}

// run is one simulated run's windows.
type run struct {
	values   map[string][2][]float64 // metric → baseline, candidate value per window (NaN: lost)
	present  [2][]bool               // window delivered, per variant
	newPair  []bool                  // window t completes a pair
	coverage [][2][]string           // critical processes covered per window and variant
	accepted [2]int64                // points received per paired window, per variant
}

// ar1 fills xs with a stationary AR(1) of lag-1 rho and standard deviation sd.
func ar1(xs []float64, rho, sd float64, rng *rand.Rand) {
	if sd == 0 {
		return
	}
	innov := sd * math.Sqrt(1-rho*rho)
	x := sd * rng.NormFloat64()
	for i := range xs {
		if i > 0 {
			x = rho*x + innov*rng.NormFloat64()
		}
		xs[i] += x
	}
}

// draw makes a run of n windows.
func draw(s Scenario, n int, rng *rand.Rand) *run {
	r := &run{values: map[string][2][]float64{}, newPair: make([]bool, n), coverage: make([][2][]string, n)}
	for v := range 2 {
		r.present[v] = make([]bool, n)
		for t := range n {
			r.present[v][t] = !(s.Missing > 0 && rng.Float64() < s.Missing) && !(v == 1 && float64(t) < s.Outage*float64(s.Windows))
		}
	}
	for t := range n {
		r.newPair[t] = r.present[0][t] && r.present[1][t]
	}
	metric := func(name string, own, change float64) {
		host := make([]float64, n)
		ar1(host, s.SharedLag1, s.Shared, rng)
		var vals [2][]float64
		for v := range 2 {
			logs := make([]float64, n)
			ar1(logs, s.Lag1, own, rng)
			vals[v] = make([]float64, n)
			for t := range n {
				x := math.Log(1000) + host[t] + logs[t]
				if v == 1 {
					x += math.Log1p(change)
				}
				vals[v][t] = math.Exp(x)
			}
		}
		r.values[name] = vals
	}
	for _, g := range goals {
		metric(g, s.Own, s.Effect)
	}
	for _, g := range guardrails {
		metric(g, s.Guard, s.Harm)
	}
	critical := []string{"nginx", "mysqld", "payments-api"}
	missAt := map[int]bool{}
	for i := range s.Misses {
		missAt[(i+1)*n/(s.Misses+1)] = true
	}
	for t := range n {
		r.coverage[t] = [2][]string{critical, critical}
		if missAt[t] {
			r.coverage[t][1] = critical[1:]
		}
	}
	r.accepted = [2]int64{9000, int64(9000 * (1 + s.Unequal))}
	return r
}

// paired counts the windows complete for both variants among the first t.
func (r *run) paired(t int) int {
	n := 0
	for _, p := range r.newPair[:t] {
		if p {
			n++
		}
	}
	return n
}

// input is what the analyzer would read after t windows.
func (r *run) input(t int, sched analysis.Schedule, kind analysis.LookKind, dues int) analysis.Input {
	in := analysis.Input{Schedule: sched, Look: kind, Dues: dues, Windows: r.paired(t), Extendable: t < sched.Max}
	add := func(name string, critical bool) {
		s := analysis.Series{Criterion: analysis.Criterion{Metric: name, Direction: analysis.LowerIsBetter, Critical: critical}}
		for i := range t {
			switch {
			case r.newPair[i]:
				s.Baseline = append(s.Baseline, r.values[name][0][i])
				s.Candidate = append(s.Candidate, r.values[name][1][i])
			case r.present[0][i] || r.present[1][i]:
				s.Unpaired++
			}
		}
		in.Series = append(in.Series, s)
	}
	for _, g := range goals {
		add(g, false)
	}
	for _, g := range guardrails {
		add(g, true)
	}
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var delivered [2]int
	for i := range t {
		for v := range 2 {
			if r.present[v][i] {
				delivered[v]++
			}
		}
		if r.newPair[i] && len(r.coverage[i][1]) < len(r.coverage[i][0]) {
			in.Coverage = append(in.Coverage, analysis.CoverageWindow{Start: base.Add(time.Duration(i) * 15 * time.Second),
				Baseline: r.coverage[i][0], Candidate: r.coverage[i][1]})
		}
	}
	p := in.Windows
	in.Parity = &analysis.ParityInput{
		Baseline:  analysis.Received{Windows: delivered[0], Reported: p, Accepted: r.accepted[0] * int64(p)},
		Candidate: analysis.Received{Windows: delivered[1], Reported: p, Accepted: r.accepted[1] * int64(p)}}
	return in
}
