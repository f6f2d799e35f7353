package analysis

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// Data sets shared with testdata/reference.py, which prints every reference
// value below. In the comments a = baseline and b = candidate as numpy
// arrays, n1 = len(a), n2 = len(b), and
//
//	r      = scipy.stats.ttest_ind(b, a, equal_var=False)  # T = r.statistic, P = r.pvalue
//	v1, v2 = np.var(a, ddof=1), np.var(b, ddof=1)           # Var1, Var2
//	df, se = scipy.stats._stats_py._unequal_var_ttest_denom(v1, n1, v2, n2)  # DF, StdErr
//	diff   = np.mean(b) - np.mean(a)                        # Diff
//	q      = scipy.stats.t.isf((1 - conf) / 2, df)          # CILow, CIHigh = diff ∓ q*se
//	rel    = diff / abs(np.mean(a))                         # RelChange
//	g      = (1 - 3/(4*(n1+n2) - 9)) * diff / np.sqrt(((n1-1)*v1 + (n2-1)*v2) / (n1+n2-2))  # HedgesG
//
// reference.py also evaluates T, DF, P, Diff and StdErr with mpmath at 50
// digits on the exact inputs; scipy agrees with it to better than 2e-14 on
// every case here.
var (
	// textbookA and textbookB are a textbook-sized pair, 15 observations each.
	textbookA = []float64{27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4}
	textbookB = []float64{27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4}

	// offsetA and offsetB are 1e9 plus eighths: every value, sum and mean is
	// exact in float64, so scipy's results are exact to rounding while a
	// naive sum of squares (~8e18, ulp 1024) has no correct digit.
	offsetA = []float64{1e9 + 0.125, 1e9 - 0.5, 1e9 + 0.75, 1e9 + 1.25, 1e9 - 1.0, 1e9 + 0.375, 1e9 - 0.25, 1e9 + 0.5}
	offsetB = []float64{1e9 + 1.5, 1e9 + 0.625, 1e9 + 2.25, 1e9 + 1.125, 1e9 + 0.0, 1e9 + 1.875, 1e9 + 2.5, 1e9 + 0.75}

	// tailA and tailB are ~70 standard errors apart: P ≈ 6.8e-27.
	tailA = []float64{100.2, 99.1, 101.3, 100.7, 99.8, 100.4, 98.9, 100.9, 99.5, 100.1, 99.7, 100.6}
	tailB = []float64{80.3, 79.9, 81.1, 80.6, 79.5, 80.8, 81.4, 80.0, 79.7, 80.9, 80.2, 81.0}
)

// textbookWant is the scipy reference for WelchTTest(textbookA, textbookB, 0.95).
var textbookWant = Welch{
	N1: 15, N2: 15,
	Mean1: 20.819999999999997, Mean2: 22.986666666666665, // np.mean(a), np.mean(b)
	Var1: 7.867428571428571, Var2: 3.8126666666666686,
	Diff:       2.166666666666668,
	StdErr:     0.8824245100137552,
	T:          2.455356398286006,
	DF:         24.988529290231416,
	P:          0.021378001462866985,
	Confidence: 0.95,
	CILow:      0.34923706619240935, CIHigh: 3.9840962671409264,
	RelDefined: true,
	RelChange:  0.10406660262568052,
	HedgesG:    0.872337785549763,
}

