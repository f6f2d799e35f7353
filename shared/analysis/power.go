package analysis

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// maxPlannedN bounds RequiredSampleSize: beyond 2⁵³ observations per
// sample, float64 can no longer count them, and no experiment runs that
// long.
const maxPlannedN = 1 << 53

// MinimumDetectableEffect returns the smallest absolute difference of means
// that Welch's test at level alpha (two-sided if sides is 2, one-sided if
// 1) detects with probability power, for samples of sizes n1, n2 whose
// variances are v1, v2:
//
//	MDE = (t_{1−α/sides, ν} + t_{power, ν}) · √(v1/n1 + v2/n2)
//
// where t_{p, ν} is the p quantile of Student's t and ν the
// Welch–Satterthwaite degrees of freedom of the design (see [WelchTTest]).
// It is the usual normal-theory formula (Chow, Shao & Wang 2008, §3.2;
// Cohen 1988, §2.3) with t quantiles in place of normal ones, the
// central-t approximation to the noncentral t that Julious (2004, §3)
// recommends for small samples; for large ν it is the normal formula. For a
// two-sided test it ignores the far tail's power, below α/2.
//
// It returns 0 when both variances are 0, and an error wrapping
// ErrParameter if alpha is not in (0, 1) or power not in [0.5, 1) (below
// one half the design cannot be planned this way), alpha/sides ≥ 1 − power,
// sides is not 1 or 2, or a size is below 2 or a variance negative or not
// finite.
//
// References:
//   - S.-C. Chow, J. Shao, H. Wang (2008), Sample Size Calculations in
//     Clinical Research, 2nd ed., Chapman & Hall/CRC, §3.2.
//   - J. Cohen (1988), Statistical Power Analysis for the Behavioral
//     Sciences, 2nd ed., Lawrence Erlbaum, §2.3.
//   - S. A. Julious (2004), Sample sizes for clinical trials with Normal
//     data, Statistics in Medicine 23(12):1921–1986.
func MinimumDetectableEffect(v1 float64, n1 int, v2 float64, n2 int, alpha, power float64, sides int) (float64, error) {
	if err := checkPlan(v1, v2, alpha, power, sides); err != nil {
		return 0, err
	}
	if n1 < 2 || n2 < 2 {
		return 0, fmt.Errorf("%w: sample sizes %d and %d (need at least 2)", ErrParameter, n1, n2)
	}
	a1, a2 := v1/float64(n1), v2/float64(n2)
	if a1+a2 == 0 {
		return 0, nil
	}
	r1, r2 := a1/(a1+a2), a2/(a1+a2)
	df := 1 / (r1*r1/float64(n1-1) + r2*r2/float64(n2-1))
	return quantileSum(alpha, power, sides, df) * math.Sqrt(a1+a2), nil
}

// RequiredSampleSize returns the smallest n ≥ 2 such that two samples of n
// observations each, with variances v1 and v2, have a minimum detectable
// effect (see [MinimumDetectableEffect]) of at most delta:
//
//	(t_{1−α/sides, ν(n)} + t_{power, ν(n)})² · (v1 + v2) / n ≤ δ²
//	ν(n) = (n − 1)(v1 + v2)² / (v1² + v2²)
//
// Equal allocation minimises the total for a given design when the
// variances are similar, the case of two pipelines on the same hosts. The
// start is the normal-theory size ⌈(z_{1−α/sides} + z_{power})²(v1 +
// v2)/δ²⌉ (Chow, Shao & Wang 2008, eq. 3.2.4 with unequal variances); the
// t quantiles are larger, so the left side decreases in n and the smallest
// n is found by doubling and bisection (Julious 2004, §3.1).
//
// For a non-inferiority test with margin δ (sides 1), delta is the margin
// and the true difference is assumed 0, the usual planning assumption
// (Chow, Shao & Wang 2008, §3.2.2).
//
// It returns 2 when both variances are 0, and an error wrapping
// ErrParameter for delta not positive and finite, the other arguments as
// for MinimumDetectableEffect, or when more than 2⁵³ observations would be
// needed.
func RequiredSampleSize(v1, v2, delta, alpha, power float64, sides int) (int, error) {
	if err := checkPlan(v1, v2, alpha, power, sides); err != nil {
		return 0, err
	}
	if !(delta > 0) || !isFinite(delta) {
		return 0, fmt.Errorf("%w: effect %v is not positive and finite", ErrParameter, delta)
	}
	v := v1 + v2
	if v == 0 {
		return 2, nil
	}
	fits := func(n float64) bool {
		df := (n - 1) * v * v / (v1*v1 + v2*v2)
		q := quantileSum(alpha, power, sides, df)
		return q*q*v/n <= delta*delta
	}
	z := quantileSum(alpha, power, sides, math.Inf(1))
	start := math.Max(2, math.Ceil(z*z*v/(delta*delta)))
	if !(start <= maxPlannedN) {
		return 0, fmt.Errorf("%w: detecting %v needs more than 2^53 observations per sample", ErrParameter, delta)
	}
	// start − 1 does not fit: with power ≥ ½ both t quantiles exceed the
	// normal ones. Double until hi fits, then bisect.
	lo, hi := start-1, start
	for !fits(hi) {
		lo, hi = hi, 2*hi
		if hi > maxPlannedN {
			return 0, fmt.Errorf("%w: detecting %v needs more than 2^53 observations per sample", ErrParameter, delta)
		}
	}
	for hi-lo > 1 {
		mid := math.Floor((lo + hi) / 2)
		if mid >= 2 && fits(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return int(hi), nil
}

// quantileSum is t_{1−α/sides, df} + t_{power, df}, with normal quantiles
// for df = +Inf.
func quantileSum(alpha, power float64, sides int, df float64) float64 {
	a := alpha / float64(sides)
	if math.IsInf(df, 1) {
		return -distuv.UnitNormal.Quantile(a) + distuv.UnitNormal.Quantile(power)
	}
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}
	return -t.Quantile(a) + t.Quantile(power)
}

// checkPlan validates the arguments shared by the power functions.
func checkPlan(v1, v2, alpha, power float64, sides int) error {
	switch {
	case !(alpha > 0 && alpha < 1) || !(power >= 0.5 && power < 1):
		return fmt.Errorf("%w: alpha %v must lie in (0, 1) and power %v in [0.5, 1)", ErrParameter, alpha, power)
	case sides != 1 && sides != 2:
		return fmt.Errorf("%w: sides %d is not 1 or 2", ErrParameter, sides)
	case alpha/float64(sides) >= 1-power:
		return fmt.Errorf("%w: alpha/sides %v must be below 1 − power %v", ErrParameter, alpha/float64(sides), 1-power)
	case !(v1 >= 0) || !(v2 >= 0) || !isFinite(v1) || !isFinite(v2):
		return fmt.Errorf("%w: variances %v, %v", ErrParameter, v1, v2)
	}
	return nil
}
