package analysis

import (
	"fmt"
	"math"
)

// MaxCosineTerms caps the degrees of freedom of the long-run variance: beyond 30 the t quantiles
// Phoenix uses differ from the normal ones by a few percent, so more terms add little power while
// each costs one pass over the series.
const MaxCosineTerms = 30

// CosineTerms is the number of cosine terms (the degrees of freedom ν) [LongRunVariance] uses for
// a series of n values: n − 1, at most [MaxCosineTerms]. It depends on n alone, never on the data,
// so the choice cannot bend the test's size; the robustness to autocorrelation comes from the
// critical value instead (see [criticalValue]). With ν = n − 1 the estimate is exactly the sample
// variance, so on short independent series the interval is Student's.
func CosineTerms(n int) int { return max(0, min(n-1, MaxCosineTerms)) }

// LongRunVariance returns the mean of xs and the equal-weighted cosine (EWC) estimate of its
// long-run variance Ω = lim n·Var(x̄) with ν cosine terms (Müller 2007; Lazarus, Lewis, Stock &
// Watson 2018):
//
//	Λⱼ = √(2/n) Σₜ₌₁ⁿ cos(πj(t − ½)/n) xₜ,   Ω̂ = (1/ν) Σⱼ₌₁^ν Λⱼ²
//
// The cosines are orthogonal to the constant, so Ω̂ does not depend on the mean. For independent
// normal observations Λ₁…Λ_ν are independent N(0, σ²) and independent of x̄, so
// √n(x̄ − μ)/√Ω̂ has Student's t distribution with ν degrees of freedom exactly; with ν = n − 1
// the cosines complete an orthonormal basis and Ω̂ is the sample variance. For an autocorrelated
// series the Λⱼ estimate the spectral density near frequency zero (πj/n), which is what the
// variance of a mean depends on. xs must be finite and 1 ≤ ν < len(xs), ν ≤ MaxCosineTerms.
//
// The cosines of each t are built from cos(π(t − ½)/n) by the Chebyshev recurrence
// cos((j+1)φ) = 2cos φ·cos(jφ) − cos((j−1)φ): one math.Cos per observation instead of ν, and at
// most 30 steps, whose rounding error stays below 10⁻¹⁴.
//
// References:
//   - U. K. Müller (2007), A theory of robust long-run variance estimation, Journal of
//     Econometrics 141(2):1331–1352.
//   - E. Lazarus, D. J. Lewis, J. H. Stock, M. W. Watson (2018), HAR inference: recommendations
//     for practice, Journal of Business & Economic Statistics 36(4):541–559.
//   - Y. Sun (2013), A heteroskedasticity and autocorrelation robust F test using an orthonormal
//     series variance estimator, The Econometrics Journal 16(1):1–26.
func LongRunVariance(xs []float64, nu int) (mean, omega float64, err error) {
	n := len(xs)
	if nu < 1 || nu >= n || nu > MaxCosineTerms {
		return 0, 0, fmt.Errorf("%w: %d cosine terms for %d observations (need 1 ≤ ν < n, ν ≤ %d)", ErrParameter, nu, n, MaxCosineTerms)
	}
	mean = compensatedSum(xs) / float64(n)
	if !isFinite(mean) {
		return 0, 0, nonFiniteError(xs)
	}
	var lambda [MaxCosineTerms + 1]float64
	for t, x := range xs {
		c1 := math.Cos(math.Pi * (float64(t) + 0.5) / float64(n))
		prev, cur := 1.0, c1
		x -= mean // exact orthogonality to the constant, whatever the rounding of the sums
		for j := 1; j <= nu; j++ {
			lambda[j] += cur * x
			prev, cur = cur, 2*c1*cur-prev
		}
	}
	for j := 1; j <= nu; j++ {
		l := lambda[j] * math.Sqrt(2/float64(n))
		omega += l * l
	}
	omega /= float64(nu)
	if !isFinite(omega) {
		return 0, 0, fmt.Errorf("%w: long-run variance overflows float64", ErrNonFinite)
	}
	return mean, omega, nil
}

// Lag1Autocorrelation returns the lag-1 sample autocorrelation of xs (Box, Jenkins & Reinsel
// 2008, §2.1.5),
//
//	r₁ = Σₜ₌₁ⁿ⁻¹ (xₜ − x̄)(xₜ₊₁ − x̄) / Σₜ₌₁ⁿ (xₜ − x̄)²
//
// and false when it is undefined: fewer than three values or a constant series.
//
// References:
//   - G. E. P. Box, G. M. Jenkins, G. C. Reinsel (2008), Time Series Analysis: Forecasting and
//     Control, 4th ed., Wiley, §2.1.5.
func Lag1Autocorrelation(xs []float64) (float64, bool) {
	n := len(xs)
	if n < 3 {
		return 0, false
	}
	// Each deviation is corrected by the mean of the deviations from the rounded mean: for 1e9
	// plus millimetre noise the rounded mean alone shifts every deviation by up to half an ulp of
	// 1e9 (6·10⁻⁸), which biases r₁ in the eighth digit.
	mean := compensatedSum(xs) / float64(n)
	dev, _ := deviationSums(xs, mean)
	corr := dev / float64(n)
	var num, den float64
	prev := xs[0] - mean - corr
	den = prev * prev
	for _, x := range xs[1:] {
		d := x - mean - corr
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
