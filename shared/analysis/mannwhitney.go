package analysis

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// exactMaxPairs bounds n₁·n₂ for the exact null distribution of U. Its
// table costs about (n₁n₂)²/4 additions: a quarter of a millisecond at
// the bound, where the normal approximation's error has also become small.
const exactMaxPairs = 2500

// MannWhitney is the result of the Mann–Whitney U test of a candidate sample
// against a baseline sample, with the Hodges–Lehmann estimate of the shift
// and its distribution-free confidence interval. As in [Welch], index 1 is
// the baseline, index 2 the candidate, and every shift is candidate minus
// baseline.
type MannWhitney struct {
	N1 int `json:"n1"` // baseline sample size
	N2 int `json:"n2"` // candidate sample size

	U               float64 `json:"u"`                // pairs with candidate > baseline, ties counting ½; n₁n₂/2 expected under H₀
	ProbSuperiority float64 `json:"prob_superiority"` // U/(n₁n₂): P(candidate > baseline) + ½P(equal), the common-language effect size
	Z               float64 `json:"z"`                // normal approximation of U, tie- and continuity-corrected; positive when the candidate is larger
	P               float64 `json:"p_value"`          // two-sided p-value for H₀: both samples come from the same distribution
	Exact           bool    `json:"exact"`            // P is from the exact null distribution (no ties, n₁n₂ ≤ 2500); otherwise from Z
	TieTerm         float64 `json:"tie_term"`         // Σ(t³ − t) over groups of t equal values in the pooled sample; 0 without ties

	Shift          float64 `json:"shift"`           // Hodges–Lehmann estimate: median of all n₁n₂ differences candidate − baseline
	Confidence     float64 `json:"confidence"`      // requested level of the shift's interval
	Coverage       float64 `json:"coverage"`        // level the order-statistic interval achieves (exact, or its normal approximation), ≥ Confidence unless the samples are too small
	ShiftLow       float64 `json:"shift_low"`       // lower end of the shift's interval
	ShiftHigh      float64 `json:"shift_high"`      // upper end of the shift's interval
	BaselineMedian float64 `json:"baseline_median"` // median of the baseline sample, the reference of the relative shift
	RelDefined     bool    `json:"rel_defined"`     // whether the Rel* fields are defined (BaselineMedian ≠ 0)
	RelShift       float64 `json:"rel_shift"`       // Shift / |BaselineMedian|; 0 when !RelDefined
	RelLow         float64 `json:"rel_low"`         // ShiftLow / |BaselineMedian|; 0 when !RelDefined
	RelHigh        float64 `json:"rel_high"`        // ShiftHigh / |BaselineMedian|; 0 when !RelDefined
}

