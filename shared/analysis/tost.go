package analysis

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mathext"
	"gonum.org/v1/gonum/stat/distuv"
)

// Margin is the equivalence region of an equivalence test: the candidate −
// baseline differences small enough not to matter, (Lower, Upper) with
// Lower < Upper. When Relative, both bounds are fractions of the baseline
// mean's absolute value (−0.05 and 0.05 for ±5%).
type Margin struct {
	Lower    float64 `json:"lower"`    // lower bound of the region, below 0 for a symmetric one
	Upper    float64 `json:"upper"`    // upper bound of the region
	Relative bool    `json:"relative"` // bounds are fractions of |baseline mean|
}

// Equivalence is the result of the two one-sided tests (TOST) of a Welch
// comparison against a margin. Every difference is candidate − baseline.
type Equivalence struct {
	Margin Margin  `json:"margin"` // the region as requested
	Lower  float64 `json:"lower"`  // absolute lower bound on the difference
	Upper  float64 `json:"upper"`  // absolute upper bound on the difference
	Alpha  float64 `json:"alpha"`  // level of each one-sided test

	TLower float64 `json:"t_lower"` // (Diff − Lower)/StdErr
	PLower float64 `json:"p_lower"` // one-sided p for H₀: Diff ≤ Lower (the candidate is lower than the region)
	TUpper float64 `json:"t_upper"` // (Diff − Upper)/StdErr
	PUpper float64 `json:"p_upper"` // one-sided p for H₀: Diff ≥ Upper (the candidate is higher than the region)
	P      float64 `json:"p_value"` // max(PLower, PUpper): the p-value of equivalence
	DF     float64 `json:"df"`      // Welch–Satterthwaite degrees of freedom of both tests

	CILow      float64 `json:"ci_low"`     // lower end of the 1 − 2α interval of Diff
	CIHigh     float64 `json:"ci_high"`    // upper end of the 1 − 2α interval of Diff
	Equivalent bool    `json:"equivalent"` // P < Alpha: the interval lies inside (Lower, Upper)
}

// TOST tests whether the difference of a Welch comparison lies inside the
// margin, by the two one-sided tests of Schuirmann (1987) with Welch's
// standard error and degrees of freedom:
//
//	TLower = (Diff − Lower)/StdErr,  PLower = P(T_DF ≥ TLower)
//	TUpper = (Diff − Upper)/StdErr,  PUpper = P(T_DF ≤ TUpper)
//	P      = max(PLower, PUpper)
//
// Equivalence is concluded at level alpha when P < alpha, which is the same
// as the 1 − 2·alpha confidence interval of Diff lying inside (Lower,
// Upper); the interval is reported. Each one-sided p comes from the
// regularized incomplete beta, so deep tails keep their relative accuracy
// (see [WelchTTest]). The same Welch result gives the statsmodels value
// ttost_ind(candidate, baseline, Lower, Upper, usevar="unequal").
//
// A relative margin is multiplied by |Mean1|, which treats the baseline mean
// as known, like Welch.RelChange.
//
// Either one-sided test alone is a non-inferiority test (Wellek 2010,
// ch. 2): for a metric where lower is better, PUpper < alpha shows the
// candidate is not worse than the baseline by Upper or more, whatever its
// improvement; [Decide] uses this half for guardrails.
//
// TOST returns an error wrapping ErrParameter if alpha is not in (0, 0.5),
// the bounds are not finite with Lower < Upper, or a relative margin meets a
// baseline mean of 0; and ErrNonFinite if w does not hold a valid Welch
// result.
//
// References:
//   - D. J. Schuirmann (1987), A comparison of the two one-sided tests
//     procedure and the power approach for assessing the equivalence of
//     average bioavailability, Journal of Pharmacokinetics and
//     Biopharmaceutics 15(6):657–680.
//   - S. Wellek (2010), Testing Statistical Hypotheses of Equivalence and
//     Noninferiority, 2nd ed., Chapman & Hall/CRC, ch. 2 and 6.
func TOST(w Welch, m Margin, alpha float64) (Equivalence, error) {
	if !(alpha > 0 && alpha < 0.5) {
		return Equivalence{}, fmt.Errorf("%w: alpha %v outside (0, 0.5)", ErrParameter, alpha)
	}
	if !isFinite(m.Lower) || !isFinite(m.Upper) || !(m.Lower < m.Upper) {
		return Equivalence{}, fmt.Errorf("%w: margin (%v, %v) is not an interval", ErrParameter, m.Lower, m.Upper)
	}
	if !(w.StdErr > 0) || !isFinite(w.StdErr) || !isFinite(w.Diff) || !(w.DF > 0) {
		return Equivalence{}, fmt.Errorf("%w: not a Welch result (StdErr %v, DF %v)", ErrNonFinite, w.StdErr, w.DF)
	}
	lo, hi := m.Lower, m.Upper
	if m.Relative {
		base := math.Abs(w.Mean1)
		if base == 0 {
			return Equivalence{}, fmt.Errorf("%w: a relative margin needs a baseline mean other than 0", ErrParameter)
		}
		lo, hi = lo*base, hi*base
	}
	e := Equivalence{Margin: m, Lower: lo, Upper: hi, Alpha: alpha, DF: w.DF}
	e.TLower = (w.Diff - lo) / w.StdErr
	e.TUpper = (w.Diff - hi) / w.StdErr
	e.PLower = studentSF(e.TLower, w.DF)
	e.PUpper = studentSF(-e.TUpper, w.DF)
	e.P = math.Max(e.PLower, e.PUpper)
	q := -distuv.StudentsT{Mu: 0, Sigma: 1, Nu: w.DF}.Quantile(alpha)
	e.CILow, e.CIHigh = w.Diff-q*w.StdErr, w.Diff+q*w.StdErr
	e.Equivalent = e.P < alpha
	if !isFinite(e.TLower) || !isFinite(e.TUpper) || !isFinite(e.CILow) || !isFinite(e.CIHigh) {
		return Equivalence{}, fmt.Errorf("%w: margin or interval overflows float64", ErrNonFinite)
	}
	return e, nil
}

// studentSF returns P(T_df ≥ t) for Student's t with df degrees of freedom,
// from the regularized incomplete beta (Abramowitz & Stegun 1964, 26.7.1):
// ½·I_{df/(df+t²)}(df/2, ½) for t ≥ 0, so the upper tail keeps its relative
// accuracy, and 1 minus that for t < 0.
func studentSF(t, df float64) float64 {
	tail := 0.5 * mathext.RegIncBeta(df/2, 0.5, df/(df+t*t))
	if t < 0 {
		return 1 - tail
	}
	return tail
}
