package analyzer

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/phoenixotel/phoenix/shared/analysis"
	"github.com/phoenixotel/phoenix/shared/analysis/analysistest"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/store"
)

// noisy returns n values around mean with sd-sized swings, different per seed.
func noisy(n int, mean, sd float64, seed int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = mean + sd*math.Sin(float64(i*7+seed)*2.3)
	}
	return out
}

// planned builds a run of n windows, decided at its planned look.
func planned(spec experiment.Spec, n int, series map[string]store.PairedSeries) Run {
	run := NewRun(spec, time.Duration(n)*15*time.Second, time.Duration(n)*15*time.Second, 15*time.Second)
	run.Series = series
	run.Parity = analysis.ParityInput{Baseline: analysis.Received{Windows: n}, Candidate: analysis.Received{Windows: n}}
	return run
}

func paired(b, c []float64) store.PairedSeries { return store.PairedSeries{Baseline: b, Candidate: c} }

func TestLook_VerdictFollowsTheCriteriaAndTheRules(t *testing.T) {
	t.Parallel()
	const n = 12
	base := analysistest.Wave(n, 1000)
	cpu := analysistest.Wave(n, 0.5)
	lost := []analysis.CoverageWindow{{Start: time.Date(2026, 12, 6, 4, 0, 15, 0, time.UTC),
		Baseline: []string{"mysqld", "nginx"}, Candidate: []string{"nginx"}}}
	tests := []struct {
		name     string
		spec     experiment.Spec
		series   map[string]store.PairedSeries
		coverage []analysis.CoverageWindow
		parity   func(*analysis.ParityInput)
		want     experiment.Verdict
		criteria string
		outcomes map[string]analysis.Outcome
		reason   string // a part of the reason
	}{
		{"a cheaper candidate", experiment.Spec{}, map[string]store.PairedSeries{"series": paired(base, analysistest.Times(base, 0.4))}, nil, nil,
			experiment.VerdictPromote, "defaults", map[string]analysis.Outcome{"series": analysis.Improved}, "series −60"},
		{"cheaper but a critical process lost in one window", experiment.Spec{}, map[string]store.PairedSeries{"series": paired(base, analysistest.Times(base, 0.4))},
			lost, nil, experiment.VerdictReject, "defaults", map[string]analysis.Outcome{"series": analysis.Improved}, "mysqld missing from the candidate's output in 1 windows: 04:00:15 (mysqld)"},
		{"a lost window within the spec's tolerance", experiment.Spec{Analysis: &experiment.AnalysisSettings{CriticalMissTolerance: 1}},
			map[string]store.PairedSeries{"series": paired(base, analysistest.Times(base, 0.4))}, lost, nil,
			experiment.VerdictPromote, "defaults", map[string]analysis.Outcome{"series": analysis.Improved}, "improved"},
		{"the same pipeline: better nowhere", experiment.Spec{}, map[string]store.PairedSeries{"series": paired(base, base)}, nil, nil,
			experiment.VerdictReject, "defaults", map[string]analysis.Outcome{"series": analysis.NoChange}, "better nowhere"},
		{"two windows: nothing to decide on", experiment.Spec{}, map[string]store.PairedSeries{"series": paired(base[:2], base[:2])}, nil, nil,
			experiment.VerdictInconclusive, "defaults", map[string]analysis.Outcome{"series": analysis.Undecided}, "only 2 paired windows"},
		{"collector CPU too noisy to vouch for", experiment.Spec{}, map[string]store.PairedSeries{
			"series":        paired(base, analysistest.Times(base, 0.4)),
			"collector_cpu": paired(noisy(n, 0.5, 0.2, 1), noisy(n, 0.5, 0.2, 2)),
		}, nil, nil, experiment.VerdictInconclusive, "defaults", map[string]analysis.Outcome{"series": analysis.Improved, "collector_cpu": analysis.Undecided}, "not yet shown within the 5% tolerance"},
		{"collector CPU steady: the guardrail holds", experiment.Spec{}, map[string]store.PairedSeries{
			"series":        paired(base, analysistest.Times(base, 0.4)),
			"collector_cpu": paired(cpu, analysistest.Times(cpu, 1.0)),
		}, nil, nil, experiment.VerdictPromote, "defaults", map[string]analysis.Outcome{"series": analysis.Improved, "collector_cpu": analysis.NoChange}, "guardrails hold"},
		{"a hungrier collector breaks the guardrail", experiment.Spec{}, map[string]store.PairedSeries{
			"series":        paired(base, analysistest.Times(base, 0.4)),
			"collector_cpu": paired(cpu, analysistest.Times(cpu, 1.5)),
		}, nil, nil, experiment.VerdictReject, "defaults", map[string]analysis.Outcome{"series": analysis.Improved, "collector_cpu": analysis.Regressed}, "guardrail is broken"},
		{"the spec's threshold not met", experiment.Spec{SuccessCriteria: []experiment.Criterion{{Metric: "series", MinImprovement: 0.8}}},
			map[string]store.PairedSeries{"series": paired(base, analysistest.Times(base, 0.4)), "bytes_per_second": paired(analysistest.Wave(n, 10), analysistest.Wave(n, 20))}, nil, nil,
			experiment.VerdictReject, "spec", map[string]analysis.Outcome{"series": analysis.NoChange}, "better nowhere: series −60"},
		{"a spec criterion without data", experiment.Spec{SuccessCriteria: []experiment.Criterion{{Metric: "series"}, {Metric: "collector_memory", Critical: true}}},
			map[string]store.PairedSeries{"series": paired(base, analysistest.Times(base, 0.4))}, nil, nil,
			experiment.VerdictInconclusive, "spec", map[string]analysis.Outcome{"series": analysis.Improved, "collector_memory": analysis.Undecided}, "collector_memory"},
		{"unequal inputs", experiment.Spec{}, map[string]store.PairedSeries{"series": paired(base, analysistest.Times(base, 0.4))}, nil,
			func(p *analysis.ParityInput) {
				p.Baseline.Reported, p.Candidate.Reported, p.Baseline.Accepted, p.Candidate.Accepted = n, n, 12000, 9000
			}, experiment.VerdictInvalid, "defaults", map[string]analysis.Outcome{"series": analysis.Improved}, "accepted −25% the baseline's points a window"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := planned(tt.spec, n, tt.series)
			run.Coverage = tt.coverage
			if tt.parity != nil {
				tt.parity(&run.Parity)
			}
			rep, err := Look(run, analysis.Planned, 1, nil)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Verdict != tt.want || rep.Criteria != tt.criteria || !rep.Stop {
				t.Fatalf("verdict %s (stop %v) from %s criteria, want %s from %s: %s", rep.Verdict, rep.Stop, rep.Criteria, tt.want, tt.criteria, rep.Reason)
			}
			if !strings.Contains(rep.Reason, tt.reason) {
				t.Errorf("reason %q lacks %q", rep.Reason, tt.reason)
			}
			for m, o := range tt.outcomes {
				found := false
				for _, md := range rep.Metrics {
					if md.Metric == m {
						found = true
						if md.Outcome != o {
							t.Errorf("%s: %s, want %s (%s)", m, md.Outcome, o, md.Reason)
						}
					}
				}
				if !found {
					t.Errorf("%s not decided on", m)
				}
			}
		})
	}
}

