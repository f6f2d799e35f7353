package analysis

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/phoenixotel/phoenix/shared/analysis/analysistest"
	"github.com/phoenixotel/phoenix/shared/experiment"
)

func TestCheckCoverage_CountsWindowsLosingWhatTheBaselineHad(t *testing.T) {
	at := func(s int) time.Time { return time.Date(2026, 12, 6, 4, 0, s, 0, time.UTC) }
	windows := []CoverageWindow{
		{Start: at(30), Baseline: []string{"nginx", "mysqld"}, Candidate: []string{"nginx"}},
		{Start: at(0), Baseline: []string{"nginx", "mysqld", "payments-api"}, Candidate: []string{"mysqld"}},
		{Start: at(45), Baseline: []string{"nginx"}, Candidate: []string{"nginx"}}, // nothing the baseline had is missing
		{Start: at(15), Baseline: []string{}, Candidate: []string{}},               // nobody saw it: no miss
	}
	c := CheckCoverage(windows, 0)
	if !c.Broken || len(c.Misses) != 2 || !slices.Equal(c.Processes, []string{"mysqld", "nginx", "payments-api"}) {
		t.Fatalf("%+v", c)
	}
	if !c.Misses[0].Window.Equal(at(0)) || !slices.Equal(c.Misses[0].Processes, []string{"nginx", "payments-api"}) {
		t.Errorf("misses are oldest first, processes sorted: %+v", c.Misses)
	}
	if c := CheckCoverage(windows, 2); c.Broken {
		t.Errorf("two windows within a tolerance of 2: %+v", c)
	}
	if c := CheckCoverage(nil, 0); c.Broken || len(c.Misses) != 0 || c.Processes == nil {
		t.Errorf("no windows: %+v", c)
	}
}

func TestCheckParity_CatchesUnequalInputs(t *testing.T) {
	same := Received{Windows: 12, Reported: 12, Accepted: 90000}
	cases := []struct {
		name string
		b, c Received
		lost int    // windows each side lost that the other delivered
		want string // part of the problem; "" holds
	}{
		{"the same input", same, Received{Windows: 12, Reported: 12, Accepted: 91000}, 0, ""},
		{"one window less: timing", same, Received{Windows: 11, Reported: 11, Accepted: 82500}, 0, ""},
		{"windows lost on both sides alike", Received{Windows: 100}, Received{Windows: 96}, 8, ""},
		{"no receiver telemetry: windows and restarts only", Received{Windows: 12}, Received{Windows: 12}, 0, ""},
		{"a collector down for a while", Received{Windows: 60}, Received{Windows: 44}, 0, "the baseline delivered 60 complete windows and the candidate 44: 16 windows came from one side only, 0 from the other"},
		{"less input", same, Received{Windows: 12, Reported: 12, Accepted: 70000}, 0, "accepted −22.2% the baseline's points a window (5833 against 7500)"},
		// Readings that do not line up with windows: the candidate's collector started late in
		// its first window, so its 12 windows span 62 s of readings against the baseline's 72;
		// a collector-second, the input is the same.
		{"a late first reading: the same rate", Received{Windows: 12, Reported: 12, Accepted: 90000, Seconds: 72},
			Received{Windows: 12, Reported: 12, Accepted: 77600, Seconds: 62}, 0, ""},
		{"less input a second", Received{Windows: 12, Reported: 12, Accepted: 90000, Seconds: 72},
			Received{Windows: 12, Reported: 12, Accepted: 70000, Seconds: 72}, 0, "accepted −22.2% the baseline's points a second (972.2 against 1250)"},
		{"seconds on one side only: compared per window", Received{Windows: 12, Reported: 12, Accepted: 90000, Seconds: 72},
			Received{Windows: 12, Reported: 12, Accepted: 70000}, 0, "accepted −22.2% the baseline's points a window (5833 against 7500)"},
		{"refused input", same, Received{Windows: 12, Reported: 12, Accepted: 90000, Refused: 20000}, 0, "the candidate's receivers refused 20000 of 110000 points"},
		{"a restart", same, Received{Windows: 12, Reported: 12, Accepted: 90000, Restarts: 1}, 0, "restarted 0 times and the candidate's 1"},
	}
	for _, c := range cases {
		p := CheckParity(ParityInput{Baseline: c.b, Candidate: c.c, Paired: min(c.b.Windows, c.c.Windows) - c.lost}, 0)
		if (c.want == "") != p.Holds || c.want != "" && !strings.Contains(strings.Join(p.Problems, "; "), c.want) {
			t.Errorf("%s: holds %v, problems %v; want %q", c.name, p.Holds, p.Problems, c.want)
		}
		if p.Tolerance != DefaultParityTolerance {
			t.Errorf("%s: tolerance %g", c.name, p.Tolerance)
		}
	}
}

