package analysis

import (
	"errors"
	"math"
	"testing"
)

// Reference values come from testdata/reference.py (numpy 1.24.2, scipy
// 1.10.1, mpmath 1.2.1); the call that produced each one is quoted beside it.
// "exact" means Fraction arithmetic on the float64 inputs, rounded once.

// relTol is the relative tolerance for comparisons with reference values.
const relTol = 1e-9

// within reports whether got agrees with want to relative tolerance tol (or
// absolute tolerance tol when want is zero).
func within(got, want, tol float64) bool {
	if want == 0 {
		return math.Abs(got) <= tol
	}
	return math.Abs(got-want) <= tol*math.Abs(want)
}

func scaled(xs []float64, k float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = x * k
	}
	return out
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		name     string
		xs       []float64
		mean     float64
		variance float64
		tol      float64
	}{
		{
			name: "textbook",
			xs:   textbookA,
			// exact: float(sum(Fraction(x) for x in xs)/15) and the exact
			// rational variance; numpy gives np.mean = 20.819999999999997,
			// np.var(xs, ddof=1) = 7.867428571428571.
			mean: 20.82, variance: 7.867428571428573,
			tol: 1e-14,
		},
		{
			// 1e9 plus unit noise that is not exact in binary. The naive
			// one-pass (Σx² − n·x̄²)/(n−1) gives -227.55555555555554 here
			// (reference.py, "naive one-pass var"): every digit cancels.
			name: "offset 1e9 plus unit noise",
			xs: []float64{1e9 + 0.1, 1e9 - 0.7, 1e9 + 0.3, 1e9 + 1.9, 1e9 - 1.3,
				1e9 + 0.6, 1e9 - 0.2, 1e9 + 0.8, 1e9 - 0.4, 1e9 + 1.1},
			// exact; np.var(xs, ddof=1) = 0.8684444293975859.
			mean: 1000000000.22, variance: 0.8684444293975845,
			tol: 1e-14,
		},
		{
			// Neumaier's example: Kahan summation returns 0 for this sum.
			// np.mean(xs) = 0.0; exact mean 0.5.
			name: "compensation across 1e100",
			xs:   []float64{1.0, 1e100, 1.0, -1e100},
			mean: 0.5, variance: 6.666666666666667e+199,
			tol: 1e-15,
		},
		{
			name: "scale 1e-90",
			xs:   scaled(textbookA, 1e-90),
			mean: 20.82e-90, variance: 7.867428571428573e-180,
			tol: 1e-14,
		},
		{
			name: "constant",
			xs:   []float64{3.25, 3.25, 3.25},
			mean: 3.25, variance: 0,
		},
		{
			name: "two observations",
			xs:   []float64{-1, 2},
			mean: 0.5, variance: 4.5,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Summarize(tt.xs)
			if err != nil {
				t.Fatalf("Summarize: %v", err)
			}
			if got.N != len(tt.xs) {
				t.Errorf("N = %d, want %d", got.N, len(tt.xs))
			}
			if !within(got.Mean, tt.mean, tt.tol) {
				t.Errorf("Mean = %.17g, want %.17g (rel tol %g)", got.Mean, tt.mean, tt.tol)
			}
			if !within(got.Variance, tt.variance, tt.tol) {
				t.Errorf("Variance = %.17g, want %.17g (rel tol %g)", got.Variance, tt.variance, tt.tol)
			}
		})
	}
}

func TestSummarize_Errors(t *testing.T) {
	tests := []struct {
		name string
		xs   []float64
		want error
	}{
		{"nil", nil, ErrTooFewSamples},
		{"one observation", []float64{1}, ErrTooFewSamples},
		{"NaN", []float64{1, math.NaN(), 3}, ErrNonFinite},
		{"+Inf", []float64{1, 2, math.Inf(1)}, ErrNonFinite},
		{"-Inf", []float64{math.Inf(-1), 2}, ErrNonFinite},
		{"+Inf and -Inf", []float64{math.Inf(1), math.Inf(-1)}, ErrNonFinite},
		{"sum overflows", []float64{math.MaxFloat64, math.MaxFloat64}, ErrNonFinite},
		{"variance overflows", []float64{-1e200, 1e200}, ErrNonFinite},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Summarize(tt.xs)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Summarize error = %v, want errors.Is %v", err, tt.want)
			}
			if got != (Summary{}) {
				t.Errorf("Summarize returned %+v with an error, want the zero Summary", got)
			}
		})
	}
}

func TestSummarize_DoesNotAllocate(t *testing.T) {
	xs := textbookA
	if n := testing.AllocsPerRun(100, func() { _, _ = Summarize(xs) }); n != 0 {
		t.Errorf("Summarize allocates %v times per call, want 0", n)
	}
}
