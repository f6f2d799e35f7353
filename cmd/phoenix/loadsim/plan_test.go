package loadsim

import (
	"slices"
	"testing"
)

func TestPlan_Profiles(t *testing.T) {
	cases := []struct {
		profile       string
		n             int
		minDistinct   int  // distinct executable names
		churns        bool // non-critical processes have a lifetime
		wantProcesses int
	}{
		{Realistic, 30, 13, false, 30},
		{Realistic, 1, 3, false, 3}, // raised to the critical processes
		{HighCardinality, 300, 300, false, 300},
		{ProcessChurn, 40, 8, true, 40},
	}
	for _, c := range cases {
		t.Run(c.profile, func(t *testing.T) {
			plan, err := Plan(c.profile, c.n, 7)
			if err != nil {
				t.Fatal(err)
			}
			if len(plan) != c.wantProcesses {
				t.Fatalf("%d processes, want %d", len(plan), c.wantProcesses)
			}
			names := map[string]bool{}
			for _, p := range plan {
				names[p.Name] = true
				if len(p.Name) == 0 || len(p.Name) > MaxNameLen {
					t.Errorf("name %q does not fit /proc/PID/comm", p.Name)
				}
				if p.Critical && p.Lifetime != 0 {
					t.Errorf("critical %s churns", p.Name)
				}
				if !p.Critical && c.churns && p.Lifetime <= 0 {
					t.Errorf("%s does not churn in %s", p.Name, c.profile)
				}
				if !c.churns && p.Lifetime != 0 {
					t.Errorf("%s churns in %s", p.Name, c.profile)
				}
				if p.CPU <= 0 || p.CPU > 0.05 || p.MemMiB <= 0 {
					t.Errorf("%s: cpu %g mem %d: a simulator must stay light", p.Name, p.CPU, p.MemMiB)
				}
			}
			if len(names) < c.minDistinct {
				t.Errorf("%d distinct names, want at least %d", len(names), c.minDistinct)
			}
			for _, crit := range CriticalNames() {
				if !slices.ContainsFunc(plan, func(p Process) bool { return p.Name == crit && p.Critical }) {
					t.Errorf("critical %s missing", crit)
				}
			}
		})
	}
}

func TestPlan_IsReproducibleAndSeeded(t *testing.T) {
	a, _ := Plan(ProcessChurn, 20, 1)
	b, _ := Plan(ProcessChurn, 20, 1)
	c, _ := Plan(ProcessChurn, 20, 2)
	if !slices.Equal(a, b) {
		t.Error("same seed, different plans")
	}
	if slices.Equal(a, c) {
		t.Error("different seeds, same plan")
	}
}

func TestPlan_RefusesBadInput(t *testing.T) {
	if _, err := Plan("desktop", 10, 1); err == nil {
		t.Error("unknown profile accepted")
	}
	if _, err := Plan(Realistic, MaxProcesses+1, 1); err == nil {
		t.Error("unbounded plan accepted")
	}
}
