package analysis

// Direction says which way a metric should move for the candidate to be better.
type Direction int

const (
	// LowerIsBetter suits cost-like metrics: series, datapoints, bytes, CPU, memory.
	LowerIsBetter Direction = iota
	// HigherIsBetter suits coverage-like metrics: critical-process coverage.
	HigherIsBetter
)

// Outcome is a metric's classification after its test.
type Outcome string

// Outcomes of Classify.
const (
	Improved  Outcome = "improved"  // significant change in the better direction
	Regressed Outcome = "regressed" // significant change in the worse direction
	NoChange  Outcome = "no_change" // no significant difference at the chosen level
)

// Classify calls a difference significant when the two-sided p-value is below alpha, which is
// the same as the (1−alpha) confidence interval of Diff excluding zero; the sign of Diff
// (candidate − baseline) and the metric's direction decide better or worse.
func Classify(w Welch, dir Direction, alpha float64) Outcome {
	if !(w.P < alpha) || w.Diff == 0 {
		return NoChange
	}
	better := w.Diff < 0
	if dir == HigherIsBetter {
		better = !better
	}
	if better {
		return Improved
	}
	return Regressed
}

// Verdict combines per-metric outcomes: any regression rejects the candidate (every metric acts
// as a guardrail); otherwise at least one improvement promotes it; otherwise the experiment showed
// nothing and is inconclusive. Multiple-comparison correction and practical thresholds are the
// caller's to apply before classifying.
func Verdict(outcomes []Outcome) string {
	improved := false
	for _, o := range outcomes {
		switch o {
		case Regressed:
			return "reject"
		case Improved:
			improved = true
		}
	}
	if improved {
		return "promote"
	}
	return "inconclusive"
}
