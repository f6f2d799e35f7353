// Package analysis owns the statistics Phoenix uses to decide whether a candidate OpenTelemetry
// Collector pipeline may be promoted over its baseline, and the proof that they keep their error
// rates (docs/analysis.md says the same for readers):
//
//   - the decision ([Decide]): each metric compared window by window ([Series], [PairedDifferences]),
//     its change with an interval that holds under autocorrelation ([MeanInterval]: the
//     equal-weighted cosine long-run variance [LongRunVariance] with a critical value guarded
//     against AR(1) autocorrelation up to [MaxLag1], exact by Imhof's integral) and at every look
//     of a run ([Schedule]: the error budget split over live, planned and extension looks); the
//     critical-coverage rule ([CheckCoverage]) and the input-parity check ([CheckParity]); the
//     rules that turn them into promote, reject, inconclusive, continue or invalid, and early
//     stops ([EarlyStop]), with every step recorded so a user can see why;
//   - two-sample tests for `phoenix analyze`: accurate summaries ([Summarize]), Welch's
//     unequal-variance t-test ([WelchTTest], [Classify]) and the Mann–Whitney U test with the
//     Hodges–Lehmann shift and its distribution-free interval ([MannWhitneyU]).
//
// The subpackage simulation measures the decision's false-promotion rate and power by seeded
// Monte Carlo; testdata/generate.py recomputes the statistics with scipy, numpy and mpmath.
//
// Everything here is a pure function of its arguments, in the manner of gonum/stat: slices in,
// plain values out, edge cases (too few samples, non-finite input, zero variance, a bad
// parameter) returned as errors that match the package's sentinels with [errors.Is] rather than
// as NaN or panics. Every exported function documents its formula and the reference it follows.
//
// The package must not do I/O, log, read configuration or the clock, start goroutines or keep
// package-level mutable state (the Imhof nodes are a read-only table; [Cache] memoizes critical
// values for callers that pass one; the pivot sampling of the Hodges–Lehmann selection uses a
// generator seeded per call, so results repeat exactly); it does not know where samples come from
// or what a promotion does. Callers choose the settings ([Options]) themselves.
package analysis
