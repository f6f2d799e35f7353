package analysis

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"testing"
)

// reference holds testdata/reference.json, written by testdata/generate.py
// from scipy, numpy and mpmath (versions inside the file).
type reference struct {
	Versions map[string]string `json:"versions"`
	Welch    []struct {
		Name                string
		Baseline, Candidate []float64
		Confidence          float64
		Want                map[string]float64
	} `json:"welch"`
	MannWhitney []struct {
		Name                string
		Baseline, Candidate []float64
		Confidence          float64
		Want                map[string]any
	} `json:"mann_whitney"`
	LongRunVariance []struct {
		Name   string
		Series []float64
		Nu     int
		Want   struct {
			Mean           float64  `json:"mean"`
			Omega          float64  `json:"omega"`
			SampleVariance *float64 `json:"sample_variance"` // where ν = n − 1
		}
	} `json:"long_run_variance"`
	Lag1 []struct {
		Name   string
		Series []float64
		Want   *float64 // nil where undefined
	} `json:"lag1"`
	AR1Gram []struct {
		N, Nu int
		Rho   float64
		Want  [][]float64
	} `json:"ar1_gram"`
	ExactQuantile []quantileCase `json:"exact_quantile"`
	Satterthwaite []quantileCase `json:"satterthwaite"`
}

// quantileCase is a critical value of the EWC t statistic of n AR(1) values with lag-1 ρ and ν
// cosine terms: P(|T| > c) = level.
type quantileCase struct {
	N, Nu      int
	Rho, Level float64
	Want       struct {
		Imhof         float64  `json:"imhof"`          // Imhof's integral, solved for c
		Satterthwaite float64  `json:"satterthwaite"`  // ar1Stretch's formula, recomputed
		Student       *float64 `json:"student"`        // ρ = 0: scipy.stats.t.ppf
		StudentMpmath *float64 `json:"student_mpmath"` // ρ = 0: the same at 40 digits
	}
	MonteCarlo *struct {
		Draws        int     `json:"draws"`
		Exceedance   float64 `json:"exceedance"` // share of |T| above the Imhof c
		ExceedanceSE float64 `json:"exceedance_se"`
		Quantile     float64 `json:"quantile"` // empirical (1 − level) quantile of |T|
		QuantileSE   float64 `json:"quantile_se"`
	} `json:"monte_carlo"`
}

// refTol is the agreement the issue asks of every reference value.
const refTol = 1e-7