func TestWelchTTest_MatchesScipy(t *testing.T) {
	tests := []struct {
		name                string
		baseline, candidate []float64
		confidence          float64
		want                Welch
	}{
		{
			name:     "textbook",
			baseline: textbookA, candidate: textbookB, confidence: 0.95,
			want: textbookWant,
		},
		{
			name:     "offset 1e9 plus small noise",
			baseline: offsetA, candidate: offsetB, confidence: 0.95,
			want: Welch{
				N1: 8, N2: 8,
				Mean1: 1000000000.15625, Mean2: 1000000001.328125,
				Var1: 0.5212053571428571, Var2: 0.7407924107142857,
				Diff:       1.171875,
				StdErr:     0.39717719091375686,
				T:          2.9505093112319765,
				DF:         13.588593824385354,
				P:          0.010818399249460913,
				Confidence: 0.95,
				CILow:      0.31758868193155654, CIHigh: 2.0261613180684437,
				RelDefined: true,
				RelChange:  1.1718749998168946e-09,
				HedgesG:    1.3947862198551162,
			},
		},
		{
			// P is far below what 1 − CDF can represent; scipy's t.sf uses
			// the incomplete beta too, and mpmath agrees to 1.6e-14.
			name:     "deep tail, candidate far lower",
			baseline: tailA, candidate: tailB, confidence: 0.99,
			want: Welch{
				N1: 12, N2: 12,
				Mean1: 100.09999999999998, Mean2: 80.45,
				Var1: 0.530909090909091, Var2: 0.36636363636363584,
				Diff:       -19.649999999999977,
				StdErr:     0.2734460225944551,
				T:          -71.86061736631177,
				DF:         21.284218366718637,
				P:          6.823295838147397e-27,
				Confidence: 0.99,
				CILow:      -20.42320870054169, CIHigh: -18.876791299458265,
				RelDefined: true,
				RelChange:  -0.19630369630369612,
				HedgesG:    -28.32535439176855,
			},
		},
		{
			// The textbook pair swapped: the candidate is lower.
			name:     "sign convention, candidate lower",
			baseline: textbookB, candidate: textbookA, confidence: 0.90,
			want: Welch{
				N1: 15, N2: 15,
				Mean1: 22.986666666666665, Mean2: 20.819999999999997,
				Var1: 3.8126666666666686, Var2: 7.867428571428571,
				Diff:       -2.166666666666668,
				StdErr:     0.8824245100137552,
				T:          -2.455356398286006,
				DF:         24.988529290231416,
				P:          0.021378001462866985,
				Confidence: 0.90,
				CILow:      -3.6739985497503, CIHigh: -0.6593347835830357,
				RelDefined: true,
				RelChange:  -0.09425754060324831,
				HedgesG:    -0.872337785549763,
			},
		},
		{
			// The quantile is taken from the lower tail so that a level
			// this close to 1 keeps its precision.
			name:     "confidence 0.999999",
			baseline: textbookA, candidate: textbookB, confidence: 0.999999,
			want: func() Welch {
				w := textbookWant
				w.Confidence = 0.999999
				w.CILow, w.CIHigh = -3.5029285085634703, 7.836261841896806
				return w
			}(),
		},
		{
			// scipy cannot produce this one: on the scaled data the squares
			// in its DF formula underflow, DF becomes NaN and is silently
			// replaced by 1, so ttest_ind(b*1e-90, a*1e-90, equal_var=False)
			// returns pvalue=0.2462192606441878. The test is scale
			// invariant, so the reference is the textbook case with Mean,
			// Diff, StdErr and CI scaled by 1e-90 and Var by 1e-180.
			name:     "scale 1e-90",
			baseline: scaled(textbookA, 1e-90), candidate: scaled(textbookB, 1e-90), confidence: 0.95,
			want: func() Welch {
				w := textbookWant
				w.Mean1, w.Mean2 = w.Mean1*1e-90, w.Mean2*1e-90
				w.Var1, w.Var2 = w.Var1*1e-180, w.Var2*1e-180
				w.Diff, w.StdErr = w.Diff*1e-90, w.StdErr*1e-90
				w.CILow, w.CIHigh = w.CILow*1e-90, w.CIHigh*1e-90
				return w
			}(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := WelchTTest(tt.baseline, tt.candidate, tt.confidence)
			if err != nil {
				t.Fatalf("WelchTTest: %v", err)
			}
			checkWelch(t, got, tt.want)
		})
	}
}

// checkWelch compares got with a reference to relTol. The relative interval
// is not in the reference; it is checked as CI / |Mean1|.
func checkWelch(t *testing.T, got, want Welch) {
	t.Helper()
	if got.N1 != want.N1 || got.N2 != want.N2 {
		t.Errorf("N1, N2 = %d, %d, want %d, %d", got.N1, got.N2, want.N1, want.N2)
	}
	if got.RelDefined != want.RelDefined {
		t.Errorf("RelDefined = %v, want %v", got.RelDefined, want.RelDefined)
	}
	m := math.Abs(want.Mean1)
	for _, f := range []struct {
		name      string
		got, want float64
	}{
		{"Mean1", got.Mean1, want.Mean1},
		{"Mean2", got.Mean2, want.Mean2},
		{"Var1", got.Var1, want.Var1},
		{"Var2", got.Var2, want.Var2},
		{"Diff", got.Diff, want.Diff},
		{"StdErr", got.StdErr, want.StdErr},
		{"T", got.T, want.T},
		{"DF", got.DF, want.DF},
		{"P", got.P, want.P},
		{"Confidence", got.Confidence, want.Confidence},
		{"CILow", got.CILow, want.CILow},
		{"CIHigh", got.CIHigh, want.CIHigh},
		{"RelChange", got.RelChange, want.RelChange},
		{"RelLow", got.RelLow, want.CILow / m},
		{"RelHigh", got.RelHigh, want.CIHigh / m},
		{"HedgesG", got.HedgesG, want.HedgesG},
	} {
		if !within(f.got, f.want, relTol) {
			t.Errorf("%s = %.17g, want %.17g (rel err %.2g)", f.name, f.got, f.want, math.Abs(f.got-f.want)/math.Abs(f.want))
		}
	}
}

