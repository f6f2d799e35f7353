package analysis

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mathext"
	"gonum.org/v1/gonum/stat/distuv"
)

// Welch is the result of Welch's unequal-variance t-test of a candidate
// sample against a baseline sample. Index 1 is the baseline, index 2 the
// candidate, and every difference is candidate minus baseline: a candidate
// with a lower mean gives a negative Diff, T, CI and HedgesG.
type Welch struct {
	N1    int     `json:"n1"`    // baseline sample size
	N2    int     `json:"n2"`    // candidate sample size
	Mean1 float64 `json:"mean1"` // baseline sample mean
	Mean2 float64 `json:"mean2"` // candidate sample mean
	Var1  float64 `json:"var1"`  // baseline unbiased sample variance
	Var2  float64 `json:"var2"`  // candidate unbiased sample variance

	Diff   float64 `json:"diff"`    // Mean2 − Mean1
	StdErr float64 `json:"std_err"` // standard error of Diff, √(Var1/N1 + Var2/N2)
	T      float64 `json:"t"`       // Welch's t statistic, Diff / StdErr
	DF     float64 `json:"df"`      // Welch–Satterthwaite degrees of freedom
	P      float64 `json:"p_value"` // two-sided p-value for H₀: equal means

	Confidence float64 `json:"confidence"`  // confidence level of the intervals, in (0, 1)
	CILow      float64 `json:"ci_low"`      // lower end of the confidence interval for Diff
	CIHigh     float64 `json:"ci_high"`     // upper end of the confidence interval for Diff
	RelDefined bool    `json:"rel_defined"` // whether the Rel* fields are defined (Mean1 ≠ 0 and the quotients are finite)
	RelChange  float64 `json:"rel_change"`  // Diff / |Mean1|; 0 when !RelDefined
	RelLow     float64 `json:"rel_low"`     // CILow / |Mean1|; 0 when !RelDefined
	RelHigh    float64 `json:"rel_high"`    // CIHigh / |Mean1|; 0 when !RelDefined

	HedgesG float64 `json:"hedges_g"` // bias-corrected standardized mean difference, Hedges' g
}

// WelchTTest compares the means of candidate and baseline with Welch's
// t-test, which does not assume equal variances (Welch 1947), and returns the
// difference candidate − baseline with its confidence interval at level
// confidence (e.g. 0.95), the relative change and Hedges' g.
//
// With sample sizes nᵢ, means x̄ᵢ and unbiased variances sᵢ² (1 = baseline,
// 2 = candidate; see [Summarize] for how they are computed), and aᵢ = sᵢ²/nᵢ:
//
//	Diff   = x̄₂ − x̄₁
//	StdErr = √(a₁ + a₂)
//	T      = Diff / StdErr
//
// Diff is the difference of the two float64 means, so it carries their
// rounding, up to one ulp of the larger |x̄ᵢ| (about 1e-7 for data near 1e9).
//
// The degrees of freedom are the Welch–Satterthwaite approximation
// (Satterthwaite 1946; Welch 1947)
//
//	DF = (a₁ + a₂)² / ( a₁²/(n₁−1) + a₂²/(n₂−1) )
//	   = 1 / ( r₁²/(n₁−1) + r₂²/(n₂−1) ),  rᵢ = aᵢ / (a₁ + a₂)
//
// evaluated in the second, scale-free form so that the squares of tiny
// variances (data near 1e-90) do not underflow to 0/0. min(n₁,n₂)−1 ≤ DF ≤
// n₁+n₂−2.
//
// The two-sided p-value is P(|T_DF| ≥ |T|) for Student's t with DF degrees
// of freedom, taken directly from the regularized incomplete beta function
// (Abramowitz & Stegun 1964, §26.7)
//
//	P = I_x(DF/2, 1/2),  x = DF / (DF + T²)
//
// rather than as 1 − CDF, which would round every p below about 1e-16 to 0;
// deep-tail values such as 1e-30 keep their relative accuracy. Because x
// rather than 1 − x = T²/(DF + T²) is what reaches the incomplete beta, P and
// the quantile below are accurate to roughly DF·ε relative (about 1e-10 at
// DF = 10⁶), far below any statistical consequence.
//
// The confidence interval is Diff ∓ q·StdErr with q the (1+confidence)/2
// quantile of Student's t with DF degrees of freedom, evaluated as
// −Quantile((1−confidence)/2) so that levels close to 1 lose no precision.
//
// The relative change and its interval divide by |x̄₁|:
//
//	RelChange = Diff / |x̄₁|,  [RelLow, RelHigh] = [CILow, CIHigh] / |x̄₁|
//
// This is the simple approximation that treats the baseline mean as known;
// it omits the delta-method (or Fieller 1954) term for the uncertainty of x̄₁
// and so understates the interval's width when x̄₁ is itself imprecise.
// Dividing by |x̄₁| rather than x̄₁ keeps the sign of RelChange equal to the
// sign of Diff and RelChange inside its interval when x̄₁ < 0; for positive
// baselines it is Diff/x̄₁. When x̄₁ = 0, or a quotient overflows,
// RelDefined is false and the three fields are zero, never NaN or ±Inf.
//
// Hedges' g is Cohen's d on the pooled standard deviation with Hedges'
// small-sample bias correction (Hedges 1981, approximation to J):
//
//	s_p² = ( (n₁−1)s₁² + (n₂−1)s₂² ) / (n₁ + n₂ − 2)
//	g    = J · Diff / s_p,  J = 1 − 3 / (4(n₁ + n₂) − 9)
//
// WelchTTest returns an error wrapping ErrConfidence if confidence is not in
// (0, 1); ErrTooFewSamples if either sample has fewer than two observations;
// ErrNonFinite if either holds NaN or ±Inf or a statistic overflows;
// and ErrZeroVariance if both samples have zero variance (StdErr = 0). It does
// not allocate on success.
//
// References:
//   - B. L. Welch (1947), The generalization of "Student's" problem when
//     several different population variances are involved, Biometrika
//     34(1–2):28–35.
//   - F. E. Satterthwaite (1946), An approximate distribution of estimates of
//     variance components, Biometrics Bulletin 2(6):110–114.
//   - L. V. Hedges (1981), Distribution theory for Glass's estimator of effect
//     size and related estimators, Journal of Educational Statistics
//     6(2):107–128.
//   - M. Abramowitz, I. A. Stegun (1964), Handbook of Mathematical Functions,
//     §26.5 and §26.7.
//   - E. C. Fieller (1954), Some problems in interval estimation, JRSS B
//     16(2):175–185.
func WelchTTest(baseline, candidate []float64, confidence float64) (Welch, error) {
	if !(confidence > 0 && confidence < 1) {
		return Welch{}, fmt.Errorf("%w: %v", ErrConfidence, confidence)
	}
	s1, err := Summarize(baseline)
	if err != nil {
		return Welch{}, fmt.Errorf("baseline: %w", err)
	}
	s2, err := Summarize(candidate)
	if err != nil {
		return Welch{}, fmt.Errorf("candidate: %w", err)
	}
	return welch(s1, s2, confidence)
}