func loadReference(t *testing.T) reference {
	t.Helper()
	raw, err := os.ReadFile("testdata/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var r reference
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// check compares named values to refTol, exactly where the reference is 0,
// and returns the largest relative error.
func check(t *testing.T, name string, got map[string]float64, want map[string]any) (worst float64) {
	t.Helper()
	for k, g := range got {
		w, ok := want[k].(float64)
		if !ok {
			t.Fatalf("%s: reference has no %s", name, k)
		}
		if w == 0 && g != 0 || !within(g, w, refTol) {
			t.Errorf("%s: %s = %.17g, want %.17g (rel err %.2g)", name, k, g, w, math.Abs(g-w)/math.Abs(w))
		}
		if w != 0 {
			worst = max(worst, math.Abs(g-w)/math.Abs(w))
		}
	}
	return worst
}

func TestReference_Welch(t *testing.T) {
	var worst float64
	for _, c := range loadReference(t).Welch {
		w, err := WelchTTest(c.Baseline, c.Candidate, c.Confidence)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		want := map[string]any{}
		for k, v := range c.Want {
			want[k] = v
		}
		worst = max(worst, check(t, c.Name, map[string]float64{
			"mean1": w.Mean1, "mean2": w.Mean2, "var1": w.Var1, "var2": w.Var2, "diff": w.Diff, "std_err": w.StdErr,
			"t": w.T, "df": w.DF, "p_value": w.P, "ci_low": w.CILow, "ci_high": w.CIHigh,
		}, want))
	}
	t.Logf("largest relative error %.2g", worst)
}

func TestReference_MannWhitneyAndHodgesLehmann(t *testing.T) {
	var worst float64
	for _, c := range loadReference(t).MannWhitney {
		u, err := MannWhitneyU(c.Baseline, c.Candidate, c.Confidence)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if u.Exact != c.Want["exact"].(bool) {
			t.Errorf("%s: exact = %v, reference used exact = %v", c.Name, u.Exact, c.Want["exact"])
		}
		worst = max(worst, check(t, c.Name, map[string]float64{
			"u": u.U, "p_value": u.P, "z": u.Z, "tie_term": u.TieTerm, "shift": u.Shift,
			"shift_low": u.ShiftLow, "shift_high": u.ShiftHigh, "coverage": u.Coverage, "baseline_median": u.BaselineMedian,
		}, c.Want))
	}
	t.Logf("largest relative error %.2g", worst)
}

// agree reports got against want at relative tolerance tol (absolute where want is 0) and
// returns the relative error.
func agree(t *testing.T, name, what string, got, want, tol float64) float64 {
	t.Helper()
	if !within(got, want, tol) {
		t.Errorf("%s: %s = %.17g, want %.17g (rel err %.2g)", name, what, got, want, math.Abs(got-want)/math.Abs(want))
	}
	if want == 0 {
		return math.Abs(got)
	}
	return math.Abs(got-want) / math.Abs(want)
}

func TestReference_LongRunVarianceMatchesScipyDCT(t *testing.T) {
	var worst, worstVar float64
	for _, c := range loadReference(t).LongRunVariance {
		mean, omega, err := LongRunVariance(c.Series, c.Nu)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		worst = max(worst, agree(t, c.Name, "mean", mean, c.Want.Mean, refTol),
			agree(t, c.Name, "omega", omega, c.Want.Omega, refTol))
		if c.Want.SampleVariance != nil { // ν = n − 1: the cosines complete the basis
			worstVar = max(worstVar, agree(t, c.Name, "omega against the sample variance", omega, *c.Want.SampleVariance, refTol))
		}
	}
	t.Logf("largest relative error %.2g; against the sample variance where ν = n − 1, %.2g", worst, worstVar)
}

func TestReference_Lag1AutocorrelationMatchesNumpy(t *testing.T) {
	var worst float64
	for _, c := range loadReference(t).Lag1 {
		got, ok := Lag1Autocorrelation(c.Series)
		if ok != (c.Want != nil) {
			t.Errorf("%s: defined = %v (r = %v), want %v", c.Name, ok, got, c.Want != nil)
			continue
		}
		if !ok {
			continue
		}
		// Near 0 r is a difference of sums: compare absolutely there, relatively elsewhere.
		scale := math.Max(math.Abs(*c.Want), 1e-3)
		if e := math.Abs(got-*c.Want) / scale; e > refTol {
			t.Errorf("%s: r = %.17g, want %.17g", c.Name, got, *c.Want)
		} else {
			worst = max(worst, e)
		}
	}
	t.Logf("largest relative error %.2g", worst)
}

func TestReference_AR1GramMatchesToeplitzProduct(t *testing.T) {
	var worst float64
	for _, c := range loadReference(t).AR1Gram {
		name := fmt.Sprintf("n = %d, ν = %d, ρ = %v", c.N, c.Nu, c.Rho)
		g := ar1Gram(c.N, c.Nu, c.Rho)
		if r, _ := g.Dims(); r != len(c.Want) {
			t.Fatalf("%s: %d rows, want %d", name, r, len(c.Want))
		}
		// Most off-diagonal covariances are 0 (or nearly): measure each entry against the scale of
		// its row and column, √(Gᵢᵢ·Gⱼⱼ).
		for i, row := range c.Want {
			for j, w := range row {
				e := math.Abs(g.At(i, j)-w) / math.Sqrt(c.Want[i][i]*c.Want[j][j])
				if e > refTol {
					t.Errorf("%s: G[%d][%d] = %.17g, want %.17g", name, i, j, g.At(i, j), w)
				}
				worst = max(worst, e)
			}
		}
	}
	t.Logf("largest error relative to √(GᵢᵢGⱼⱼ) %.2g", worst)
}

// quantileTol is the agreement asked of exactQuantile: its root finder stops once log P is within
// 1e-7 of log level, which moves c by 1e-7/|d log P/d log c|, less than 1e-7 because P falls
// faster than 1/c at these levels (the Imhof reference itself is good to 1e-10).
const quantileTol = 1e-7

func TestReference_ExactQuantileMatchesImhofAndMonteCarlo(t *testing.T) {
	var worst, worstStudent, worstFormula, worstZ float64
	for _, c := range loadReference(t).ExactQuantile {
		name := fmt.Sprintf("n = %d, ν = %d, ρ = %v, level %v", c.N, c.Nu, c.Rho, c.Level)
		got := exactQuantile(c.N, c.Nu, c.Level, c.Rho)
		worst = max(worst, agree(t, name, "exact quantile against Imhof", got, c.Want.Imhof, quantileTol))
		if c.Want.StudentMpmath != nil { // independent values: Student's t with ν df
			worstStudent = max(worstStudent, agree(t, name, "exact quantile against Student (mpmath)", got, *c.Want.StudentMpmath, quantileTol),
				agree(t, name, "exact quantile against Student (scipy)", got, *c.Want.Student, quantileTol))
		}
		worstFormula = max(worstFormula, agree(t, name, "Satterthwaite quantile", ar1Stretch(c.N, c.Nu, c.Rho).quantile(c.Level), c.Want.Satterthwaite, refTol))
		if mc := c.MonteCarlo; mc != nil {
			// The simulation must agree with the Imhof reference, and so with exactQuantile, within
			// four standard errors.
			zp := (mc.Exceedance - c.Level) / mc.ExceedanceSE
			zq := (mc.Quantile - got) / mc.QuantileSE
			if math.Abs(zp) > 4 || math.Abs(zq) > 4 {
				t.Errorf("%s: Monte Carlo (%d draws) exceeds c %.6g of the time (%+.1f se), quantile %.6g against %.6g (%+.1f se)",
					name, mc.Draws, mc.Exceedance, zp, mc.Quantile, got, zq)
			}
			worstZ = max(worstZ, math.Abs(zp), math.Abs(zq))
			t.Logf("%s: c = %.8g; Monte Carlo quantile %.6g ± %.2g, P(|T| > c) = %.6g ± %.2g", name, got, mc.Quantile, mc.QuantileSE, mc.Exceedance, mc.ExceedanceSE)
		}
	}
	t.Logf("largest relative error against Imhof %.2g, against Student's t (ρ = 0) %.2g, of ar1Stretch against its formula %.2g; Monte Carlo within %.2f se",
		worst, worstStudent, worstFormula, worstZ)
}

// fallbackTol is the "fraction of a percent" criticalValue's doc promises between the exact
// quantile and Satterthwaite's beyond exactUpTo values.
const fallbackTol = 0.005

func TestReference_SatterthwaiteFallbackWithinHalfPercentOfExact(t *testing.T) {
	var worst, worstExact, worstFormula float64
	for _, c := range loadReference(t).Satterthwaite {
		name := fmt.Sprintf("n = %d, ν = %d, ρ = %v, level %v", c.N, c.Nu, c.Rho, c.Level)
		if c.N <= exactUpTo {
			t.Fatalf("%s: not beyond exactUpTo = %d, where the fallback is used", name, exactUpTo)
		}
		got := ar1Stretch(c.N, c.Nu, c.Rho).quantile(c.Level)
		worst = max(worst, agree(t, name, "Satterthwaite against Imhof", got, c.Want.Imhof, fallbackTol))
		worstFormula = max(worstFormula, agree(t, name, "Satterthwaite quantile", got, c.Want.Satterthwaite, refTol))
		worstExact = max(worstExact, agree(t, name, "exact quantile against Imhof", exactQuantile(c.N, c.Nu, c.Level, c.Rho), c.Want.Imhof, quantileTol))
	}
	t.Logf("Satterthwaite's fallback is within %.2g of Imhof (at most %.2g allowed); against its own formula %.2g; exactQuantile against Imhof %.2g",
		worst, fallbackTol, worstFormula, worstExact)
}
