package analysis

import (
	"math"
	"testing"
)

// Every look a run may take spends a share fixed before the run, and all of them together spend
// alpha, whatever the run does: that sum is what makes every look's interval hold at once.
func TestSchedule_LooksSpendAtMostAlphaTogether(t *testing.T) {
	cases := []struct {
		name    string
		s       Schedule
		planned float64 // the planned look's share
	}{
		{"no extension", Schedule{Planned: 12, Max: 12}, 0.75},
		{"extensions", Schedule{Planned: 12, Max: 48}, 0.5},
		{"too short for live looks", Schedule{Planned: 3, Max: 3}, 1},
		{"too short for live looks, extended", Schedule{Planned: 2, Max: 40}, 0.5},
	}
	for _, c := range cases {
		total := c.s.Weight(Planned, c.s.Planned, 0)
		if total != c.planned {
			t.Errorf("%s: planned look %g, want %g", c.name, total, c.planned)
		}
		for n := 0; n <= c.s.Max+5; n++ {
			total += c.s.Weight(Live, n, 0)
		}
		for k := 1; k <= 60; k++ {
			total += c.s.Weight(Extension, 0, k)
		}
		if total > 1+1e-12 || total < 1-1e-9 {
			t.Errorf("%s: every look spends %v in all, want 1", c.name, total)
		}
		if got := c.s.Spent(c.s.Max, 61); math.Abs(got-total) > 1e-9 && got != 1 {
			t.Errorf("%s: Spent at the end %v, the weights sum to %v", c.name, got, total)
		}
	}
	s := Schedule{Planned: 12, Max: 48}
	if w := s.Weight(Live, FirstLook-1, 0); w != 0 {
		t.Errorf("a live look before FirstLook spends %g", w)
	}
	if w1, w2 := s.Weight(Extension, 0, 1), s.Weight(Extension, 0, 2); w1 != 0.125 || w2 != 0.0625 {
		t.Errorf("extensions spend %g and %g, want an eighth and a sixteenth", w1, w2)
	}
	if got := s.Spent(12, 1); math.Abs(got-(0.25*9/45+0.5)) > 1e-12 {
		t.Errorf("after the planned look at 12 windows %v spent", got)
	}
}

func TestSchedule_Validate(t *testing.T) {
	for _, s := range []Schedule{{}, {Planned: 5, Max: 4}, {Planned: -1, Max: 3}} {
		if err := s.Validate(); err == nil {
			t.Errorf("%+v accepted", s)
		}
	}
	if err := (Schedule{Planned: 4, Max: 4}).Validate(); err != nil {
		t.Error(err)
	}
}
