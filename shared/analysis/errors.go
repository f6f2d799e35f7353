package analysis

// Error is the type of this package's sentinel errors. The sentinels are
// constants, so they cannot be reassigned; returned errors wrap them with
// context, so test for them with [errors.Is], not ==.
type Error string

// Error implements the error interface.
func (e Error) Error() string { return string(e) }

const (
	// ErrTooFewSamples reports a sample with fewer than two observations,
	// for which the unbiased variance (divisor n−1) is undefined.
	ErrTooFewSamples Error = "analysis: too few samples (need at least 2)"

	// ErrNonFinite reports a NaN or ±Inf observation, or a statistic that
	// overflows float64 although every observation is finite.
	ErrNonFinite Error = "analysis: non-finite value"

	// ErrZeroVariance reports that both samples of a two-sample test have
	// zero variance, so the standard error is zero and the t statistic is
	// undefined (0/0) or infinite. Whether two constant samples differ is
	// then a question of equality, not of statistics, and is left to the
	// caller.
	ErrZeroVariance Error = "analysis: both samples have zero variance"

	// ErrConfidence reports a confidence level outside the open interval
	// (0, 1), including NaN.
	ErrConfidence Error = "analysis: confidence level outside (0, 1)"

	// ErrParameter reports a setting outside its domain: a significance
	// level or power outside (0, 1), a margin or effect that is not a
	// positive finite number, an unknown correction, a criterion without a
	// metric name or listed twice.
	ErrParameter Error = "analysis: parameter out of range"
)
