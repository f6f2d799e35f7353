// Package experiment owns the vocabulary of an experiment's life: its states and variants. It is
// pure domain: no I/O. The transition table that moves an experiment between states lives here
// too, so the controller, the API and the store agree on one definition.
package experiment

// State is where an experiment is in its life.
type State string

// The states, in the order an experiment normally passes through them. The database's CHECK
// constraint on experiments.state lists the same values.
const (
	Pending    State = "pending"
	Generating State = "generating"
	Deploying  State = "deploying"
	Running    State = "running"
	Analyzing  State = "analyzing"
	Completed  State = "completed"
	Failed     State = "failed"
	Cancelled  State = "cancelled"
	Promoted   State = "promoted"
	RolledBack State = "rolled_back"
)

// States lists every state.
func States() []State {
	return []State{Pending, Generating, Deploying, Running, Analyzing, Completed, Failed, Cancelled, Promoted, RolledBack}
}

// Valid reports whether s is a known state.
func (s State) Valid() bool {
	for _, k := range States() {
		if s == k {
			return true
		}
	}
	return false
}

// Terminal reports whether no further transition can leave s.
func (s State) Terminal() bool {
	switch s {
	case Failed, Cancelled, Promoted, RolledBack:
		return true
	}
	return false
}

// Variant names one side of the comparison.
type Variant string

// The two variants every experiment runs side by side.
const (
	Baseline  Variant = "baseline"
	Candidate Variant = "candidate"
)

// Valid reports whether v is baseline or candidate.
func (v Variant) Valid() bool { return v == Baseline || v == Candidate }
