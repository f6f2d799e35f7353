package analysis

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		w    Welch
		dir  Direction
		want Outcome
	}{
		{"lower is better, significant drop", Welch{Diff: -5, P: 0.001}, LowerIsBetter, Improved},
		{"lower is better, significant rise", Welch{Diff: 5, P: 0.001}, LowerIsBetter, Regressed},
		{"higher is better, significant drop", Welch{Diff: -5, P: 0.001}, HigherIsBetter, Regressed},
		{"higher is better, significant rise", Welch{Diff: 5, P: 0.001}, HigherIsBetter, Improved},
		{"not significant", Welch{Diff: -5, P: 0.2}, LowerIsBetter, NoChange},
		{"p exactly alpha is not significant", Welch{Diff: -5, P: 0.05}, LowerIsBetter, NoChange},
	}
	for _, tt := range tests {
		if got := Classify(tt.w, tt.dir, 0.05); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, got, tt.want)
		}
	}
}

// Metric constructors for the decision tables. Every sample is drawn from a fixed seed, so each
// case is one exact input.
func goal(name string, b, c []float64) Series {
	return Series{Criterion: Criterion{Metric: name, Direction: LowerIsBetter}, Baseline: b, Candidate: c}
}

func guard(name string, b, c []float64) Series {
	return Series{Criterion: Criterion{Metric: name, Direction: LowerIsBetter, Critical: true}, Baseline: b, Candidate: c}
}

func with(s Series, f func(*Series)) Series { f(&s); return s }

// stepResult returns the result of the named rule in a trace, or "".
func stepResult(trace []Step, rule string) string {
	for _, s := range trace {
		if s.Rule == rule {
			return s.Result
		}
	}
	return ""
}

func TestDecide_Table(t *testing.T) {
	cheaper := goal("series", normalSample(1, 40, 1000, 20), normalSample(2, 40, 600, 20))
	steadyCPU := guard("collector_cpu", normalSample(3, 40, 0.5, 0.005), normalSample(4, 40, 0.5, 0.005))
	hungryCPU := guard("collector_cpu", normalSample(3, 40, 0.5, 0.005), normalSample(4, 40, 0.65, 0.005))
	noisyCPU := guard("collector_cpu", normalSample(5, 6, 0.5, 0.2), normalSample(6, 6, 0.5, 0.2))
	small := goal("bytes_per_second", normalSample(7, 8, 100, 10), normalSample(8, 8, 98, 10))
	same := goal("datapoints_per_second", normalSample(9, 200, 100, 1), normalSample(10, 200, 100, 1))
	one := Options{Batching: Batching{Size: 1}}

	tests := []struct {
		name     string
		series   []Series
		opt      Options
		verdict  Verdict
		outcomes []Outcome // per series, in order
		rule     string    // an overall rule and its expected result
		result   string
		needed   bool // additional_observations present
	}{
		{"clear improvement, guardrail holds", []Series{cheaper, steadyCPU}, one,
			Promote, []Outcome{Improved, NoChange}, "guardrails", Pass, false},
		{"a critical regression rejects despite an improvement", []Series{cheaper, hungryCPU}, one,
			Reject, []Outcome{Improved, Regressed}, "critical regression", Fail, false},
		{"a critical regression rejects even while other metrics could gather data", []Series{small, hungryCPU},
			Options{Batching: Batching{Size: 1}, MoreDataPossible: true},
			Reject, []Outcome{Inconclusive, Regressed}, "critical regression", Fail, false},
		{"a goal regression rejects", []Series{cheaper, goal("bytes_per_second", normalSample(11, 40, 100, 2), normalSample(12, 40, 120, 2))}, one,
			Reject, []Outcome{Improved, Regressed}, "goal regression", Fail, false},
		{"a significant improvement below the threshold is no change", []Series{with(cheaper, func(s *Series) { s.MinImprovement = 0.5 })}, one,
			Reject, []Outcome{NoChange}, "improvement", Fail, false},
		{"a significant worsening within the threshold is no change", []Series{
			with(goal("series", normalSample(13, 60, 1000, 5), normalSample(14, 60, 1010, 5)), func(s *Series) { s.MinImprovement = 0.1 }), cheaper2()}, one,
			Promote, []Outcome{NoChange, Improved}, "goal regression", Pass, false},
		{"no change with the power to see one: nothing gained", []Series{same}, one,
			Reject, []Outcome{NoChange}, "improvement", Fail, false},
		{"underpowered: inconclusive with the data needed", []Series{small}, one,
			InsufficientData, []Outcome{Inconclusive}, "enough data", Fail, true},
		{"underpowered while the run goes on: continue", []Series{small}, Options{Batching: Batching{Size: 1}, MoreDataPossible: true},
			Continue, []Outcome{Inconclusive}, "enough data", Fail, true},
		{"a guardrail not yet shown no worse blocks promotion", []Series{cheaper, noisyCPU}, one,
			InsufficientData, []Outcome{Improved, Inconclusive}, "guardrails", Fail, true},
		{"too few observations", []Series{goal("series", []float64{1}, []float64{2, 3})}, one,
			InsufficientData, []Outcome{Inconclusive}, "enough data", Fail, true},
		{"constant and equal: no change", []Series{cheaper, with(guard("critical_process_coverage", []float64{1, 1, 1}, []float64{1, 1, 1}),
			func(s *Series) { s.Direction = HigherIsBetter })}, one,
			Promote, []Outcome{Improved, NoChange}, "guardrails", Pass, false},
		{"constant and lower coverage: a critical regression", []Series{cheaper, with(guard("critical_process_coverage", []float64{1, 1, 1}, []float64{0.9, 0.9}),
			func(s *Series) { s.Direction = HigherIsBetter })}, one,
			Reject, []Outcome{Improved, Regressed}, "critical regression", Fail, false},
		{"no metrics", nil, Options{}, InsufficientData, nil, "metrics", Fail, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Decide(tt.series, tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			if d.Verdict != tt.verdict {
				t.Fatalf("verdict %s, want %s: %s\n%+v", d.Verdict, tt.verdict, d.Reason, d.Trace)
			}
			for i, m := range d.Metrics {
				if m.Outcome != tt.outcomes[i] {
					t.Errorf("%s: %s (%s), want %s", m.Metric, m.Outcome, m.Reason, tt.outcomes[i])
				}
				if m.Reason == "" || len(m.Trace) == 0 {
					t.Errorf("%s: no reason or trace", m.Metric)
				}
			}
			if got := stepResult(d.Trace, tt.rule); got != tt.result {
				t.Errorf("rule %q: %q, want %q; trace %+v", tt.rule, got, tt.result, d.Trace)
			}
			if (d.Needed != nil) != tt.needed {
				t.Errorf("additional observations %+v, want present %v", d.Needed, tt.needed)
			}
			if d.Reason == "" {
				t.Error("no reason")
			}
			if _, err := json.Marshal(d); err != nil {
				t.Errorf("the decision does not encode: %v", err)
			}
		})
	}
}

