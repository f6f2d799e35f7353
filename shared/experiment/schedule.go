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
	// Silence is how long a running variant may deliver nothing (no window of output or of its
	// collectors' own telemetry) before the run fails: a collector exited, its node was lost, the
	// platform restarted without it, or its ingest token was revoked. 0 does not check.
	Silence time.Duration
}

// DefaultTimeouts suit a cluster: image pulls and rollouts take minutes, analysis seconds, and a
// run's collectors deliver a window every 15 s (four windows of silence fail it).
func DefaultTimeouts() Timeouts {
	return Timeouts{Generating: 5 * time.Minute, Deploying: 15 * time.Minute, Analyzing: 10 * time.Minute, Silence: time.Minute}
}

// Schedule is what the clock needs to know of an experiment.
type Schedule struct {
	State          State         // current state
	StateChangedAt time.Time     // when it entered State
	RunStartedAt   *time.Time    // when it started running, if it has
	Duration       time.Duration // how long it runs before analysis
	// Delivered is, per variant, the end of the newest window it delivered while running; a
	// variant that delivered none has no entry.
	Delivered map[Variant]time.Time
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
		if t.Silence <= 0 {
			break
		}
		for _, v := range []Variant{Baseline, Candidate} {
			since := start
			if d, ok := s.Delivered[v]; ok && d.After(since) {
				since = d
			}
			if !now.Before(since.Add(t.Silence)) {
				what := "delivered nothing since " + since.UTC().Format(time.RFC3339)
				if _, ok := s.Delivered[v]; !ok {
					what = "delivered nothing since the run started at " + since.UTC().Format(time.RFC3339)
				}
				return Fail, fmt.Sprintf("the %s's collectors %s (%s of silence): a collector exited, its node was lost, "+
					"the platform restarted without it, or its ingest token was revoked; a run measuring nothing is stopped", v, what, t.Silence), true
			}
		}
	case Generating, Deploying, Analyzing:
		limit := map[State]time.Duration{Generating: t.Generating, Deploying: t.Deploying, Analyzing: t.Analyzing}[s.State]
		if limit > 0 && !now.Before(s.StateChangedAt.Add(limit)) {
			return Fail, fmt.Sprintf("%s did not finish within %s", s.State, limit), true
		}
	}
	return "", "", false
}
