// Package analysis owns the statistics Phoenix uses to decide whether a
// candidate OpenTelemetry Collector pipeline may be promoted over its
// baseline:
//
//   - accurate sample summaries ([Summarize]) and Welch's unequal-variance
//     t-test with its confidence interval, relative change and effect size
//     ([WelchTTest]);
//   - the Mann–Whitney U test with the Hodges–Lehmann shift and its
//     distribution-free interval ([MannWhitneyU]), exact for small untied
//     samples and linear in memory for millions of values;
//   - equivalence and non-inferiority by two one-sided tests ([TOST]);
//   - minimum detectable effect and required sample size
//     ([MinimumDetectableEffect], [RequiredSampleSize]);
//   - Holm and Benjamini–Hochberg adjustment across metrics ([Holm],
//     [BenjaminiHochberg]);
//   - batch means that turn autocorrelated scrapes into independent windows
//     ([WindowSize], [BatchMeans], [Lag1Autocorrelation]);
//   - the decision itself ([Decide]): per metric improved, regressed,
//     no_change or inconclusive, overall promote, reject, inconclusive or
//     continue, with every input, statistic and rule recorded so a user can
//     see why.
//
// Everything here is a pure function of its arguments, in the manner of
// gonum/stat: slices in, plain values out, edge cases (too few samples,
// non-finite input, zero variance, a bad parameter) returned as errors that
// match the package's sentinels with [errors.Is] rather than as NaN or
// panics. Every exported function documents its formula and the reference it
// follows, and testdata/generate.py recomputes the results with scipy,
// numpy and statsmodels.
//
// The package must not do I/O, log, read configuration or the clock, start
// goroutines or keep package-level mutable state (the pivot sampling of the
// Hodges–Lehmann selection uses a generator seeded per call, so results
// repeat exactly); it does not know where samples come from or what a
// promotion does. Callers choose the settings ([Options]) themselves.
package analysis
