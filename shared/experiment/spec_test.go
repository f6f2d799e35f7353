package experiment

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestSpec_Validate(t *testing.T) {
	tests := []struct {
		name   string
		spec   Spec
		fields []string
	}{
		{"empty is valid", Spec{}, nil},
		{"a full valid spec", Spec{
			CriticalProcesses: []string{"postgres", "nginx.*"},
			Targets:           Targets{Namespace: "observability", NodeSelector: map[string]string{"kubernetes.io/os": "linux"}},
			SuccessCriteria:   []Criterion{{Metric: "series", MinImprovement: 0.2}, {Metric: "critical_process_coverage", Critical: true}},
		}, nil},
		{"bad pattern", Spec{CriticalProcesses: []string{"("}}, []string{"critical_processes[0]"}},
		{"empty pattern", Spec{CriticalProcesses: []string{" "}}, []string{"critical_processes[0]"}},
		{"bad namespace", Spec{Targets: Targets{Namespace: "Obs_Space"}}, []string{"targets.namespace"}},
		{"bad label", Spec{Targets: Targets{NodeSelector: map[string]string{"bad key!": "x"}}}, []string{"targets.node_selector"}},
		{"unknown metric, bad direction, bad improvement", Spec{SuccessCriteria: []Criterion{{Metric: "latency", Direction: "up", MinImprovement: 2}}},
			[]string{"success_criteria[0].metric", "success_criteria[0].direction", "success_criteria[0].min_improvement"}},
		{"duplicate metric", Spec{SuccessCriteria: []Criterion{{Metric: "series"}, {Metric: "series"}}}, []string{"success_criteria[1].metric"}},
		{"tolerance on a guardrail", Spec{SuccessCriteria: []Criterion{{Metric: "collector_cpu", Critical: true, Tolerance: 0.1, ToleranceFloor: 0.02}}}, nil},
		{"a floor on a goal, a negative floor", Spec{SuccessCriteria: []Criterion{{Metric: "series", ToleranceFloor: 5},
			{Metric: "collector_memory", Critical: true, ToleranceFloor: -1}}},
			[]string{"success_criteria[0].tolerance_floor", "success_criteria[1].tolerance_floor"}},
		{"tolerance out of range, tolerance on a goal", Spec{SuccessCriteria: []Criterion{
			{Metric: "collector_cpu", Critical: true, Tolerance: 1.5}, {Metric: "series", Tolerance: 0.1}}},
			[]string{"success_criteria[0].tolerance", "success_criteria[1].tolerance"}},
		{"NaN thresholds", Spec{SuccessCriteria: []Criterion{{Metric: "series", MinImprovement: math.NaN()}}}, []string{"success_criteria[0].min_improvement"}},
		{"analysis settings", Spec{Analysis: &AnalysisSettings{Alpha: 0.01, Power: 0.9, CriticalMissTolerance: 2, ParityTolerance: 0.2,
			EarlyStop: &EarlyStop{Wins: new(false), MinRunSeconds: 600}}}, nil},
		{"bad analysis settings", Spec{Analysis: &AnalysisSettings{Alpha: 0.5, Power: 0.3, CriticalMissTolerance: -1, ParityTolerance: 0.9,
			EarlyStop: &EarlyStop{MinRunSeconds: -5}}},
			[]string{"analysis.alpha", "analysis.power", "analysis.early_stop.min_run_seconds", "analysis.critical_miss_tolerance", "analysis.parity_tolerance"}},
	}
	for _, tt := range tests {
		got := tt.spec.Validate()
		var fields []string
		for _, e := range got {
			fields = append(fields, e.Field)
		}
		if strings.Join(fields, ",") != strings.Join(tt.fields, ",") {
			t.Errorf("%s: errors on %v, want %v (%+v)", tt.name, fields, tt.fields, got)
		}
	}
}

