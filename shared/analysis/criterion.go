package analysis

import "fmt"

// Direction says which way a metric should move for the candidate to be better.
type Direction int

const (
	// LowerIsBetter suits cost-like metrics: series, datapoints, bytes, CPU, memory.
	LowerIsBetter Direction = iota
	// HigherIsBetter suits coverage-like metrics.
	HigherIsBetter
)

// String is the direction's name in specs and reports.
func (d Direction) String() string {
	if d == HigherIsBetter {
		return "higher_is_better"
	}
	return "lower_is_better"
}

// words is the direction as a reader says it.
func (d Direction) words() string {
	if d == HigherIsBetter {
		return "higher is better"
	}
	return "lower is better"
}

// MarshalText writes the direction by name.
func (d Direction) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads lower_is_better or higher_is_better.
func (d *Direction) UnmarshalText(b []byte) error {
	switch string(b) {
	case "lower_is_better":
		*d = LowerIsBetter
	case "higher_is_better":
		*d = HigherIsBetter
	default:
		return fmt.Errorf("%w: direction %q is not lower_is_better or higher_is_better", ErrParameter, b)
	}
	return nil
}

// Criterion is one metric's part in a decision.
type Criterion struct {
	Metric         string    `json:"metric"`              // the metric's name
	Direction      Direction `json:"direction"`           // which way is better
	MinImprovement float64   `json:"min_improvement"`     // smallest relative change that matters, e.g. 0.1 for 10%; 0 means any
	Critical       bool      `json:"critical"`            // a guardrail: must be shown no worse than Tolerance; a regression always rejects
	Tolerance      float64   `json:"tolerance,omitempty"` // guardrails: largest relative worsening that still counts as no worse; 0 means DefaultTolerance
	// ToleranceFloor (guardrails) is the largest absolute worsening, in the metric's own units,
	// that counts as no worse whatever the relative tolerance says: a collector using 7
	// millicores may use 10 more without anyone paying for it, though that is +140%.
	ToleranceFloor float64 `json:"tolerance_floor,omitempty"`
}

// Outcome is a metric's classification at one look.
type Outcome string

// Outcomes of a metric.
const (
	Improved  Outcome = "improved"  // better, beyond doubt and by at least the change that matters
	Regressed Outcome = "regressed" // worse beyond doubt (and, for a guardrail, beyond its tolerance)
	NoChange  Outcome = "no_change" // any change is too small to matter, beyond doubt
	Undecided Outcome = "undecided" // the windows so far cannot tell
)

// Defaults of Decide's settings.
const (
	DefaultAlpha          = 0.05 // chance that any look's interval misses, over the whole run
	DefaultPower          = 0.8  // chance the planned windows resolve a metric, for the windows-needed estimate
	DefaultTolerance      = 0.05 // guardrails: a 5% worsening still counts as no worse
	DefaultPlanningEffect = 0.05 // goals without a threshold: a change within ±5% counts as no change
)
