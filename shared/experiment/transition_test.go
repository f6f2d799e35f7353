package experiment

import (
	"errors"
	"testing"
)

// TestNext_EveryStateAndTrigger pins the whole table: every (state, trigger) pair either moves to
// the listed state or is refused with an InvalidTransitionError.
func TestNext_EveryStateAndTrigger(t *testing.T) {
	want := map[State]map[Trigger]State{
		Pending:    {Start: Generating, Cancel: Cancelled},
		Generating: {ManifestsGenerated: Deploying, Cancel: Cancelled, Fail: Failed},
		Deploying:  {WorkloadsReady: Running, Cancel: Cancelled, Fail: Failed},
		Running:    {RunElapsed: Analyzing, ConcludedEarly: Completed, Cancel: Cancelled, Fail: Failed},
		Analyzing:  {AnalysisCompleted: Completed, MoreDataNeeded: Running, Cancel: Cancelled, Fail: Failed},
		Completed:  {Promote: Promoted, Rollback: RolledBack},
	}
	for _, s := range States() {
		for _, tr := range Triggers() {
			got, err := Next(s, tr)
			if to, ok := want[s][tr]; ok {
				if err != nil || got != to {
					t.Errorf("Next(%s, %s) = %q, %v; want %s", s, tr, got, err, to)
				}
				continue
			}
			var inv *InvalidTransitionError
			if !errors.As(err, &inv) || got != "" || inv.From != s || inv.Trigger != tr {
				t.Errorf("Next(%s, %s) = %q, %v; want InvalidTransitionError", s, tr, got, err)
			}
		}
	}
}

func TestNext_TerminalStatesHaveNoExit(t *testing.T) {
	for _, s := range States() {
		if !s.Terminal() {
			continue
		}
		for _, tr := range Triggers() {
			if _, err := Next(s, tr); err == nil {
				t.Errorf("terminal state %s left on %s", s, tr)
			}
		}
	}
}

func TestNext_EveryStateIsReachable(t *testing.T) {
	seen := map[State]bool{Pending: true}
	for changed := true; changed; {
		changed = false
		for s := range seen {
			for _, tr := range Triggers() {
				if to, err := Next(s, tr); err == nil && !seen[to] {
					seen[to], changed = true, true
				}
			}
		}
	}
	for _, s := range States() {
		if !seen[s] {
			t.Errorf("state %s cannot be reached from pending", s)
		}
	}
}