// MannWhitneyU compares candidate with baseline by the Wilcoxon–Mann–Whitney
// rank-sum test (Mann & Whitney 1947) and estimates the shift candidate −
// baseline by Hodges & Lehmann (1963), with the order-statistic confidence
// interval of Lehmann (1963) and Moses (Hollander & Wolfe 1999, §4.3) at
// level confidence. It does not assume normality, is insensitive to
// outliers, and suits heavy-tailed metrics; the shift is the location
// difference when the two distributions differ by a shift.
//
// With the samples sorted, U counts the pairs (xᵢ, yⱼ), x baseline, y
// candidate, with yⱼ > xᵢ, ties counting ½:
//
//	U = Σⱼ ( #{i: xᵢ < yⱼ} + ½ #{i: xᵢ = yⱼ} )
//
// computed by one merge of the sorted samples. Under H₀ U has mean μ = n₁n₂/2
// and, with tᵥ the size of each group of equal values in the pooled sample
// of N = n₁ + n₂ values (Lehmann 1975, §1.4),
//
//	σ² = n₁n₂/12 · ( N + 1 − Σ(tᵥ³ − tᵥ) / (N(N − 1)) )
//
// Z = sign(U − μ)·max(0, |U − μ| − ½)/σ, the ½ being the continuity
// correction, and the asymptotic two-sided p-value is P = erfc(|Z|/√2),
// which keeps its relative accuracy deep in the tail. This is
// scipy.stats.mannwhitneyu(candidate, baseline, method="asymptotic").
//
// Without ties and with n₁n₂ ≤ 2500, P is exact instead: P = min(1,
// 2·P₀(U' ≥ max(U, n₁n₂ − U))), where P₀ is the null distribution of U, whose
// frequencies are the coefficients of the Gaussian binomial coefficient
// [N choose n₁]_q (Mann & Whitney 1947; Andrews 1976), accumulated here by
// the q-Pascal recurrence with additions only, so every frequency has full
// relative precision. This is method="exact".
//
// The Hodges–Lehmann shift is the median of the n₁n₂ differences
// dᵢⱼ = yⱼ − xᵢ (the mean of the two middle ones when n₁n₂ is even). Its
// interval is [d₍ₖ₎, d₍n₁n₂+1−ₖ₎], the k-th smallest and k-th largest
// difference. With the exact distribution (the same condition as for P),
// k is the smallest q with P₀(U ≤ q) ≥ (1 − confidence)/2, and at least 1,
// as in R's wilcox.test; the achieved Coverage is 1 − 2·P₀(U ≤ k − 1).
// Otherwise k is the largest integer whose continuity-corrected normal
// approximation P₀(U ≤ k − 1) ≈ Φ((k − ½ − μ)/σ₀) stays at most
// (1 − confidence)/2:
//
//	k = max(1, ⌊μ + ½ − z·σ₀⌋),  σ₀² = n₁n₂(N + 1)/12,  z = Φ⁻¹((1 + confidence)/2)
//
// with σ₀ without the tie term, as the interval's theory assumes continuous
// data (Hollander & Wolfe 1999, eq. 4.41); Coverage is then
// 1 − 2Φ((k − ½ − μ)/σ₀).
//
// The order statistics are selected without forming the n₁n₂ differences:
// the differences form a matrix whose rows and columns are sorted, and
// [selectDifference] finds the k-th of them in O((n₁ + n₂)·log(n₁n₂))
// expected time and O(n₁ + n₂) memory, so 10⁶ + 10⁶ values take well under
// a second although they have 10¹² differences. Sorting both samples is the
// other main cost; it is a linear-time radix sort.
//
// The relative shift divides by the baseline median's absolute value, as
// [WelchTTest] divides by the baseline mean's.
//
// MannWhitneyU returns an error wrapping ErrConfidence if confidence is not
// in (0, 1); ErrTooFewSamples if either sample has fewer than two
// observations; ErrNonFinite if either holds NaN or ±Inf or a difference
// overflows; and ErrZeroVariance if all observations of both samples are
// equal, when σ = 0 and U carries no information.
//
// References:
//   - H. B. Mann, D. R. Whitney (1947), On a test of whether one of two
//     random variables is stochastically larger than the other, Annals of
//     Mathematical Statistics 18(1):50–60.
//   - J. L. Hodges, E. L. Lehmann (1963), Estimates of location based on
//     rank tests, Annals of Mathematical Statistics 34(2):598–611.
//   - E. L. Lehmann (1963), Nonparametric confidence intervals for a shift
//     parameter, Annals of Mathematical Statistics 34(4):1507–1512.
//   - E. L. Lehmann (1975), Nonparametrics: Statistical Methods Based on
//     Ranks, Holden-Day, §1.4 and §2.6.
//   - M. Hollander, D. A. Wolfe (1999), Nonparametric Statistical Methods,
//     2nd ed., Wiley, §4.1 and §4.3.
//   - G. E. Andrews (1976), The Theory of Partitions, Addison-Wesley, §3.3
//     (Gaussian polynomials).
func MannWhitneyU(baseline, candidate []float64, confidence float64) (MannWhitney, error) {
	if !(confidence > 0 && confidence < 1) {
		return MannWhitney{}, fmt.Errorf("%w: %v", ErrConfidence, confidence)
	}
	for _, s := range []struct {
		name string
		xs   []float64
	}{{"baseline", baseline}, {"candidate", candidate}} {
		if len(s.xs) < 2 {
			return MannWhitney{}, fmt.Errorf("%s: %w: n = %d", s.name, ErrTooFewSamples, len(s.xs))
		}
		// The selection indexes samples with int32 (half the memory, twice the cache); 2³¹
		// observations would be 16 GiB of float64 anyway.
		if len(s.xs) >= math.MaxInt32 {
			return MannWhitney{}, fmt.Errorf("%s: %w: n = %d, at most %d", s.name, ErrParameter, len(s.xs), math.MaxInt32-1)
		}
		for i, x := range s.xs {
			if !isFinite(x) {
				return MannWhitney{}, fmt.Errorf("%s: %w: xs[%d] = %v", s.name, ErrNonFinite, i, x)
			}
		}
	}
	x, y := sortedCopy(baseline), sortedCopy(candidate)
	if !isFinite(y[len(y)-1]-x[0]) || !isFinite(y[0]-x[len(x)-1]) {
		return MannWhitney{}, fmt.Errorf("%w: a difference candidate − baseline overflows float64", ErrNonFinite)
	}
	return mannWhitneySorted(x, y, confidence)
}

