package analysis

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"
)

// ar1Series fills xs with a stationary Gaussian AR(1) of lag-1 rho and unit variance.
func ar1Series(xs []float64, rho float64, r *rand.Rand) {
	x := r.NormFloat64()
	for i := range xs {
		if i > 0 {
			x = rho*x + math.Sqrt(1-rho*rho)*r.NormFloat64()
		}
		xs[i] = x
	}
}

// For independent values the EWC statistic is Student's t with ν degrees of freedom exactly, so
// Imhof's integral must give Student's tail there: the check of the integration itself.
func TestExceedance_MatchesStudentWhenIndependent(t *testing.T) {
	for _, c := range []struct{ n, nu int }{{3, 2}, {6, 5}, {12, 11}, {48, 30}, {200, 30}} {
		var chol mat.Cholesky
		if !chol.Factorize(ar1Gram(c.n, c.nu, 0)) {
			t.Fatalf("n = %d: Gram matrix not positive definite", c.n)
		}
		var l mat.TriDense
		chol.LTo(&l)
		for _, q := range []float64{1, 2.5, 6, 15} {
			want := 2 * distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(c.nu)}.Survival(q)
			got := exceedance(&l, c.nu, q)
			if math.Abs(got-want) > 1e-9 {
				t.Errorf("n = %d, ν = %d: P(|T| > %g) = %.12g, Student %.12g", c.n, c.nu, q, got, want)
			}
		}
	}
}

// The autocorrelation bound misses the true lag-1 at most as often as it may: the Berger–Boos
// argument rests on it. Simulated at n = 12 to 240 and lag-1 0 to 0.9; the bound is checked at
// β = 5% (5,000 series: a miss rate above 5.9% fails).
func TestLag1Bounds_MissAtMostBeta(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	const runs, beta = 5000, 0.05
	limit := beta + 3*math.Sqrt(beta*(1-beta)/runs)
	for _, n := range []int{12, 24, 48, 240} {
		xs := make([]float64, n)
		for _, rho := range []float64{0, 0.5, 0.8, 0.9} {
			miss := 0
			for range runs {
				ar1Series(xs, rho, r)
				lag, _ := Lag1Autocorrelation(xs)
				if _, hi := lag1Bounds(lag, n, beta); float64(hi)/100 < rho-1e-9 {
					miss++
				}
			}
			if rate := float64(miss) / runs; rate > limit {
				t.Errorf("n = %d, ρ = %.1f: the upper bound misses in %.2f%% of series, more than β = %g", n, rho, 100*rate, beta)
			}
		}
	}
	if lo, _ := lag1Bounds(0.99, 500, 0.01); lo != 100 {
		t.Errorf("a lag-1 of 0.99 over 500 values is beyond MaxLag1: lower bound %d", lo)
	}
}

// The interval holds its level under autocorrelation up to MaxLag1: a seeded simulation of the
// miss rate (4,000 series per case; the full table is in docs/analysis.md).
func TestMeanInterval_HoldsItsLevelUnderAutocorrelation(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	r := rand.New(rand.NewPCG(7, 8))
	cache := NewCache()
	const runs, level = 4000, 0.05
	limit := level + 3*math.Sqrt(level*(1-level)/runs)
	for _, n := range []int{12, 48} {
		xs := make([]float64, n)
		for _, rho := range []float64{0, 0.5, 0.9} {
			miss := 0
			for range runs {
				ar1Series(xs, rho, r)
				iv, err := MeanInterval(xs, level, cache)
				if err != nil {
					t.Fatal(err)
				}
				if !iv.Drifting && (iv.Low > 0 || iv.High < 0) {
					miss++
				}
			}
			if rate := float64(miss) / runs; rate > limit {
				t.Errorf("n = %d, ρ = %.1f: the interval missed in %.2f%% of runs, more than %g%%", n, rho, 100*rate, 100*level)
			}
		}
	}
}

