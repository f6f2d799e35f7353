package experiment

import (
	"strings"
	"testing"
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
