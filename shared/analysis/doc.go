// Package analysis owns the statistics Phoenix uses to decide whether a
// candidate OpenTelemetry Collector pipeline may be promoted over its
// baseline: accurate sample summaries ([Summarize]) and Welch's unequal-variance
// t-test with its confidence interval, relative change and effect size
// ([WelchTTest]).
//
// Everything here is a pure function of its arguments, in the manner of
// gonum/stat: slices in, plain values out, edge cases (too few samples,
// non-finite input, zero variance, a bad confidence level) returned as errors
// that match the package's sentinels with [errors.Is] rather than as NaN or
// panics. Every exported function documents its formula and the reference it
// follows.
//
// The package must not do I/O, log, read configuration or the clock, start
// goroutines or keep package-level mutable state; it does not know where
// samples come from or what a promotion decision does with its results.
// Callers choose thresholds (significance level, minimum effect) themselves.
package analysis