func TestMeanInterval_EdgeCases(t *testing.T) {
	if _, err := MeanInterval([]float64{1, 2}, 0.05, nil); !errors.Is(err, ErrTooFewSamples) {
		t.Errorf("two values: %v", err)
	}
	if _, err := MeanInterval([]float64{1, 2, 3}, 1, nil); !errors.Is(err, ErrParameter) {
		t.Errorf("level 1: %v", err)
	}
	if _, err := MeanInterval([]float64{1, math.NaN(), 3}, 0.05, nil); !errors.Is(err, ErrNonFinite) {
		t.Errorf("NaN: %v", err)
	}
	iv, err := MeanInterval([]float64{-0.2, -0.2, -0.2, -0.2}, 0.05, nil)
	if err != nil || !iv.Exact || iv.Low != -0.2 || iv.High != -0.2 {
		t.Errorf("equal values: %+v %v", iv, err)
	}
	trend := make([]float64, 400)
	for i := range trend {
		trend[i] = float64(i) + math.Sin(float64(i))
	}
	if iv, err := MeanInterval(trend, 0.05, nil); err != nil || !iv.Drifting || !math.IsInf(iv.High, 1) {
		t.Errorf("a trend: %+v %v", iv, err)
	}
	// Independent values, long enough that the bound is low: close to Student's interval.
	r := rand.New(rand.NewPCG(3, 4))
	xs := make([]float64, 240)
	ar1Series(xs, 0, r)
	iv, err = MeanInterval(xs, 0.05, nil)
	if err != nil {
		t.Fatal(err)
	}
	student := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: 30}.Quantile(1 - 0.05*(1-boundShare)/2)
	if iv.Terms != 30 || iv.Stretch < 1 || iv.Stretch > 1.3 || math.Abs(iv.Critical/iv.Stretch-student) > 1e-9 || iv.EffectiveN > 240 {
		t.Errorf("independent values: %+v (Student %g)", iv, student)
	}
}

func TestLongRunVariance_Refuses(t *testing.T) {
	for _, nu := range []int{0, 3, 31} {
		if _, _, err := LongRunVariance([]float64{1, 2, 3}, nu); !errors.Is(err, ErrParameter) {
			t.Errorf("ν = %d over 3 values: %v", nu, err)
		}
	}
	if CosineTerms(2) != 1 || CosineTerms(12) != 11 || CosineTerms(1000) != MaxCosineTerms || CosineTerms(0) != 0 {
		t.Error("CosineTerms")
	}
}

// worstCritical rests on two facts: the critical value grows with the lag-1 autocorrelation, and
// once ν is fixed (n > 31) it falls as the series grows. Checked on the grid worstCritical uses.
func TestCriticalValue_GrowsWithLag1AndFallsWithLength(t *testing.T) {
	for _, level := range []float64{1e-4, 0.01, 0.05} {
		for _, n := range []int{3, 4, 6, 12, 24, 31, 48, 64, 128} {
			prev := 0.0
			for rho := 0; rho <= 90; rho += 5 {
				c := criticalValue(n, CosineTerms(n), rho, level)
				if c < prev-1e-9 {
					t.Errorf("n = %d, level %g: %g at lag-1 %.2f, below %g at the one before", n, level, c, float64(rho)/100, prev)
				}
				prev = c
			}
		}
		for _, rho := range []int{0, 50, 90} {
			prev := math.Inf(1)
			for n := 32; n <= 160; n = criticalGrid(n+n/8) + 1 {
				c := criticalValue(n, MaxCosineTerms, rho, level)
				if c > prev+1e-9 {
					t.Errorf("lag-1 %.2f, level %g: %g at n = %d, above %g at the shorter length before", float64(rho)/100, level, c, n, prev)
				}
				prev = c
			}
		}
	}
	if criticalGrid(64) != 64 || criticalGrid(67) != 64 || criticalGrid(68) != 68 || criticalGrid(1000) > 1000 || criticalGrid(1000) < 940 {
		t.Errorf("grid: %d %d %d %d", criticalGrid(64), criticalGrid(67), criticalGrid(68), criticalGrid(1000))
	}
}
