package smoke

import (
	"context"
	"fmt"
	"time"
)

// Status is a step's outcome.
type Status string

// The outcomes of a step.
const (
	Pass Status = "pass" // the platform did what it must
	Fail Status = "fail" // it did not; Detail says exactly what differed
	Skip Status = "skip" // not checked; Detail says why (a missing permission, nothing to check)
)

// Step is one named check of a scenario.
type Step struct {
	Name    string  `json:"name"`    // what is checked, as a sentence
	Status  Status  `json:"status"`  // pass, fail or skip
	Detail  string  `json:"detail"`  // the evidence on pass, what differed on failure, why on skip
	Seconds float64 `json:"seconds"` // how long the step took
}

// Result is one scenario's run.
type Result struct {
	Scenario  string  `json:"scenario"`            // the scenario's name
	Steps     []Step  `json:"steps"`               // in the order they ran
	Seconds   float64 `json:"seconds"`             // the whole scenario, cleanup included
	Completed string  `json:"completed,omitempty"` // a completed experiment the scenario left (lifecycle with ExpectComplete)
}

// Passed reports whether the scenario ran at least one step and none failed.
func (r Result) Passed() bool { return len(r.Steps) > 0 && r.Failure() == nil }

// Failure is the first failed step, or nil.
func (r Result) Failure() *Step {
	for i := range r.Steps {
		if r.Steps[i].Status == Fail {
			return &r.Steps[i]
		}
	}
	return nil
}

// Step returns the step named name, or nil.
func (r Result) Step(name string) *Step {
	for i := range r.Steps {
		if r.Steps[i].Name == name {
			return &r.Steps[i]
		}
	}
	return nil
}

// recorder builds a Result step by step.
type recorder struct {
	ctx      context.Context // the scenario's context: a cancelled one fails the step that notices
	res      Result          // the steps so far
	start    time.Time       // when the scenario began
	cleanups []cleanup       // run in reverse order by done
}

// cleanup is one undo action of a scenario, run even when the scenario failed or was cancelled.
type cleanup struct {
	name string                                // the step's name in the report
	fn   func(context.Context) (string, error) // the action; its answer is the step's detail
}

func newRecorder(ctx context.Context, scenario string) *recorder {
	return &recorder{ctx: ctx, res: Result{Scenario: scenario}, start: time.Now()}
}

// step runs check as the step name and records its outcome: the returned text on success, the
// error's on failure. It reports whether the step passed, so the scenario can stop when a later
// step depends on it.
func (r *recorder) step(name string, check func() (string, error)) bool {
	start := time.Now()
	detail, err := check()
	if err == nil && r.ctx.Err() != nil {
		err = fmt.Errorf("interrupted: %w", context.Cause(r.ctx))
	}
	s := Step{Name: name, Status: Pass, Detail: detail, Seconds: time.Since(start).Seconds()}
	if err != nil {
		s.Status, s.Detail = Fail, err.Error()
	}
	r.res.Steps = append(r.res.Steps, s)
	return err == nil
}

// skip records a step that was not checked, and why.
func (r *recorder) skip(name, why string) {
	r.res.Steps = append(r.res.Steps, Step{Name: name, Status: Skip, Detail: why})
}

// undo registers an undo action; done runs it, even after a failure or cancellation.
func (r *recorder) undo(name string, fn func(context.Context) (string, error)) {
	r.cleanups = append(r.cleanups, cleanup{name, fn})
}

// done runs the undo actions, newest first, on a context that outlives the scenario's (so an
// interrupted run still cleans up, within 30 s), and returns the result.
func (r *recorder) done() Result {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), 30*time.Second)
	defer cancel()
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		c := r.cleanups[i]
		start := time.Now()
		detail, err := c.fn(ctx)
		s := Step{Name: c.name, Status: Pass, Detail: detail, Seconds: time.Since(start).Seconds()}
		if err != nil {
			s.Status, s.Detail = Fail, err.Error()
		}
		r.res.Steps = append(r.res.Steps, s)
	}
	r.cleanups = nil
	r.res.Seconds = time.Since(r.start).Seconds()
	return r.res
}
