package experiment

// Verdict is the analysis's overall decision about the candidate: the one definition the
// analysis, its events, the controller, the API and the CLI share.
type Verdict string

// Verdicts of the analysis.
const (
	VerdictPromote      Verdict = "promote"      // the candidate is better and harms no guardrail
	VerdictReject       Verdict = "reject"       // the candidate is worse somewhere, loses a critical process, or is better nowhere
	VerdictInconclusive Verdict = "inconclusive" // the data cannot decide, and the run cannot gather more
	VerdictContinue     Verdict = "continue"     // the data cannot decide yet; the run goes on
	VerdictInvalid      Verdict = "invalid"      // the two collectors did not see the same input: no comparison is possible
)

// Final reports whether v ends an experiment (every verdict but VerdictContinue).
func (v Verdict) Final() bool { return v != VerdictContinue }

// Valid reports whether v is one of the verdicts.
func (v Verdict) Valid() bool {
	switch v {
	case VerdictPromote, VerdictReject, VerdictInconclusive, VerdictContinue, VerdictInvalid:
		return true
	}
	return false
}