func TestDefaultCriterion_GuardsCollectorCost(t *testing.T) {
	for metric, dir := range Metrics() {
		c := DefaultCriterion(metric)
		wantCritical := metric == "collector_cpu" || metric == "collector_memory"
		if c.Metric != metric || c.Direction != dir || c.Critical != wantCritical || c.MinImprovement != 0 {
			t.Errorf("%s: %+v", metric, c)
		}
		if wantCritical != (c.Tolerance > 0) || wantCritical != (c.ToleranceFloor > 0) {
			t.Errorf("%s: tolerance %v, floor %v", metric, c.Tolerance, c.ToleranceFloor)
		}
		if errs := (Spec{SuccessCriteria: []Criterion{c}}).Validate(); errs != nil {
			t.Errorf("%s: the default criterion does not validate: %v", metric, errs)
		}
	}
}

func TestDefaultMetrics_AreEveryKPIButCoverage(t *testing.T) {
	known := Metrics()
	got := DefaultMetrics()
	if len(got) != len(known)-1 {
		t.Fatalf("%d default metrics for %d KPIs", len(got), len(known))
	}
	for _, m := range got {
		if _, ok := known[m]; !ok || m == "critical_process_coverage" {
			t.Errorf("default metric %q", m)
		}
	}
}

func TestCatalog_DescribesEveryKPIAndItsDefault(t *testing.T) {
	got := Catalog()
	if len(got) != len(Metrics()) {
		t.Fatalf("%d entries for %d KPIs", len(got), len(Metrics()))
	}
	byDefault := 0
	for i, m := range got {
		if i > 0 && got[i-1].Name >= m.Name {
			t.Errorf("not sorted at %s", m.Name)
		}
		if m.Direction != Metrics()[m.Name] || m.Default != DefaultCriterion(m.Name) {
			t.Errorf("%s: %+v", m.Name, m)
		}
		if m.DecidedByDefault {
			byDefault++
		}
		if m.DecidedByDefault == (m.Name == "critical_process_coverage") {
			t.Errorf("%s decided by default: %v", m.Name, m.DecidedByDefault)
		}
	}
	if byDefault != len(DefaultMetrics()) {
		t.Errorf("%d decided by default, want %d", byDefault, len(DefaultMetrics()))
	}
}

func TestSpec_EarlyStopping(t *testing.T) {
	cases := []struct {
		name        string
		spec        Spec
		duration    time.Duration
		regressions bool
		wins        bool
		minRun      time.Duration
	}{
		{"defaults", Spec{}, 30 * time.Minute, true, true, DefaultMinRun},
		{"the minimum run never exceeds the duration", Spec{}, 3 * time.Minute, true, true, 3 * time.Minute},
		{"wins off", Spec{Analysis: &AnalysisSettings{EarlyStop: &EarlyStop{Wins: new(false)}}}, time.Hour, true, false, DefaultMinRun},
		{"regressions off, a longer minimum", Spec{Analysis: &AnalysisSettings{EarlyStop: &EarlyStop{Regressions: new(false), MinRunSeconds: 900}}},
			time.Hour, false, true, 15 * time.Minute},
	}
	for _, c := range cases {
		r, w, m := c.spec.EarlyStopping(c.duration)
		if r != c.regressions || w != c.wins || m != c.minRun {
			t.Errorf("%s: %v %v %v, want %v %v %v", c.name, r, w, m, c.regressions, c.wins, c.minRun)
		}
	}
}

func TestSpec_MaxDuration(t *testing.T) {
	cases := []struct {
		max  int
		want time.Duration
	}{
		{0, 10 * time.Minute},   // no extension
		{300, 10 * time.Minute}, // below the duration: no extension
		{3600, time.Hour},       // extended up to an hour
		{600, 10 * time.Minute}, // equal
	}
	for _, c := range cases {
		s := Spec{Analysis: &AnalysisSettings{MaxDurationSeconds: c.max}}
		if got := s.MaxDuration(10 * time.Minute); got != c.want {
			t.Errorf("max %d: %v, want %v", c.max, got, c.want)
		}
	}
	if got := (Spec{}).MaxDuration(time.Minute); got != time.Minute {
		t.Errorf("no analysis settings: %v", got)
	}
	if errs := (Spec{Analysis: &AnalysisSettings{MaxDurationSeconds: 30}}).Validate(); len(errs) != 1 || errs[0].Field != "analysis.max_duration_seconds" {
		t.Errorf("30 s accepted: %v", errs)
	}
}