// cheaper2 is a second clearly improved goal.
func cheaper2() Series {
	return goal("cost_per_hour", normalSample(15, 40, 10, 0.2), normalSample(16, 40, 7, 0.2))
}

func TestDecide_UnderpoweredMetricSaysHowMuchMore(t *testing.T) {
	s := goal("bytes_per_second", normalSample(7, 8, 100, 10), normalSample(8, 8, 98, 10))
	s.MinImprovement = 0.1
	d, err := Decide([]Series{s}, Options{Batching: Batching{Size: 2}})
	if err != nil {
		t.Fatal(err)
	}
	m := d.Metrics[0]
	if m.Outcome != Inconclusive || m.Power == nil || m.Power.Powered || m.Needed == nil {
		t.Fatalf("%+v", m)
	}
	// The plan: windows of 2 observations, as many windows per variant as RequiredSampleSize
	// asks for 10% of the baseline mean at the windows' variances.
	w := m.Welch
	n, err := RequiredSampleSize(w.Var1, w.Var2, 0.1*w.Mean1, 0.05, 0.8, 2)
	if err != nil {
		t.Fatal(err)
	}
	if m.Power.RequiredWindows != n || m.Needed.Baseline != 2*(n-w.N1) || m.Needed.Candidate != 2*(n-w.N2) || *d.Needed != *m.Needed {
		t.Errorf("required %d windows (want %d), needed %+v, overall %+v", m.Power.RequiredWindows, n, *m.Needed, *d.Needed)
	}
	// With that many windows of the same variance the test detects 10%.
	mde, _ := MinimumDetectableEffect(w.Var1, n, w.Var2, n, 0.05, 0.8, 2)
	if mde > 0.1*w.Mean1 {
		t.Errorf("MDE at the planned size %v > %v", mde, 0.1*w.Mean1)
	}
}

