package experiment

import "fmt"

// Trigger is what happened to an experiment, independent of how the news arrived (an API call, a
// CloudEvent, a tick that found a deadline passed).
type Trigger string

// The triggers the table knows.
const (
	Start              Trigger = "start"               // a user started the experiment
	ManifestsGenerated Trigger = "manifests_generated" // both variants' manifests are stored
	WorkloadsReady     Trigger = "workloads_ready"     // both variants' collectors run
	RunElapsed         Trigger = "run_elapsed"         // a tick found the run duration over
	AnalysisCompleted  Trigger = "analysis_completed"  // the analyzer stored a verdict
	MoreDataNeeded     Trigger = "more_data_needed"    // the analyzer needs more data and the run may be extended
	ConcludedEarly     Trigger = "concluded_early"     // a live look found the answer clear before the run's end
	Cancel             Trigger = "cancel"              // a user stopped the experiment
	Fail               Trigger = "fail"                // a phase timed out or a collector failed
	Promote            Trigger = "promote"             // a user adopted the candidate
	Rollback           Trigger = "rollback"            // a user kept the baseline
)

// Triggers lists every trigger.
func Triggers() []Trigger {
	return []Trigger{Start, ManifestsGenerated, WorkloadsReady, RunElapsed, AnalysisCompleted, MoreDataNeeded, ConcludedEarly, Cancel, Fail, Promote, Rollback}
}

// transitions is the whole life of an experiment: from state, on trigger, to state. A pair not
// listed is not a move. Read-only: nothing writes to it after initialisation.
var transitions = map[State]map[Trigger]State{
	Pending:    {Start: Generating, Cancel: Cancelled},
	Generating: {ManifestsGenerated: Deploying, Cancel: Cancelled, Fail: Failed},
	Deploying:  {WorkloadsReady: Running, Cancel: Cancelled, Fail: Failed},
	Running:    {RunElapsed: Analyzing, ConcludedEarly: Completed, Cancel: Cancelled, Fail: Failed},
	Analyzing:  {AnalysisCompleted: Completed, MoreDataNeeded: Running, Cancel: Cancelled, Fail: Failed},
	Completed:  {Promote: Promoted, Rollback: RolledBack},
}

// InvalidTransitionError says a trigger does not apply in a state.
type InvalidTransitionError struct {
	From    State   // the experiment's state
	Trigger Trigger // what happened
}

func (e *InvalidTransitionError) Error() string {
	return fmt.Sprintf("cannot %s an experiment that is %s", e.Trigger, e.From)
}

// Next returns the state trigger moves from into, or an *InvalidTransitionError.
func Next(from State, t Trigger) (State, error) {
	if to, ok := transitions[from][t]; ok {
		return to, nil
	}
	return "", &InvalidTransitionError{From: from, Trigger: t}
}
