package analysis

import (
	"fmt"
	"math"
)

// Defaults of Batching's automatic choice.
const (
	DefaultMaxLag1    = 0.2  // largest lag-1 autocorrelation of window means taken as independent
	DefaultMinWindows = 10   // fewest windows the automatic choice goes down to
	DefaultMaxWindows = 1000 // most windows the automatic choice keeps
)

// Batching says how a series of observations taken one after another (one
// KPI value per scrape or per measurement window) is cut into windows whose
// means are close enough to independent for the two-sample tests, which
// assume independent observations. The zero value chooses automatically.
type Batching struct {
	Size       int     `json:"size,omitempty"`        // observations per window; 0 chooses it
	Count      int     `json:"count,omitempty"`       // when Size is 0: the number of windows of the shortest series; 0 chooses it
	MaxLag1    float64 `json:"max_lag1,omitempty"`    // largest lag-1 autocorrelation of window means taken as independent (see correlated); 0 means DefaultMaxLag1
	MinWindows int     `json:"min_windows,omitempty"` // automatic choice: fewest windows it goes down to; 0 means DefaultMinWindows
	MaxWindows int     `json:"max_windows,omitempty"` // automatic choice: most windows it keeps; 0 means DefaultMaxWindows
}

// Windows is a series cut into consecutive windows of equal size, with the
// autocorrelation before and after.
type Windows struct {
	Means        []float64 `json:"-"`            // the windows' means, oldest first
	Observations int       `json:"observations"` // observations in the series
	Size         int       `json:"size"`         // observations per window
	Count        int       `json:"count"`        // windows: len(Means)
	Dropped      int       `json:"dropped"`      // oldest observations left out so that every window is full
	Lag1Before   *float64  `json:"lag1_before"`  // lag-1 autocorrelation of the observations; null when undefined
	Lag1After    *float64  `json:"lag1_after"`   // lag-1 autocorrelation of the window means; null when undefined
	Independent  bool      `json:"independent"`  // the window means show no autocorrelation that matters (see correlated)
	Note         string    `json:"note"`         // the above in a sentence
}

// Lag1Autocorrelation returns the lag-1 sample autocorrelation of xs
// (Box, Jenkins & Reinsel 2008, §2.1.5),
//
//	r₁ = Σₜ₌₁ⁿ⁻¹ (xₜ − x̄)(xₜ₊₁ − x̄) / Σₜ₌₁ⁿ (xₜ − x̄)²
//
// and false when it is undefined: fewer than three values or a constant
// series. Under independence r₁ is about N(−1/n, 1/n); samples of a
// metric scraped every few seconds typically show r₁ of 0.5 to 0.95, which
// makes the variance of a mean several times larger than s²/n and a
// t-test's p-values far too small.
//
// References:
//   - G. E. P. Box, G. M. Jenkins, G. C. Reinsel (2008), Time Series
//     Analysis: Forecasting and Control, 4th ed., Wiley, §2.1.5.
func Lag1Autocorrelation(xs []float64) (float64, bool) {
	n := len(xs)
	if n < 3 {
		return 0, false
	}
	mean := compensatedSum(xs) / float64(n)
	var num, den float64
	prev := xs[0] - mean
	den = prev * prev
	for _, x := range xs[1:] {
		d := x - mean
		num += prev * d
		den += d * d
		prev = d
	}
	r := num / den
	if !(den > 0) || !isFinite(r) {
		return 0, false
	}
	return r, true
}

// WindowSize returns the number of observations per window that cuts
// every series (the variants of one metric, which share their clock) into
// windows of the same length. A fixed Size is returned as it is; a Count
// gives ⌊shortest length / Count⌋, at least 1. Otherwise it chooses the
// batch-means size automatically: starting from 1, it doubles the size
// while the window means of some series are correlated (lag-1
// autocorrelation above MaxLag1 and above the white-noise bound, see
// correlated) and every series would still keep MinWindows windows, after
// Law & Carson (1979) and with the 10–30 windows Schmeiser (1982)
// recommends. It then enlarges the windows, if needed, so that no series
// has more than MaxWindows: for independent observations the standard error
// of a difference of means is the same however they are grouped, and with
// k ≥ 1000 windows the t quantile differs from the normal one by 0.1%, so
// more windows add no power and only cost time. It returns an error
// wrapping ErrParameter for a negative setting or a MaxLag1 outside [0, 1).
//
// References:
//   - A. M. Law, J. S. Carson (1979), A sequential procedure for
//     determining the length of a steady-state simulation, Operations
//     Research 27(5):1011–1025.
//   - B. Schmeiser (1982), Batch size effects in the analysis of simulation
//     output, Operations Research 30(3):556–568.
func WindowSize(b Batching, series ...[]float64) (int, error) {
	if b.Size < 0 || b.Count < 0 || b.MinWindows < 0 || b.MaxWindows < 0 || !(b.MaxLag1 >= 0 && b.MaxLag1 < 1) {
		return 0, fmt.Errorf("%w: batching %+v", ErrParameter, b)
	}
	if b.Size > 0 {
		return b.Size, nil
	}
	shortest, longest := math.MaxInt, 0
	for _, s := range series {
		shortest, longest = min(shortest, len(s)), max(longest, len(s))
	}
	if len(series) == 0 || shortest < 2 {
		return 1, nil
	}
	if b.Count > 0 {
		return max(1, shortest/b.Count), nil
	}
	maxLag, minWindows := b.maxLag1(), b.minWindows()
	maxWindows := b.MaxWindows
	if maxWindows == 0 {
		maxWindows = DefaultMaxWindows
	}
	floor := (longest + maxWindows - 1) / maxWindows // the size that keeps at most maxWindows
	// Means of windows of size·2 are means of pairs of windows of size, as
	// the windows end at the newest observation: each level halves the
	// previous one, so the whole search is linear.
	levels := make([][]float64, len(series))
	for i, s := range series {
		levels[i] = append([]float64(nil), s...)
	}
	size := 1
	for {
		still := false // some series' window means are still correlated
		for _, l := range levels {
			if r, ok := Lag1Autocorrelation(l); correlated(r, ok, len(l), maxLag) {
				still = true
			}
		}
		if !still || shortest/(2*size) < minWindows {
			return max(size, floor), nil
		}
		for i, l := range levels {
			half := len(l) / 2
			off := len(l) - 2*half // the oldest window is left out when the count is odd
			for j := range half {
				l[j] = (l[off+2*j] + l[off+2*j+1]) / 2
			}
			levels[i] = l[:half]
		}
		size *= 2
	}
}

