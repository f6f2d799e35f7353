package analysis

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// dyadic returns n values that are multiples of 2⁻⁸ below 2¹², so that
// adding 2²⁰ or multiplying by 8 is exact and every difference is exact.
func dyadic(r *rand.Rand, n int, mean, sd float64) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = math.Round((mean+sd*r.NormFloat64())*256) / 256
	}
	return xs
}

func transformed(xs []float64, f func(float64) float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

func near(a, b, tol float64) bool {
	return math.Abs(a-b) <= tol*math.Max(math.Abs(a), math.Abs(b)) || a == b
}

// The properties that make "candidate minus baseline" trustworthy: swapping the samples
// mirrors every statistic, a common shift changes nothing, a common positive scale scales the
// differences and their intervals and nothing else.
func TestWelch_Properties(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for trial := range 50 {
		a := dyadic(r, 3+r.IntN(200), 100, 1+r.Float64()*20)
		b := dyadic(r, 3+r.IntN(200), 100+r.NormFloat64()*5, 1+r.Float64()*20)
		conf := []float64{0.9, 0.95, 0.99}[trial%3]
		w, err := WelchTTest(a, b, conf)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := WelchTTest(b, a, conf)
		if s.T != -w.T || s.DF != w.DF || s.P != w.P || s.Diff != -w.Diff || !near(s.CILow, -w.CIHigh, 1e-15) || !near(s.CIHigh, -w.CILow, 1e-15) {
			t.Fatalf("swap: %+v vs %+v", s, w)
		}
		const c = 1 << 20
		sh, _ := WelchTTest(transformed(a, func(x float64) float64 { return x + c }), transformed(b, func(x float64) float64 { return x + c }), conf)
		// The data shift exactly; the means are rounded near 2²⁰, so the
		// difference keeps about 1e-16·2²⁰ absolute accuracy.
		tol := 1e-9
		if !near(sh.Diff, w.Diff, tol) || !near(sh.T, w.T, tol) || !near(sh.P, w.P, 1e-7) || !near(sh.DF, w.DF, tol) || !near(sh.CILow, w.CILow, 1e-7) {
			t.Fatalf("shift: %+v vs %+v", sh, w)
		}
		for _, k := range []float64{8, 3.7, 1e-6} {
			sc, _ := WelchTTest(transformed(a, func(x float64) float64 { return x * k }), transformed(b, func(x float64) float64 { return x * k }), conf)
			if !near(sc.T, w.T, 1e-12) || !near(sc.P, w.P, 1e-10) || !near(sc.DF, w.DF, 1e-12) ||
				!near(sc.Diff, k*w.Diff, 1e-12) || !near(sc.CILow, k*w.CILow, 1e-12) || !near(sc.CIHigh, k*w.CIHigh, 1e-12) || !near(sc.RelChange, w.RelChange, 1e-12) {
				t.Fatalf("scale %v: %+v vs %+v", k, sc, w)
			}
		}
	}
}

func TestMannWhitney_Properties(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for trial := range 40 {
		// Sizes up to 400 × 300 pass through the sampling selection;
		// coarse rounding in some trials makes ties.
		n1, n2 := 2+r.IntN(400), 2+r.IntN(300)
		sd := []float64{0.01, 1, 30}[trial%3]
		a := dyadic(r, n1, 50, sd)
		b := dyadic(r, n2, 50+r.NormFloat64()*sd, sd)
		conf := []float64{0.9, 0.95}[trial%2]
		u, err := MannWhitneyU(a, b, conf)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := MannWhitneyU(b, a, conf)
		if s.U != float64(n1*n2)-u.U || s.Z != -u.Z || s.P != u.P || s.Shift != -u.Shift || s.ShiftLow != -u.ShiftHigh || s.ShiftHigh != -u.ShiftLow || s.Exact != u.Exact {
			t.Fatalf("swap: %+v vs %+v", s, u)
		}
		const c = 1 << 20
		sh, _ := MannWhitneyU(transformed(a, func(x float64) float64 { return x + c }), transformed(b, func(x float64) float64 { return x + c }), conf)
		if sh.U != u.U || sh.P != u.P || sh.Shift != u.Shift || sh.ShiftLow != u.ShiftLow || sh.ShiftHigh != u.ShiftHigh || sh.Coverage != u.Coverage {
			t.Fatalf("shift: %+v vs %+v", sh, u)
		}
		sc, _ := MannWhitneyU(transformed(a, func(x float64) float64 { return x * 8 }), transformed(b, func(x float64) float64 { return x * 8 }), conf)
		if sc.U != u.U || sc.P != u.P || sc.Shift != 8*u.Shift || sc.ShiftLow != 8*u.ShiftLow || sc.ShiftHigh != 8*u.ShiftHigh || sc.RelShift != u.RelShift {
			t.Fatalf("scale 8: %+v vs %+v", sc, u)
		}
		// Scaling by 3.7 rounds every value, so each difference carries an
		// error of a few ulps of the values, not of the difference.
		k := 3.7
		abs := 4 * 0x1p-52 * k * 200
		sc, _ = MannWhitneyU(transformed(a, func(x float64) float64 { return x * k }), transformed(b, func(x float64) float64 { return x * k }), conf)
		if sc.U != u.U || sc.P != u.P || math.Abs(sc.Shift-k*u.Shift) > abs || math.Abs(sc.ShiftLow-k*u.ShiftLow) > abs || math.Abs(sc.ShiftHigh-k*u.ShiftHigh) > abs {
			t.Fatalf("scale %v: %+v vs %+v", k, sc, u)
		}
		if !(u.ShiftLow <= u.Shift && u.Shift <= u.ShiftHigh) {
			t.Fatalf("shift %v outside its interval [%v, %v]", u.Shift, u.ShiftLow, u.ShiftHigh)
		}
	}
}

func TestMannWhitney_Errors(t *testing.T) {
	ok := []float64{1, 2, 3}
	tests := []struct {
		name                string
		baseline, candidate []float64
		confidence          float64
		want                error
	}{
		{"one baseline value", []float64{1}, ok, 0.95, ErrTooFewSamples},
		{"no candidate values", ok, nil, 0.95, ErrTooFewSamples},
		{"NaN", []float64{1, math.NaN()}, ok, 0.95, ErrNonFinite},
		{"Inf", ok, []float64{math.Inf(-1), 2}, 0.95, ErrNonFinite},
		{"differences overflow", []float64{-1.7e308, 0}, []float64{1.7e308, 0}, 0.95, ErrNonFinite},
		{"all equal", []float64{4, 4, 4}, []float64{4, 4}, 0.95, ErrZeroVariance},
		{"confidence 1", ok, ok, 1, ErrConfidence},
		{"confidence NaN", ok, ok, math.NaN(), ErrConfidence},
	}
	for _, tt := range tests {
		if _, err := MannWhitneyU(tt.baseline, tt.candidate, tt.confidence); !errorsIs(err, tt.want) {
			t.Errorf("%s: error %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestUFrequencies_AreTheNullDistribution(t *testing.T) {
	for _, sz := range [][2]int{{1, 1}, {1, 7}, {3, 4}, {4, 3}, {8, 8}, {5, 30}, {50, 50}} {
		f := uFrequencies(sz[0], sz[1])
		if len(f) != sz[0]*sz[1]+1 {
			t.Fatalf("%v: %d frequencies", sz, len(f))
		}
		total := 0.0
		for u := range f {
			total += f[u]
			if f[u] != f[len(f)-1-u] {
				t.Fatalf("%v: not symmetric at %d", sz, u)
			}
		}
		want := math.Round(math.Exp(lchoose(sz[0]+sz[1], sz[0])))
		if !near(total, want, 1e-12) {
			t.Errorf("%v: total %v, want C(n1+n2, n1) = %v", sz, total, want)
		}
	}
	// 3 and 4 untied values: the 35 arrangements by U (Mann & Whitney 1947, table I).
	want := []float64{1, 1, 2, 3, 4, 4, 5, 4, 4, 3, 2, 1, 1}
	for u, f := range uFrequencies(3, 4) {
		if f != want[u] {
			t.Fatalf("f(%d) = %v, want %v", u, f, want[u])
		}
	}
}

func lchoose(n, k int) float64 {
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(k + 1))
	c, _ := math.Lgamma(float64(n - k + 1))
	return a - b - c
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