// mannWhitneySorted is MannWhitneyU on validated, sorted samples.
func mannWhitneySorted(x, y []float64, confidence float64) (MannWhitney, error) {
	n1, n2 := len(x), len(y)
	twoU, tieTerm := rankSum(x, y)
	fn1, fn2 := float64(n1), float64(n2)
	pairs := fn1 * fn2
	nn := fn1 + fn2
	sigma := math.Sqrt(pairs / 12 * ((nn + 1) - tieTerm/(nn*(nn-1))))
	if !(sigma > 0) {
		return MannWhitney{}, fmt.Errorf("%w: every observation of both samples is equal", ErrZeroVariance)
	}
	u := float64(twoU) / 2
	mu := pairs / 2
	z := math.Max(0, math.Abs(u-mu)-0.5) / sigma
	if u < mu {
		z = -z
	}
	r := MannWhitney{
		N1: n1, N2: n2,
		U: u, ProbSuperiority: u / pairs, Z: z, P: math.Erfc(math.Abs(z) / math.Sqrt2),
		TieTerm: tieTerm, Confidence: confidence,
	}

	alpha := 1 - confidence
	np := int64(n1) * int64(n2)
	var k int64
	var null []float64 // exact null frequencies of U, when used
	if tieTerm == 0 && np <= exactMaxPairs {
		null = uFrequencies(n1, n2)
		total := 0.0
		for _, f := range null {
			total += f
		}
		// Upper tail from the top: the small probabilities are summed first.
		hi := int64(math.Max(u, pairs-u))
		tail := 0.0
		for v := np; v >= hi; v-- {
			tail += null[v]
		}
		r.Exact, r.P = true, math.Min(1, 2*tail/total)

		// k: the smallest q with P₀(U ≤ q) ≥ alpha/2, as R's qwilcox.
		cum := 0.0
		for k = 0; k < np; k++ {
			cum += null[k]
			if cum/total >= alpha/2 {
				break
			}
		}
		k = max(k, 1)
		below := 0.0
		for v := int64(0); v < k; v++ {
			below += null[v]
		}
		r.Coverage = 1 - 2*below/total
	} else {
		q := -distuv.UnitNormal.Quantile(alpha / 2)
		sigma0 := math.Sqrt(pairs * (nn + 1) / 12)
		k = max(int64(math.Floor(mu+0.5-q*sigma0)), 1)
		r.Coverage = 1 - 2*distuv.UnitNormal.CDF((float64(k)-0.5-mu)/sigma0)
	}

	sel := newDiffSelector(x, y)
	mid := (np + 1) / 2
	if np%2 == 1 {
		r.Shift = sel.kth(mid)
	} else {
		r.Shift = midpoint(sel.kthPair(mid, true))
	}
	r.ShiftLow = sel.kth(k)
	r.ShiftHigh = sel.kth(np + 1 - k)

	if n1%2 == 1 {
		r.BaselineMedian = x[n1/2]
	} else {
		r.BaselineMedian = midpoint(x[n1/2-1], x[n1/2])
	}
	if m := math.Abs(r.BaselineMedian); m != 0 {
		rs, rl, rh := r.Shift/m, r.ShiftLow/m, r.ShiftHigh/m
		if isFinite(rs) && isFinite(rl) && isFinite(rh) {
			r.RelDefined, r.RelShift, r.RelLow, r.RelHigh = true, rs, rl, rh
		}
	}
	return r, nil
}

// rankSum returns 2U for the candidate y against the baseline x, both
// sorted, and the tie term Σ(t³ − t) of the pooled sample. 2U is an
// integer; as int64 it is exact for any n₁n₂ < 4.6e18.
func rankSum(x, y []float64) (twoU int64, tieTerm float64) {
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		var v float64
		if j == len(y) || (i < len(x) && x[i] <= y[j]) {
			v = x[i]
		} else {
			v = y[j]
		}
		i0, j0 := i, j
		for i < len(x) && x[i] == v {
			i++
		}
		for j < len(y) && y[j] == v {
			j++
		}
		cx, cy := int64(i-i0), int64(j-j0)
		twoU += cy * (2*int64(i0) + cx)
		if t := float64(cx + cy); t > 1 {
			tieTerm += t*t*t - t
		}
	}
	return twoU, tieTerm
}

// uFrequencies returns f[u], the number of the C(n₁+n₂, n₁) equally likely
// arrangements of two untied samples with U = u, for u = 0…n₁n₂. f is the
// coefficient list of the Gaussian binomial coefficient [n₁+n₂ choose n₁]_q,
// built by the q-Pascal recurrence
//
//	G(a, b) = G(a − 1, b) + q^a · G(a, b − 1),  G(a, 0) = G(0, b) = 1
//
// (Andrews 1976, Theorem 3.2), which adds non-negative numbers only: each
// frequency carries a relative rounding error of at most about (n₁+n₂)·ε
// even where it exceeds 2⁵³. The larger size runs over a, so the table
// holds min(n₁,n₂)+1 polynomials.
func uFrequencies(n1, n2 int) []float64 {
	a, b := max(n1, n2), min(n1, n2)
	// g[j] is G(i, j) for the current row i; its degree is i·j.
	g := make([][]float64, b+1)
	for j := range g {
		g[j] = make([]float64, a*j+1)
		g[j][0] = 1 // G(0, j) = 1
	}
	for i := 1; i <= a; i++ {
		// G(i, 0) = 1 already. In increasing j, g[j-1] is already G(i, j−1)
		// and g[j] still G(i−1, j).
		for j := 1; j <= b; j++ {
			prev, cur := g[j-1], g[j]
			for d, f := range prev[:i*(j-1)+1] {
				cur[d+i] += f
			}
		}
	}
	return g[b]
}

// midpoint returns (a + b)/2 for a ≤ b without overflow: the sum cannot
// overflow when the signs differ, nor the difference when they agree.
func midpoint(a, b float64) float64 {
	if (a < 0) != (b < 0) {
		return (a + b) / 2
	}
	return a + (b-a)/2
}
