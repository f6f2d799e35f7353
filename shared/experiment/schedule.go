package experiment

import (
	"fmt"
	"time"
)

// Timeouts bound how long an experiment may stay in each phase that waits on other components.
type Timeouts struct {
	Generating time.Duration // manifests must be generated within this
	Deploying  time.Duration // both variants' collectors must be ready within this
	Analyzing  time.Duration // the analysis must complete within this
}

// DefaultTimeouts suit a cluster: image pulls and rollouts take minutes, analysis seconds.
func DefaultTimeouts() Timeouts {
	return Timeouts{Generating: 5 * time.Minute, Deploying: 15 * time.Minute, Analyzing: 10 * time.Minute}
}

// Schedule is what the clock needs to know of an experiment.
type Schedule struct {
	State          State         // current state
	StateChangedAt time.Time     // when it entered State
	RunStartedAt   *time.Time    // when it started running, if it has
	Duration       time.Duration // how long it runs before analysis
}

// Due returns the time-based trigger that applies to s at now, with its reason, or false when
// nothing is due. Time moves experiments only through this function, called on ticks: no timer
// lives in memory, so any replica may die at any moment.
func Due(s Schedule, t Timeouts, now time.Time) (Trigger, string, bool) {
	switch s.State {
	case Running:
		start := s.StateChangedAt
		if s.RunStartedAt != nil {
			start = *s.RunStartedAt
		}
		if !now.Before(start.Add(s.Duration)) {
			return RunElapsed, fmt.Sprintf("run duration of %s elapsed", s.Duration), true
		}
	case Generating, Deploying, Analyzing:
		limit := map[State]time.Duration{Generating: t.Generating, Deploying: t.Deploying, Analyzing: t.Analyzing}[s.State]
		if limit > 0 && !now.Before(s.StateChangedAt.Add(limit)) {
			return Fail, fmt.Sprintf("%s did not finish within %s", s.State, limit), true
		}
	}
	return "", "", false
}
