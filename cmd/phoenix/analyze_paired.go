package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/phoenixotel/phoenix/shared/analysis"
)

// pairedResult is `phoenix analyze --paired --format json`: the change of the candidate against
// the baseline over paired windows, candidate minus baseline on the scale named.
type pairedResult struct {
	Pairs    int               `json:"pairs"`     // windows compared
	Scale    analysis.Scale    `json:"scale"`     // log_ratio or difference
	Interval analysis.Interval `json:"interval"`  // on Scale: estimate, ends, and how the interval was made
	Change   analysis.Change   `json:"change"`    // relative change and its interval: −0.2 is 20% less
	Outcome  analysis.Outcome  `json:"outcome"`   // improved or regressed when the interval lies on one side of no change, else no_change
	Level    float64           `json:"alpha"`     // the interval's error level
	Better   string            `json:"direction"` // lower or higher
}

// analyzePaired compares b and c window by window (see analyzeCmd).
func analyzePaired(w io.Writer, format string, b, c []float64, alpha float64, direction string) error {
	if len(b) != len(c) {
		return inputError{fmt.Errorf("--paired needs as many baseline as candidate values: %d and %d", len(b), len(c))}
	}
	d, scale := analysis.PairedDifferences(b, c)
	iv, err := analysis.MeanInterval(d, alpha, nil)
	switch {
	case errors.Is(err, analysis.ErrTooFewSamples):
		return inputError{fmt.Errorf("--paired needs at least 3 pairs, got %d", len(d))}
	case err != nil:
		return inputError{err}
	case iv.Drifting:
		return inputError{fmt.Errorf("the differences drift (lag-1 autocorrelation %.2f, beyond the %.1f the interval is made for): no interval would hold its level", iv.Lag1, analysis.MaxLag1)}
	}
	base, _ := analysis.Summarize(b)
	mean := base.Mean
	if mean < 0 {
		mean = -mean
	}
	out := pairedResult{Pairs: len(d), Scale: scale, Interval: iv, Level: alpha, Better: direction, Outcome: analysis.NoChange,
		Change: analysis.Change{Estimate: scale.Relative(iv.Mean, mean), Low: scale.Relative(iv.Low, mean), High: scale.Relative(iv.High, mean)}}
	lowerBetter := direction == "lower"
	switch {
	case iv.High < 0 && lowerBetter, iv.Low > 0 && !lowerBetter:
		out.Outcome = analysis.Improved
	case iv.Low > 0 && lowerBetter, iv.High < 0 && !lowerBetter:
		out.Outcome = analysis.Regressed
	}
	if format == "json" {
		return json.NewEncoder(w).Encode(out)
	}
	fmt.Fprintf(w, "%d pairs compared on the %s scale\n", out.Pairs, scale)
	fmt.Fprintf(w, "change (candidate against baseline): %+.3f%%, %g%% interval [%+.3f%%, %+.3f%%]\n",
		100*out.Change.Estimate, 100*(1-alpha), 100*out.Change.Low, 100*out.Change.High)
	if iv.Exact {
		fmt.Fprintln(w, "every pair differs by the same amount: the change is exact")
	} else {
		fmt.Fprintf(w, "estimate ± %.4g standard errors of %.4g: %d cosine terms, lag-1 autocorrelation %.3f guarded up to %.2f (interval ×%.3g Student's), as wide as %.1f independent pairs\n",
			iv.Critical, iv.StdErr, iv.Terms, iv.Lag1, iv.Lag1Bound, iv.Stretch, iv.EffectiveN)
	}
	fmt.Fprintf(w, "outcome (%s is better): %s\n", direction, out.Outcome)
	return nil
}