// series is a criterion with paired values.
func series(metric string, critical bool, b, c []float64) Series {
	return Series{Criterion: Criterion{Metric: metric, Critical: critical}, Baseline: b, Candidate: c}
}

func TestDecide_Rules(t *testing.T) {
	const n = 12
	base, cpu := analysistest.Wave(n, 1000), analysistest.Wave(n, 0.5)
	cheaper := series("series", false, base, analysistest.Times(base, 0.5))
	planned := func(s ...Series) Input {
		return Input{Series: s, Schedule: Schedule{Planned: n, Max: n}, Look: Planned, Dues: 1, Windows: n}
	}
	cases := []struct {
		name    string
		in      Input
		opt     Options
		verdict experiment.Verdict
		rule    string // the trace step that decided, with its result
	}{
		{"a goal improved, the guardrail holds", planned(cheaper, series("cpu", true, cpu, analysistest.Times(cpu, 1))), Options{}, experiment.VerdictPromote, "goals pass"},
		{"a guardrail broken", planned(cheaper, series("cpu", true, cpu, analysistest.Times(cpu, 1.3))), Options{}, experiment.VerdictReject, "guardrails fail"},
		{"a goal worse", planned(series("series", false, base, analysistest.Times(base, 1.3))), Options{}, experiment.VerdictReject, "goals fail"},
		{"nothing changed", planned(series("series", false, base, analysistest.Times(base, 1))), Options{}, experiment.VerdictReject, "goals fail"},
		{"no metrics", planned(), Options{}, experiment.VerdictInconclusive, "metrics fail"},
		{"a lost critical process", func() Input {
			in := planned(cheaper)
			in.Coverage = []CoverageWindow{{Baseline: []string{"nginx"}}}
			return in
		}(), Options{}, experiment.VerdictReject, "critical coverage fail"},
		{"unequal inputs", func() Input {
			in := planned(cheaper)
			in.Parity = &ParityInput{Baseline: Received{Windows: n, Reported: n, Accepted: 1000}, Candidate: Received{Windows: n, Reported: n, Accepted: 700}}
			return in
		}(), Options{}, experiment.VerdictInvalid, "input parity fail"},
	}
	for _, c := range cases {
		d, err := Decide(c.in, c.opt)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if d.Verdict != c.verdict || !d.Stop {
			t.Errorf("%s: %s (stop %v), want %s: %s", c.name, d.Verdict, d.Stop, c.verdict, d.Reason)
		}
		last := d.Trace[len(d.Trace)-2] // the step before "stop"
		if got := last.Rule + " " + last.Result; got != c.rule {
			t.Errorf("%s: decided by %q, want %q (%s)", c.name, got, c.rule, last.Detail)
		}
	}
}