// correlated reports whether a series of n values with lag-1
// autocorrelation r (ok: defined) is too correlated to treat as
// independent: r above maxLag1 and above 1.96/√n, the bound that white
// noise stays under 97.5% of the time (Box, Jenkins & Reinsel 2008,
// §2.1.6, Bartlett's standard error 1/√n). The second condition keeps a
// handful of values, whose r₁ is noise of ±0.4 and more, from counting as
// correlated.
func correlated(r float64, ok bool, n int, maxLag1 float64) bool {
	return ok && r > maxLag1 && r > 1.96/math.Sqrt(float64(n))
}

// maxLag1 and minWindows resolve the zero values to the defaults.
func (b Batching) maxLag1() float64 {
	if b.MaxLag1 == 0 {
		return DefaultMaxLag1
	}
	return b.MaxLag1
}

func (b Batching) minWindows() int {
	if b.MinWindows == 0 {
		return DefaultMinWindows
	}
	return b.MinWindows
}

// BatchMeans cuts xs into ⌊len(xs)/size⌋ consecutive windows of size
// observations, ending with the newest, and returns their means (the batch
// means method; Law & Kelton 2000, §9.5.3). The len(xs) mod size oldest
// observations are dropped: the start of a run, when collectors warm up,
// is the part to lose. Each mean is a compensated sum (see [Summarize])
// divided by size. The window means of a stationary series with summable
// autocorrelations are nearly independent once the windows are long
// compared with the correlation time; Lag1After shows whether they are, and
// Independent judges it against maxLag1 (0 means DefaultMaxLag1; see
// correlated). BatchMeans returns an error
// wrapping ErrParameter for size < 1.
//
// References:
//   - A. M. Law, W. D. Kelton (2000), Simulation Modeling and Analysis, 3rd
//     ed., McGraw-Hill, §9.5.3.
func BatchMeans(xs []float64, size int, maxLag1 float64) (Windows, error) {
	if size < 1 {
		return Windows{}, fmt.Errorf("%w: window size %d", ErrParameter, size)
	}
	if maxLag1 == 0 {
		maxLag1 = DefaultMaxLag1
	}
	count := len(xs) / size
	w := Windows{Observations: len(xs), Size: size, Count: count, Dropped: len(xs) - count*size}
	w.Means = make([]float64, count)
	for i := range count {
		start := w.Dropped + i*size
		w.Means[i] = compensatedSum(xs[start:start+size]) / float64(size)
	}
	if r, ok := Lag1Autocorrelation(xs); ok {
		w.Lag1Before = &r
	}
	r, ok := Lag1Autocorrelation(w.Means)
	if ok {
		w.Lag1After = &r
	}
	w.Independent = !correlated(r, ok, count, maxLag1)
	w.Note = w.note(maxLag1)
	return w, nil
}

// note says in a sentence what BatchMeans did.
func (w Windows) note(maxLag1 float64) string {
	lag := func(r *float64) string {
		if r == nil {
			return "undefined"
		}
		return fmt.Sprintf("%.3g", *r)
	}
	var s string
	if w.Size == 1 {
		s = fmt.Sprintf("%d observations used one by one as windows; lag-1 autocorrelation %s", w.Observations, lag(w.Lag1Before))
	} else {
		s = fmt.Sprintf("%d observations averaged in %d windows of %d", w.Observations, w.Count, w.Size)
		if w.Dropped > 0 {
			s += fmt.Sprintf(" (the %d oldest dropped)", w.Dropped)
		}
		s += fmt.Sprintf("; lag-1 autocorrelation %s before, %s after", lag(w.Lag1Before), lag(w.Lag1After))
	}
	if !w.Independent {
		s += fmt.Sprintf("; still above %.3g and the white-noise bound, so the windows are not independent and p-values are too small", maxLag1)
	}
	return s
}