// welch is WelchTTest on validated summaries (N ≥ 2, finite Mean and
// Variance ≥ 0) and a confidence level in (0, 1).
func welch(s1, s2 Summary, confidence float64) (Welch, error) {
	if s1.Variance == 0 && s2.Variance == 0 {
		return Welch{}, ErrZeroVariance
	}
	n1, n2 := float64(s1.N), float64(s2.N)
	a1, a2 := s1.Variance/n1, s2.Variance/n2
	se2 := a1 + a2
	if se2 == 0 {
		return Welch{}, fmt.Errorf("%w: standard error underflows float64", ErrZeroVariance)
	}
	diff := s2.Mean - s1.Mean
	se := math.Sqrt(se2)
	t := diff / se
	if !isFinite(diff) || !isFinite(se) || !isFinite(t) {
		return Welch{}, fmt.Errorf("%w: difference or standard error overflows float64", ErrNonFinite)
	}

	r1, r2 := a1/se2, a2/se2
	df := 1 / (r1*r1/(n1-1) + r2*r2/(n2-1))

	p := mathext.RegIncBeta(df/2, 0.5, df/(df+t*t))

	q := -distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Quantile((1 - confidence) / 2)
	margin := q * se
	lo, hi := diff-margin, diff+margin
	if !isFinite(lo) || !isFinite(hi) {
		return Welch{}, fmt.Errorf("%w: confidence interval overflows float64", ErrNonFinite)
	}

	pooled := ((n1-1)*s1.Variance + (n2-1)*s2.Variance) / (n1 + n2 - 2)
	j := 1 - 3/(4*(n1+n2)-9)
	g := j * diff / math.Sqrt(pooled)
	if !isFinite(g) {
		return Welch{}, fmt.Errorf("%w: pooled standard deviation underflows float64", ErrNonFinite)
	}

	w := Welch{
		N1: s1.N, N2: s2.N,
		Mean1: s1.Mean, Mean2: s2.Mean,
		Var1: s1.Variance, Var2: s2.Variance,
		Diff: diff, StdErr: se, T: t, DF: df, P: p,
		Confidence: confidence, CILow: lo, CIHigh: hi,
		HedgesG: g,
	}
	if m := math.Abs(s1.Mean); m != 0 {
		rc, rlo, rhi := diff/m, lo/m, hi/m
		if isFinite(rc) && isFinite(rlo) && isFinite(rhi) {
			w.RelDefined, w.RelChange, w.RelLow, w.RelHigh = true, rc, rlo, rhi
		}
	}
	return w, nil
}

// Classify calls a difference significant when the two-sided p-value is below alpha, which is
// the same as the (1−alpha) confidence interval of Diff excluding zero; the sign of Diff
// (candidate − baseline) and the metric's direction decide better or worse. It is the plain
// rule `phoenix analyze` reports for two independent samples; [Decide] is the experiment's
// decision.
func Classify(w Welch, dir Direction, alpha float64) Outcome {
	if !(w.P < alpha) || w.Diff == 0 {
		return NoChange
	}
	better := w.Diff < 0
	if dir == HigherIsBetter {
		better = !better
	}
	if better {
		return Improved
	}
	return Regressed
}