// TestDecide_ShortOfWindows is a run whose collectors died part way (the platform killed with
// them): a due look that has 12 windows of the 48 the run's duration should give must not
// promote, or go on, on them; a rejection found in them stands; live looks are not checked.
func TestDecide_ShortOfWindows(t *testing.T) {
	const n = 12
	base := analysistest.Wave(n, 1000)
	cheaper := series("series", false, base, analysistest.Times(base, 0.5))
	dearer := series("series", false, base, analysistest.Times(base, 1.5))
	look := func(kind LookKind, expected int, s Series) Input {
		in := Input{Series: []Series{s}, Schedule: Schedule{Planned: 48, Max: 96}, Look: kind, Windows: n, Expected: expected, Extendable: true}
		if kind == Planned {
			in.Dues = 1
		}
		return in
	}
	cases := []struct {
		name     string
		in       Input
		verdict  experiment.Verdict
		stop     bool
		delivery string // the delivery trace step's result; "" when not measured
	}{
		{"12 of 48 windows: a saving is not promoted, and the run ends", look(Planned, 47, cheaper), experiment.VerdictInconclusive, true, Fail},
		{"12 of 48 windows: a regression still rejects", look(Planned, 47, dearer), experiment.VerdictReject, true, Fail},
		{"12 of 20 windows: enough", look(Planned, 19, cheaper), experiment.VerdictPromote, true, Pass},
		{"not measured", look(Planned, 0, cheaper), experiment.VerdictPromote, true, ""},
		{"a live look is not checked", look(Live, 47, cheaper), experiment.VerdictContinue, false, ""},
	}
	for _, c := range cases {
		d, err := Decide(c.in, Options{})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if d.Verdict != c.verdict || d.Stop != c.stop {
			t.Errorf("%s: %s (stop %v), want %s (stop %v): %s", c.name, d.Verdict, d.Stop, c.verdict, c.stop, d.Reason)
		}
		got := ""
		for _, st := range d.Trace {
			if st.Rule == "windows delivered" {
				got = st.Result
			}
		}
		if got != c.delivery || (c.delivery == "") != (d.Delivery == nil) {
			t.Errorf("%s: delivery step %q (%+v), want %q", c.name, got, d.Delivery, c.delivery)
		}
		if c.delivery == Fail && c.verdict == experiment.VerdictInconclusive && !strings.Contains(d.Reason, "12 complete windows of the 47") {
			t.Errorf("%s: reason %q does not say how little arrived", c.name, d.Reason)
		}
	}
}

func TestDecide_RefusesBadInput(t *testing.T) {
	good := Input{Schedule: Schedule{Planned: 12, Max: 12}, Look: Planned, Dues: 1, Windows: 12}
	cases := []struct {
		name string
		in   func(Input) Input
		opt  Options
	}{
		{"alpha", func(in Input) Input { return in }, Options{Alpha: 1.5}},
		{"power", func(in Input) Input { return in }, Options{Power: -1}},
		{"schedule", func(in Input) Input { in.Schedule.Max = 3; return in }, Options{}},
		{"look", func(in Input) Input { in.Look = "now"; return in }, Options{}},
		{"a planned look after extensions", func(in Input) Input { in.Dues = 3; return in }, Options{}},
		{"a repeated metric", func(in Input) Input {
			in.Series = []Series{series("a", false, nil, nil), series("a", true, nil, nil)}
			return in
		}, Options{}},
		{"a threshold of 100%", func(in Input) Input {
			s := series("a", false, nil, nil)
			s.MinImprovement = 1
			in.Series = []Series{s}
			return in
		}, Options{}},
		{"a negative tolerance", func(in Input) Input { return in }, Options{MissTolerance: -1}},
	}
	for _, c := range cases {
		if _, err := Decide(c.in(good), c.opt); !errors.Is(err, ErrParameter) {
			t.Errorf("%s: %v, want ErrParameter", c.name, err)
		}
	}
}

