package experiment

import (
	"testing"
	"time"
)

func TestDue(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	started := t0.Add(time.Minute)
	to := Timeouts{Generating: 5 * time.Minute, Deploying: 10 * time.Minute, Analyzing: 2 * time.Minute}
	tests := []struct {
		name    string
		s       Schedule
		now     time.Time
		trigger Trigger
	}{
		{"running, duration not over", Schedule{State: Running, StateChangedAt: t0, RunStartedAt: &started, Duration: time.Hour}, started.Add(59 * time.Minute), ""},
		{"running, duration over exactly", Schedule{State: Running, StateChangedAt: t0, RunStartedAt: &started, Duration: time.Hour}, started.Add(time.Hour), RunElapsed},
		{"running without a recorded start uses the state change", Schedule{State: Running, StateChangedAt: t0, Duration: time.Hour}, t0.Add(time.Hour), RunElapsed},
		{"generating within its timeout", Schedule{State: Generating, StateChangedAt: t0}, t0.Add(4 * time.Minute), ""},
		{"generating past its timeout", Schedule{State: Generating, StateChangedAt: t0}, t0.Add(5 * time.Minute), Fail},
		{"deploying past its timeout", Schedule{State: Deploying, StateChangedAt: t0}, t0.Add(11 * time.Minute), Fail},
		{"analyzing past its timeout", Schedule{State: Analyzing, StateChangedAt: t0}, t0.Add(3 * time.Minute), Fail},
		{"pending never times out", Schedule{State: Pending, StateChangedAt: t0}, t0.Add(1000 * time.Hour), ""},
		{"completed never times out", Schedule{State: Completed, StateChangedAt: t0}, t0.Add(1000 * time.Hour), ""},
	}
	for _, tt := range tests {
		got, reason, ok := Due(tt.s, to, tt.now)
		if got != tt.trigger || ok != (tt.trigger != "") || (ok && reason == "") {
			t.Errorf("%s: Due = %q, %q, %v; want %q", tt.name, got, reason, ok, tt.trigger)
		}
		if ok {
			if _, err := Next(tt.s.State, got); err != nil {
				t.Errorf("%s: due trigger %s does not apply in %s: %v", tt.name, got, tt.s.State, err)
			}
		}
	}
	if _, _, ok := Due(Schedule{State: Generating, StateChangedAt: t0}, Timeouts{}, t0.Add(1000*time.Hour)); ok {
		t.Error("a zero timeout must mean no timeout")
	}
}