func TestWelchTTest_DeepTailKeepsRelativeAccuracy(t *testing.T) {
	got, err := WelchTTest(tailA, tailB, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	// scipy: ttest_ind(tailB, tailA, equal_var=False).pvalue; mpmath
	// betainc at 50 digits agrees to 1.6e-14.
	const want = 6.823295838147397e-27
	if got.P >= 1e-20 || !within(got.P, want, relTol) {
		t.Errorf("P = %g, want %g to relative %g", got.P, want, relTol)
	}
}

func TestWelchTTest_SignConvention(t *testing.T) {
	lower := []float64{9, 10, 11, 10, 9.5}
	higher := []float64{12, 13, 11.5, 12.5, 13}
	tests := []struct {
		name                string
		baseline, candidate []float64
		wantSign            float64
	}{
		{"candidate lower", higher, lower, -1},
		{"candidate higher", lower, higher, +1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := WelchTTest(tt.baseline, tt.candidate, 0.95)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range []struct {
				name string
				v    float64
			}{
				{"Diff", w.Diff}, {"T", w.T}, {"CILow", w.CILow}, {"CIHigh", w.CIHigh},
				{"RelChange", w.RelChange}, {"RelLow", w.RelLow}, {"RelHigh", w.RelHigh}, {"HedgesG", w.HedgesG},
			} {
				if math.Copysign(1, f.v) != tt.wantSign || f.v == 0 {
					t.Errorf("%s = %g, want sign %+g", f.name, f.v, tt.wantSign)
				}
			}
			if w.Diff != w.Mean2-w.Mean1 {
				t.Errorf("Diff = %g, want Mean2 − Mean1 = %g", w.Diff, w.Mean2-w.Mean1)
			}
		})
	}
}

func TestWelchTTest_Errors(t *testing.T) {
	ok := []float64{1, 2, 3}
	tests := []struct {
		name                string
		baseline, candidate []float64
		confidence          float64
		want                error
	}{
		{"baseline empty", nil, ok, 0.95, ErrTooFewSamples},
		{"baseline one observation", []float64{1}, ok, 0.95, ErrTooFewSamples},
		{"candidate one observation", ok, []float64{1}, 0.95, ErrTooFewSamples},
		{"baseline NaN", []float64{1, math.NaN()}, ok, 0.95, ErrNonFinite},
		{"candidate +Inf", ok, []float64{1, math.Inf(1)}, 0.95, ErrNonFinite},
		{"candidate -Inf", ok, []float64{math.Inf(-1), 1}, 0.95, ErrNonFinite},
		{"difference overflows", []float64{-1.7e308, -1.7e308 + 1e292}, []float64{1.7e308, 1.7e308 - 1e292}, 0.95, ErrNonFinite},
		{"both constant and equal", []float64{5, 5, 5}, []float64{5, 5}, 0.95, ErrZeroVariance},
		{"both constant and different", []float64{5, 5, 5}, []float64{6, 6}, 0.95, ErrZeroVariance},
		{"confidence 0", ok, ok, 0, ErrConfidence},
		{"confidence 1", ok, ok, 1, ErrConfidence},
		{"confidence negative", ok, ok, -0.5, ErrConfidence},
		{"confidence above 1", ok, ok, 95, ErrConfidence},
		{"confidence NaN", ok, ok, math.NaN(), ErrConfidence},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := WelchTTest(tt.baseline, tt.candidate, tt.confidence)
			if !errors.Is(err, tt.want) {
				t.Fatalf("WelchTTest error = %v, want errors.Is %v", err, tt.want)
			}
			if got != (Welch{}) {
				t.Errorf("WelchTTest returned %+v with an error, want the zero Welch", got)
			}
		})
	}
}