// A live look's clear answer ends the run only as EarlyStop allows; otherwise the verdict is
// continue, with the pending one named.
func TestDecide_EarlyStop(t *testing.T) {
	const n = 12
	base := analysistest.Wave(n, 1000)
	live := func(s Series) Input {
		return Input{Series: []Series{s}, Schedule: Schedule{Planned: 120, Max: 120}, Look: Live, Windows: n}
	}
	win, loss := live(series("series", false, base, analysistest.Times(base, 0.5))), live(series("series", false, base, analysistest.Times(base, 1.6)))
	cases := []struct {
		name     string
		in       Input
		stop     EarlyStop
		verdict  experiment.Verdict
		pending  experiment.Verdict
		stopping bool
	}{
		{"a win, wins allowed from 10 windows", win, EarlyStop{Wins: true, MinWindows: 10}, experiment.VerdictPromote, "", true},
		{"a win before the minimum run", win, EarlyStop{Wins: true, MinWindows: 40}, experiment.VerdictContinue, experiment.VerdictPromote, false},
		{"a win, wins not allowed", win, EarlyStop{Regressions: true}, experiment.VerdictContinue, experiment.VerdictPromote, false},
		{"a regression", loss, EarlyStop{Regressions: true}, experiment.VerdictReject, "", true},
		{"a regression, not allowed", loss, EarlyStop{Wins: true}, experiment.VerdictContinue, experiment.VerdictReject, false},
	}
	for _, c := range cases {
		d, err := Decide(c.in, Options{EarlyStop: c.stop})
		if err != nil {
			t.Fatal(err)
		}
		if d.Verdict != c.verdict || d.Pending != c.pending || d.Stop != c.stopping || d.Early != c.stopping {
			t.Errorf("%s: %s pending %q stop %v early %v: %s", c.name, d.Verdict, d.Pending, d.Stop, d.Early, d.Reason)
		}
	}
}

// The report speaks in signed words: the change with its sign, the interval, which way is
// better, and the outcome.
func TestDecide_SummaryIsSigned(t *testing.T) {
	const n = 12
	base := analysistest.Wave(n, 3000)
	s := series("bytes_per_second", false, base, analysistest.Times(base, 0.193))
	d, err := Decide(Input{Series: []Series{s}, Schedule: Schedule{Planned: n, Max: n}, Look: Planned, Dues: 1, Windows: n}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := d.Metrics[0]
	if !strings.HasPrefix(m.Summary, "bytes_per_second −80.7% [−8") || !strings.HasSuffix(m.Summary, "], lower is better: improved") {
		t.Errorf("summary %q", m.Summary)
	}
	if m.Change.Low > m.Change.Estimate || m.Change.High < m.Change.Estimate || m.Change.High > -0.8 {
		t.Errorf("change %+v", *m.Change)
	}
}

// A guardrail's absolute floor widens its tolerance when the relative one asks for less than
// anyone pays for: a collector at 7 millicores, measured to ±10%, holds within 10 more
// millicores, not within 5%.
func TestDecide_ToleranceFloorWidensASmallGuardrail(t *testing.T) {
	const n = 12
	base := analysistest.Wave(n, 1000)
	cpu := make([]float64, n)
	cand := make([]float64, n)
	for i := range cpu {
		cpu[i] = 0.007 * (1 + 0.1*math.Sin(float64(i)*2.1))
		cand[i] = 0.007 * (1 + 0.1*math.Cos(float64(i)*1.3))
	}
	guard := series("collector_cpu", true, cpu, cand)
	in := Input{Series: []Series{series("series", false, base, analysistest.Times(base, 0.5)), guard},
		Schedule: Schedule{Planned: n, Max: n}, Look: Planned, Dues: 1, Windows: n}
	d, err := Decide(in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Metrics[1].Outcome != Undecided || d.Verdict != experiment.VerdictInconclusive {
		t.Fatalf("without a floor: %s, %s", d.Metrics[1].Outcome, d.Reason)
	}
	in.Series[1].ToleranceFloor = 0.01
	if d, err = Decide(in, Options{}); err != nil {
		t.Fatal(err)
	}
	m := d.Metrics[1]
	if m.Outcome != NoChange || d.Verdict != experiment.VerdictPromote || !strings.Contains(stepDetails(m.Trace), "widens the 5% tolerance to 14") {
		t.Fatalf("with a floor of 0.01: %s (%s), %s; %+v", m.Outcome, m.Reason, d.Verdict, m.Trace)
	}
}

func stepDetails(steps []Step) string {
	var b strings.Builder
	for _, s := range steps {
		b.WriteString(s.Rule + ": " + s.Detail + "\n")
	}
	return b.String()
}
