package analysis

import (
	"fmt"
	"math"
)

// Summary is the size, mean and unbiased variance of one sample.
type Summary struct {
	N        int     // number of observations, at least 2
	Mean     float64 // arithmetic mean, Σxᵢ / N
	Variance float64 // unbiased sample variance, Σ(xᵢ − Mean)² / (N − 1)
}

// Summarize returns the size, mean and unbiased variance of xs.
//
// The mean is
//
//	x̄ = (1/n) Σ xᵢ
//
// with the sum accumulated by Neumaier's compensated summation (Neumaier
// 1974), whose running compensation collects the exact rounding error of every
// addition; the error is computed branch-free with Knuth's TwoSum (Knuth,
// TAOCP vol. 2, §4.2.2). The variance uses the corrected two-pass algorithm
// (Björck 1967; Chan, Golub & LeVeque 1983):
//
//	s² = ( Σ(xᵢ − x̄)² − (Σ(xᵢ − x̄))² / n ) / (n − 1)
//
// where the second term compensates for the rounding error left in x̄ and the
// sum of squared deviations is itself compensated. Unlike the one-pass
// Σxᵢ² − n·x̄² formula, this stays accurate when the spread is tiny next to
// the mean: for 1e9 plus unit noise the naive formula cancels every
// significant digit, while Summarize is accurate to a few ulps.
//
// Summarize returns an error wrapping ErrTooFewSamples if len(xs) < 2, and
// one wrapping ErrNonFinite if an observation is NaN or ±Inf or if the sum or
// the variance overflows float64 (|xᵢ| near 1e308, or deviations beyond about
// 1e154). Variances below the smallest normal float64 (spreads under about
// 1e-154) lose relative precision to gradual underflow. Summarize does not
// allocate on success.
//
// References:
//   - A. Neumaier (1974), Rundungsfehleranalyse einiger Verfahren zur
//     Summation endlicher Summen, ZAMM 54(1):39–51.
//   - Å. Björck (1967), Solving linear least squares problems by
//     Gram–Schmidt orthogonalization, BIT 7:1–21.
//   - T. F. Chan, G. H. Golub, R. J. LeVeque (1983), Algorithms for computing
//     the sample variance: analysis and recommendations, The American
//     Statistician 37(3):242–247.
func Summarize(xs []float64) (Summary, error) {
	n := len(xs)
	if n < 2 {
		return Summary{}, fmt.Errorf("%w: n = %d", ErrTooFewSamples, n)
	}
	fn := float64(n)

	// NaN and ±Inf propagate through the sum and its compensation, so one
	// check after the loop replaces a per-element test in the hot path.
	mean := compensatedSum(xs) / fn
	if !isFinite(mean) {
		return Summary{}, nonFiniteError(xs)
	}

	dev, sq := deviationSums(xs, mean)
	m2 := sq - dev*dev/fn
	if m2 < 0 { // rounding on (near-)constant data
		m2 = 0
	}
	v := m2 / (fn - 1)
	if !isFinite(v) {
		return Summary{}, fmt.Errorf("%w: variance overflows float64", ErrNonFinite)
	}
	return Summary{N: n, Mean: mean, Variance: v}, nil
}

// compensatedSum returns Σxs by Neumaier's compensated summation: the exact
// rounding error of each addition, from twoSum, is accumulated separately
// and added once at the end. Two independent accumulators halve the
// loop-carried dependency on the running sum; they are merged exactly.
func compensatedSum(xs []float64) float64 {
	var s0, c0, s1, c1 float64
	i := 0
	for ; i+1 < len(xs); i += 2 {
		var e0, e1 float64
		s0, e0 = twoSum(s0, xs[i])
		s1, e1 = twoSum(s1, xs[i+1])
		c0 += e0
		c1 += e1
	}
	if i < len(xs) {
		var e float64
		s0, e = twoSum(s0, xs[i])
		c0 += e
	}
	s, e := twoSum(s0, s1)
	return s + (c0 + c1 + e)
}

// deviationSums returns Σ(x − mean), summed plainly because it only enters
// the second-order correction, and Σ(x − mean)², summed like
// compensatedSum.
func deviationSums(xs []float64, mean float64) (dev, sq float64) {
	var dev0, dev1, s0, c0, s1, c1 float64
	i := 0
	for ; i+1 < len(xs); i += 2 {
		d0, d1 := xs[i]-mean, xs[i+1]-mean
		dev0 += d0
		dev1 += d1
		// The conversions forbid fusing d*d into the addition (FMA), which
		// would make twoSum's error term inconsistent on arm64 and others.
		var e0, e1 float64
		s0, e0 = twoSum(s0, float64(d0*d0))
		s1, e1 = twoSum(s1, float64(d1*d1))
		c0 += e0
		c1 += e1
	}
	if i < len(xs) {
		d := xs[i] - mean
		dev0 += d
		var e float64
		s0, e = twoSum(s0, float64(d*d))
		c0 += e
	}
	s, e := twoSum(s0, s1)
	return dev0 + dev1, s + (c0 + c1 + e)
}

// twoSum returns s = fl(a+b) and the rounding error e such that a+b = s+e
// exactly, for finite a, b without overflow (Knuth, TAOCP vol. 2, §4.2.2,
// Theorem B). It is the branch-free form of the error term in Neumaier's
// algorithm.
func twoSum(a, b float64) (s, e float64) {
	s = a + b
	bb := s - a
	e = (a - (s - bb)) + (b - bb)
	return s, e
}

// nonFiniteError explains why a sum came out non-finite: a NaN or ±Inf
// observation, or else overflow of the finite observations' sum.
func nonFiniteError(xs []float64) error {
	for i, x := range xs {
		if !isFinite(x) {
			return fmt.Errorf("%w: xs[%d] = %v", ErrNonFinite, i, x)
		}
	}
	return fmt.Errorf("%w: sum overflows float64", ErrNonFinite)
}

func isFinite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