func TestDecide_MannWhitneyMustConfirmAnImprovement(t *testing.T) {
	// Three in four candidate values equal the baseline's; a quarter are far lower. The mean
	// drops significantly, the typical value does not move.
	var b, c []float64
	for i := range 80 {
		v := 100 + float64(i%10)
		b = append(b, v)
		if i%4 == 0 {
			c = append(c, v-60)
		} else {
			c = append(c, v+0.01)
		}
	}
	d, err := Decide([]Series{goal("series", b, c)}, Options{Batching: Batching{Size: 1}})
	if err != nil {
		t.Fatal(err)
	}
	m := d.Metrics[0]
	if *m.WelchAdjustedP >= 0.05 || m.Outcome != Inconclusive || stepResult(m.Trace, "robustness") != Fail {
		t.Fatalf("Welch p %v, outcome %s: %s", *m.WelchAdjustedP, m.Outcome, m.Reason)
	}
}

func TestDecide_DropsAndCountsNonFiniteValues(t *testing.T) {
	b := append(normalSample(1, 40, 1000, 20), math.NaN(), math.Inf(1))
	c := append([]float64{math.Inf(-1)}, normalSample(2, 40, 600, 20)...)
	d, err := Decide([]Series{goal("series", b, c)}, Options{Batching: Batching{Size: 1}})
	if err != nil {
		t.Fatal(err)
	}
	m := d.Metrics[0]
	if m.Baseline.Observations != 42 || m.Baseline.NonFinite != 2 || m.Candidate.NonFinite != 1 || m.Baseline.Windows.Count != 40 || m.Outcome != Improved {
		t.Fatalf("%+v", m)
	}
}

func TestDecide_CorrectionAcrossMetrics(t *testing.T) {
	// Two borderline metrics: each alone would pass at 0.05, together Holm doubles the smaller p.
	a := goal("series", normalSample(21, 30, 100, 5), normalSample(22, 30, 97, 5))
	b := goal("bytes_per_second", normalSample(23, 30, 100, 5), normalSample(24, 30, 97.5, 5))
	for _, corr := range []Correction{HolmCorrection, BenjaminiHochbergCorrection} {
		d, err := Decide([]Series{a, b}, Options{Batching: Batching{Size: 1}, Correction: corr})
		if err != nil {
			t.Fatal(err)
		}
		ps := []float64{d.Metrics[0].Welch.P, d.Metrics[1].Welch.P}
		want, _ := Holm(ps)
		if corr == BenjaminiHochbergCorrection {
			want, _ = BenjaminiHochberg(ps)
		}
		for i, m := range d.Metrics {
			if *m.WelchAdjustedP != want[i] || m.WelchAdjustedP == nil {
				t.Errorf("%s %s: adjusted %v, want %v", corr, m.Metric, *m.WelchAdjustedP, want[i])
			}
		}
		if d.Settings.Correction != corr {
			t.Errorf("settings say %s", d.Settings.Correction)
		}
	}
}

func TestDecide_RefusesBadSettings(t *testing.T) {
	ok := goal("series", []float64{1, 2}, []float64{3, 4})
	tests := []struct {
		name   string
		series []Series
		opt    Options
	}{
		{"alpha", []Series{ok}, Options{Alpha: 0.7}},
		{"power", []Series{ok}, Options{Power: 1}},
		{"correction", []Series{ok}, Options{Correction: "bonferroni"}},
		{"batching", []Series{ok}, Options{Batching: Batching{Size: -1}}},
		{"planning effect", []Series{ok}, Options{PlanningEffect: math.Inf(1)}},
		{"repeated metric", []Series{ok, ok}, Options{}},
		{"empty metric", []Series{goal("", nil, nil)}, Options{}},
		{"negative threshold", []Series{with(ok, func(s *Series) { s.MinImprovement = -0.1 })}, Options{}},
		{"NaN tolerance", []Series{with(ok, func(s *Series) { s.Tolerance = math.NaN() })}, Options{}},
	}
	for _, tt := range tests {
		if _, err := Decide(tt.series, tt.opt); !errors.Is(err, ErrParameter) {
			t.Errorf("%s: error %v, want ErrParameter", tt.name, err)
		}
	}
}

func TestDirection_Text(t *testing.T) {
	for _, d := range []Direction{LowerIsBetter, HigherIsBetter} {
		b, _ := d.MarshalText()
		var back Direction
		if err := back.UnmarshalText(b); err != nil || back != d {
			t.Errorf("%v round-trips to %v, %v", d, back, err)
		}
	}
	var d Direction
	if err := d.UnmarshalText([]byte("sideways")); !errors.Is(err, ErrParameter) {
		t.Errorf("unknown direction: %v", err)
	}
}
