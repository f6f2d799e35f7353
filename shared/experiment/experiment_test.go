package experiment

import "testing"

func TestState_ValidAndTerminal(t *testing.T) {
	terminal := map[State]bool{Failed: true, Cancelled: true, Promoted: true, RolledBack: true}
	for _, s := range States() {
		if !s.Valid() {
			t.Errorf("%s: not valid", s)
		}
		if s.Terminal() != terminal[s] {
			t.Errorf("%s: Terminal() = %v, want %v", s, s.Terminal(), terminal[s])
		}
	}
	for _, s := range []State{"", "PENDING", "done"} {
		if s.Valid() {
			t.Errorf("%q: valid, want invalid", s)
		}
	}
}

func TestVariant_Valid(t *testing.T) {
	for v, want := range map[Variant]bool{Baseline: true, Candidate: true, "": false, "control": false} {
		if v.Valid() != want {
			t.Errorf("%q.Valid() = %v, want %v", v, !want, want)
		}
	}
}