func TestWelchTTest_ZeroBaselineMeanLeavesRelativeChangeUndefined(t *testing.T) {
	w, err := WelchTTest([]float64{-1, 1, -2, 2}, []float64{1, 2, 3}, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	if w.RelDefined || w.RelChange != 0 || w.RelLow != 0 || w.RelHigh != 0 {
		t.Errorf("RelDefined, RelChange, RelLow, RelHigh = %v, %g, %g, %g; want false, 0, 0, 0",
			w.RelDefined, w.RelChange, w.RelLow, w.RelHigh)
	}
	if w.Diff != 2 {
		t.Errorf("Diff = %g, want 2", w.Diff)
	}
}

func TestWelchTTest_NegativeBaselineMeanKeepsSign(t *testing.T) {
	// Diff > 0 with Mean1 = -2: RelChange is Diff/|Mean1| = +0.5, inside its interval.
	w, err := WelchTTest([]float64{-3, -1, -2, -2}, []float64{-1, -0.5, -1.5, -1}, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	if !w.RelDefined || w.RelChange != 0.5 || w.RelLow > w.RelChange || w.RelHigh < w.RelChange {
		t.Errorf("RelDefined, RelChange, [RelLow, RelHigh] = %v, %g, [%g, %g]; want true, 0.5 inside the interval",
			w.RelDefined, w.RelChange, w.RelLow, w.RelHigh)
	}
}

func TestWelchTTest_OneConstantSampleHasDFOfTheOther(t *testing.T) {
	// With s₁² = 0 the Welch–Satterthwaite formula reduces to n₂ − 1.
	w, err := WelchTTest([]float64{4, 4, 4, 4, 4, 4}, []float64{3, 5, 4, 6}, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	if w.DF != 3 {
		t.Errorf("DF = %.17g, want 3", w.DF)
	}
}

func TestWelch_LargeSamplesFromSummaries(t *testing.T) {
	// df ≈ 8.7e5 exercises the quantile and incomplete beta far from small
	// df. References:
	//   scipy.stats.ttest_ind_from_stats(101.5, np.sqrt(4.0), 500000,
	//       101.49, np.sqrt(9.0), 500000, equal_var=False)
	//     → statistic=1.9611613513828434, pvalue=0.049860521828455996
	//   _unequal_var_ttest_denom(9.0, 500000, 4.0, 500000)
	//     → df 871132.2783505154, se 0.005099019513592785
	//   scipy.stats.t.isf(0.025, df) → 1.959966707748147
	base := Summary{N: 500000, Mean: 101.49, Variance: 9}
	cand := Summary{N: 500000, Mean: 101.5, Variance: 4}
	got, err := welch(base, cand, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	diff := 101.5 - 101.49
	const se, q = 0.005099019513592785, 1.959966707748147
	want := Welch{
		N1: 500000, N2: 500000,
		Mean1: 101.49, Mean2: 101.5, Var1: 9, Var2: 4,
		Diff: diff, StdErr: se,
		T:  1.9611613513828434,
		DF: 871132.2783505154,
		P:  0.049860521828455996,

		Confidence: 0.95,
		RelDefined: true,
		RelChange:  diff / 101.49,
		// Hedges' g: (1 − 3/(4·1e6 − 9))·diff/√6.5
		HedgesG: (1 - 3/(4*1e6-9.0)) * diff / math.Sqrt(6.5),
	}
	// Here CILow ≈ 6e-6 is the difference of two numbers near 0.01, so
	// its relative error is the half-width's amplified ~1600×, and gonum's
	// quantile is accurate to about DF·ε (6.6e-11 at this DF). Check the
	// half-width to relTol and the endpoints to relTol of the half-width.
	margin := q * se
	if hw := (got.CIHigh - got.CILow) / 2; !within(hw, margin, relTol) {
		t.Errorf("CI half-width = %.17g, want %.17g", hw, margin)
	}
	for _, e := range []struct {
		name      string
		got, want float64
	}{{"CILow", got.CILow, diff - margin}, {"CIHigh", got.CIHigh, diff + margin}} {
		if math.Abs(e.got-e.want) > relTol*margin {
			t.Errorf("%s = %.17g, want %.17g ± %g", e.name, e.got, e.want, relTol*margin)
		}
	}
	want.CILow, want.CIHigh = got.CILow, got.CIHigh // checked above
	checkWelch(t, got, want)
}

func TestWelchTTest_DoesNotAllocate(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _, _ = WelchTTest(textbookA, textbookB, 0.95) }); n != 0 {
		t.Errorf("WelchTTest allocates %v times per call, want 0", n)
	}
}

// normalSample returns n draws from N(mean, sd²) from a fixed seed.
func normalSample(seed uint64, n int, mean, sd float64) []float64 {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = mean + sd*r.NormFloat64()
	}
	return xs
}

// BenchmarkWelchTTest1M tests two samples of 500,000 latencies each.
func BenchmarkWelchTTest1M(b *testing.B) {
	baseline := normalSample(1, 500_000, 120, 15)
	candidate := normalSample(2, 500_000, 119.9, 14)
	b.ReportAllocs()
	start := processCPU()
	for b.Loop() {
		if _, err := WelchTTest(baseline, candidate, 0.95); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, start)
}
