package experiment

import (
	"strings"
	"testing"
	"time"
)

func TestDue(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	started := t0.Add(time.Minute)
	to := Timeouts{Generating: 5 * time.Minute, Deploying: 10 * time.Minute, Analyzing: 2 * time.Minute, Silence: time.Minute}
	delivered := func(b, c time.Duration) map[Variant]time.Time {
		out := map[Variant]time.Time{}
		if b >= 0 {
			out[Baseline] = started.Add(b)
		}
		if c >= 0 {
			out[Candidate] = started.Add(c)
		}
		return out
	}
	running := func(d map[Variant]time.Time) Schedule {
		return Schedule{State: Running, StateChangedAt: t0, RunStartedAt: &started, Duration: time.Hour, Delivered: d}
	}
	tests := []struct {
		name    string
		s       Schedule
		now     time.Time
		trigger Trigger
	}{
		{"running, duration not over", running(delivered(59*time.Minute, 59*time.Minute)), started.Add(59 * time.Minute), ""},
		{"running, duration over exactly", Schedule{State: Running, StateChangedAt: t0, RunStartedAt: &started, Duration: time.Hour}, started.Add(time.Hour), RunElapsed},
		{"running without a recorded start uses the state change", Schedule{State: Running, StateChangedAt: t0, Duration: time.Hour}, t0.Add(time.Hour), RunElapsed},
		{"running, both delivering", running(delivered(10*time.Minute, 10*time.Minute)), started.Add(10*time.Minute + 59*time.Second), ""},
		{"running, the candidate silent for the silence timeout", running(delivered(11*time.Minute, 10*time.Minute)), started.Add(11 * time.Minute), Fail},
		{"running, the baseline silent", running(delivered(5*time.Minute, 20*time.Minute)), started.Add(20 * time.Minute), Fail},
		{"running, nothing delivered yet, within the silence", running(delivered(-1, -1)), started.Add(59 * time.Second), ""},
		{"running, nothing ever delivered by one variant", running(delivered(2*time.Minute, -1)), started.Add(2 * time.Minute), Fail},
		{"the run's end wins over silence", running(delivered(-1, -1)), started.Add(time.Hour), RunElapsed},
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
	if _, _, ok := Due(running(nil), Timeouts{}, started.Add(59*time.Minute)); ok {
		t.Error("a zero silence timeout must not check delivery")
	}
	if _, reason, _ := Due(running(delivered(5*time.Minute, 20*time.Minute)), to, started.Add(20*time.Minute)); !strings.Contains(reason, "the baseline's collectors delivered nothing since 2026-01-01T12:06:00Z") {
		t.Errorf("reason %q does not name the silent variant and since when", reason)
	}
}