// With room to extend, an undecided planned look continues with the windows it needs; without,
// it ends inconclusive. The windows needed grow the run.
func TestLook_ContinuesWhileTheRunMayBeExtended(t *testing.T) {
	t.Parallel()
	const n = 12
	series := map[string]store.PairedSeries{"series": paired(analysistest.Wave(n, 1000), noisy(n, 990, 150, 3))}
	for _, c := range []struct {
		name string
		max  int
		want experiment.Verdict
	}{{"room", 3600, experiment.VerdictContinue}, {"no room", 0, experiment.VerdictInconclusive}} {
		spec := experiment.Spec{Analysis: &experiment.AnalysisSettings{MaxDurationSeconds: c.max}}
		rep, err := Look(planned(spec, n, series), analysis.Planned, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Verdict != c.want || rep.WindowsNeeded <= n {
			t.Errorf("%s: %s needing %d windows: %s", c.name, rep.Verdict, rep.WindowsNeeded, rep.Reason)
		}
	}
}

// A live look ends the run early on a clear answer only as the spec allows: a regression at once,
// a win after the minimum run.
func TestLook_LiveLooksStopEarlyAsTheSpecAllows(t *testing.T) {
	t.Parallel()
	const n = 16 // 4 minutes of 15 s windows into a 30-minute run
	base := analysistest.Wave(n, 1000)
	cheaper := map[string]store.PairedSeries{"series": paired(base, analysistest.Times(base, 0.4))}
	dearer := map[string]store.PairedSeries{"series": paired(base, analysistest.Times(base, 2))}
	live := func(spec experiment.Spec, series map[string]store.PairedSeries) Report {
		t.Helper()
		run := NewRun(spec, 30*time.Minute, 30*time.Minute, 15*time.Second)
		run.Series = series
		run.Parity = analysis.ParityInput{Baseline: analysis.Received{Windows: n}, Candidate: analysis.Received{Windows: n}}
		rep, err := Look(run, analysis.Live, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if rep := live(experiment.Spec{}, cheaper); rep.Stop || rep.Verdict != experiment.VerdictContinue || rep.Pending != experiment.VerdictPromote {
		t.Errorf("a win before the 5-minute minimum run: stop %v, %s pending %s", rep.Stop, rep.Verdict, rep.Pending)
	}
	quick := experiment.Spec{Analysis: &experiment.AnalysisSettings{EarlyStop: &experiment.EarlyStop{MinRunSeconds: 120}}}
	if rep := live(quick, cheaper); !rep.Stop || !rep.Early || rep.Verdict != experiment.VerdictPromote {
		t.Errorf("a win after a 2-minute minimum run: stop %v early %v, %s: %s", rep.Stop, rep.Early, rep.Verdict, rep.Reason)
	}
	if rep := live(experiment.Spec{}, dearer); !rep.Stop || !rep.Early || rep.Verdict != experiment.VerdictReject {
		t.Errorf("a regression: stop %v early %v, %s", rep.Stop, rep.Early, rep.Verdict)
	}
	off := experiment.Spec{Analysis: &experiment.AnalysisSettings{EarlyStop: &experiment.EarlyStop{Regressions: new(false)}}}
	if rep := live(off, dearer); rep.Stop || rep.Pending != experiment.VerdictReject {
		t.Errorf("a regression with early stopping off: stop %v, pending %s", rep.Stop, rep.Pending)
	}
}

// An A/A run's report says whether the platform's false-alarm rate holds.
func TestLook_CalibratesAnAARun(t *testing.T) {
	t.Parallel()
	const n = 12
	base := analysistest.Wave(n, 1000)
	same := planned(experiment.Spec{}, n, map[string]store.PairedSeries{"series": paired(base, analysistest.Times(base, 1))})
	same.AA = true
	rep, err := Look(same, analysis.Planned, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Calibration == nil || !rep.Calibration.Holds || rep.Verdict == experiment.VerdictPromote {
		t.Fatalf("A/A without a difference: %+v, verdict %s", rep.Calibration, rep.Verdict)
	}
	off := planned(experiment.Spec{}, n, map[string]store.PairedSeries{"series": paired(base, analysistest.Times(base, 0.9))})
	off.AA = true
	rep, err = Look(off, analysis.Planned, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Calibration == nil || rep.Calibration.Holds || len(rep.Calibration.FalseAlarms) != 1 || !strings.Contains(rep.Calibration.Detail, "series −9.99%") {
		t.Fatalf("A/A with a difference: %+v", rep.Calibration)
	}
}

// The report is JSON a reader can follow: the method, the look and its budget, per metric the
// change in signed words, the interval's guard, and the trace.
func TestLook_ReportIsExplainedJSON(t *testing.T) {
	t.Parallel()
	const n = 40
	base := analysistest.Wave(n, 1000)
	spec := experiment.Spec{
		SuccessCriteria: []experiment.Criterion{{Metric: "series", MinImprovement: 0.1}, {Metric: "collector_cpu", Critical: true, Tolerance: 0.1}},
		Analysis:        &experiment.AnalysisSettings{Alpha: 0.01},
	}
	run := planned(spec, n, map[string]store.PairedSeries{
		"series":        paired(base, analysistest.Times(base, 0.6)),
		"collector_cpu": paired(analysistest.Wave(n, 0.5), analysistest.Times(analysistest.Wave(n, 0.5), 1)),
		"extra":         paired(analysistest.Wave(n, 1), analysistest.Wave(n, 1)),
	})
	rep, err := Look(run, analysis.Planned, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Method   string   `json:"method"`
		Verdict  string   `json:"verdict"`
		Unused   []string `json:"unused_metrics"`
		Settings struct {
			Alpha float64 `json:"alpha"`
		} `json:"settings"`
		Look struct {
			Kind   string  `json:"kind"`
			Looks  int     `json:"looks"`
			Spent  float64 `json:"budget_spent"`
			Weight float64 `json:"weight"`
		} `json:"look"`
		Metrics []struct {
			Metric   string `json:"metric"`
			Outcome  string `json:"outcome"`
			Summary  string `json:"summary"`
			Scale    string `json:"scale"`
			Pairs    int    `json:"pairs"`
			Interval *struct {
				Terms      int     `json:"cosine_terms"`
				Lag1Bound  float64 `json:"lag1_bound"`
				EffectiveN float64 `json:"effective_n"`
			} `json:"interval"`
			Trace []analysis.Step `json:"trace"`
		} `json:"metrics"`
		Trace []analysis.Step `json:"trace"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Verdict != "promote" || doc.Settings.Alpha != 0.01 || doc.Look.Kind != "planned" || doc.Look.Looks != n-analysis.FirstLook+2 ||
		doc.Look.Spent != 1 || doc.Look.Weight != 0.75 || !strings.Contains(doc.Method, "autocorrelation") || len(doc.Trace) == 0 {
		t.Fatalf("report %s", raw)
	}
	if len(doc.Unused) != 1 || doc.Unused[0] != "extra" || len(doc.Metrics) != 2 {
		t.Fatalf("metrics %+v unused %v", doc.Metrics, doc.Unused)
	}
	series := doc.Metrics[0]
	if series.Outcome != "improved" || series.Scale != "log_ratio" || series.Pairs != n || series.Interval == nil ||
		series.Interval.Terms != 30 || !strings.HasPrefix(series.Summary, "series −40") || !strings.Contains(series.Summary, "lower is better: improved") {
		t.Errorf("series: %+v", series)
	}
}
