package analysis

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Interval is a confidence interval for the mean of a series of per-window differences that
// holds its error level when the differences are autocorrelated.
type Interval struct {
	N          int     `json:"n"`            // values the interval rests on
	Mean       float64 `json:"mean"`         // their mean: the estimate
	StdErr     float64 `json:"std_err"`      // √(Ω̂/n), with Ω̂ the long-run variance (LongRunVariance)
	Terms      int     `json:"cosine_terms"` // ν, the degrees of freedom of Ω̂ (CosineTerms)
	Lag1       float64 `json:"lag1"`         // lag-1 sample autocorrelation of the differences (0 when undefined)
	Lag1Bound  float64 `json:"lag1_bound"`   // the largest autocorrelation the critical value protects against
	Stretch    float64 `json:"stretch"`      // how much that autocorrelation widens the interval beyond Student's
	Critical   float64 `json:"critical"`     // the multiplier of StdErr
	Level      float64 `json:"error_level"`  // the probability that the interval misses the mean, at most
	Low        float64 `json:"low"`          // Mean − Critical·StdErr
	High       float64 `json:"high"`         // Mean + Critical·StdErr
	EffectiveN float64 `json:"effective_n"`  // independent values that would give the same width at the same spread
	Exact      bool    `json:"exact"`        // the differences are all equal: the interval is that value
	// Drifting is set when the differences are more persistent than MaxLag1: no interval is given.
	Drifting bool `json:"drifting,omitempty"`
}

// MeanInterval returns a confidence interval for the mean of xs (at least three finite values,
// oldest first) that misses it with probability at most level (0 < level < 1), when xs is a
// stationary series whose autocorrelation is no stronger than an AR(1) with lag-1 MaxLag1.
//
// The interval is x̄ ± c·√(Ω̂/n), with Ω̂ the EWC long-run variance of [CosineTerms](n) terms
// ([LongRunVariance]). For independent normal values c is Student's t quantile. Autocorrelation
// makes Ω̂ fall short of the true variance of the mean, so c is stretched by how much it would
// fall short for an AR(1) with the strongest autocorrelation the data do not rule out:
//
//  1. the lag-1 sample autocorrelation r of xs gives an upper confidence bound ρᵤ at error
//     level·boundShare ([lag1Bounds]);
//  2. c is the quantile, at error level·(1 − boundShare), of the EWC t statistic of an AR(1) with
//     lag-1 up to ρᵤ, by Satterthwaite's approximation (ar1Stretch), the largest over ρ ∈ [0, ρᵤ].
//
// The interval misses the mean only if the bound fails (probability level·boundShare) or the
// statistic exceeds its quantile although the bound holds (at most level·(1 − boundShare)): the
// bound is a confidence set for the nuisance parameter, maximised over (Berger & Boos 1994).
// Short series pay for what they cannot rule out: with twelve values ρᵤ is rarely below 0.6 and
// the interval is several times Student's; as n grows ρᵤ approaches the true autocorrelation.
// Satterthwaite's quantile is conservative for short, strongly correlated series (at n = 12,
// ρ = 0.8 and level 0.005 the exact quantile is 13.4, the approximation 17.7) and close to exact
// beyond 48 values.
//
// When even the lower bound of ρ exceeds MaxLag1 the differences drift: Drifting is set, Low and
// High are ∓Inf and the caller should not decide on them. When all values are equal the interval
// is that value (Exact). MeanInterval returns an error wrapping ErrTooFewSamples for fewer than
// three values, ErrNonFinite for NaN or ±Inf, and ErrParameter for a level outside (0, 1). cache
// may be nil.
//
// References:
//   - R. L. Berger, D. D. Boos (1994), P values maximized over a confidence set for the nuisance
//     parameter, Journal of the American Statistical Association 89(427):1012–1016.
//   - F. E. Satterthwaite (1946), An approximate distribution of estimates of variance
//     components, Biometrics Bulletin 2(6):110–114.
func MeanInterval(xs []float64, level float64, cache *Cache) (Interval, error) {
	n := len(xs)
	if n < 3 {
		return Interval{}, fmt.Errorf("%w: %d values (need 3)", ErrTooFewSamples, n)
	}
	if !(level > 0 && level < 1) {
		return Interval{}, fmt.Errorf("%w: error level %v", ErrParameter, level)
	}
	nu := CosineTerms(n)
	mean, omega, err := LongRunVariance(xs, nu)
	if err != nil {
		return Interval{}, err
	}
	iv := Interval{N: n, Mean: mean, Terms: nu, Level: level}
	s, err := Summarize(xs)
	if err != nil {
		return Interval{}, err
	}
	if s.Variance == 0 {
		iv.Exact, iv.Low, iv.High, iv.EffectiveN = true, mean, mean, float64(n)
		return iv, nil
	}
	r, _ := Lag1Autocorrelation(xs)
	iv.Lag1 = r
	lo, hi := lag1Bounds(r, n, level*boundShare)
	iv.Lag1Bound = float64(hi) / 100
	if lo > int(math.Round(MaxLag1*100)) {
		iv.Drifting, iv.Low, iv.High = true, math.Inf(-1), math.Inf(1)
		return iv, nil
	}
	crit := cache.worstCritical(n, nu, hi, level*(1-boundShare))
	iv.StdErr = math.Sqrt(omega / float64(n))
	iv.Critical = crit
	iv.Stretch = crit / distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(nu)}.Quantile(1-level*(1-boundShare)/2)
	iv.Low, iv.High = mean-crit*iv.StdErr, mean+crit*iv.StdErr
	if omega > 0 {
		iv.EffectiveN = min(float64(n), float64(n)*s.Variance/(omega*iv.Stretch*iv.Stretch))
	}
	if !isFinite(iv.Low) || !isFinite(iv.High) {
		return Interval{}, fmt.Errorf("%w: interval overflows float64", ErrNonFinite)
	}
	return iv, nil
}

// windowsNeeded returns the smallest number of values, above iv.N and at most limit, at which an
// interval like iv (the same long-run spread and lag-1 autocorrelation, the error level that
// level(n) gives the look at n values) would be narrow enough that the estimate, if it is the
// truth, is resolved against the distance given with probability power: (critical + z_power)·
// √(Ω̂/n) ≤ distance. It returns 0 when no number up to limit would do.
func windowsNeeded(iv Interval, distance, power float64, limit int, level func(n int) float64) int {
	if iv.Exact || iv.Drifting || !(distance > 0) || iv.StdErr == 0 {
		return 0
	}
	omega := iv.StdErr * iv.StdErr * float64(iv.N)
	zp := distuv.UnitNormal.Quantile(power)
	fits := func(n int) bool {
		lv := level(n)
		if !(lv > 0) {
			return false
		}
		_, hi := lag1Bounds(iv.Lag1, n, lv*boundShare)
		crit := approxWorstCritical(n, CosineTerms(n), hi, lv*(1-boundShare))
		return (crit+zp)*math.Sqrt(omega/float64(n)) <= distance
	}
	// The width falls with n (roughly as 1/√n), so search by doubling, then bisect.
	lo, hi := iv.N, iv.N+1
	for !fits(hi) {
		if hi >= limit {
			return 0
		}
		lo, hi = hi, min(limit, 2*hi)
	}
	for hi-lo > 1 {
		m := (lo + hi) / 2
		if fits(m) {
			hi = m
		} else {
			lo = m
		}
	}
	return hi
}
