package analysis

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// negZero is −0: the literal -0.0 is +0 in Go.
var negZero = math.Copysign(0, -1)

// allDifferences forms every y[j] − x[i] and sorts them: the definition
// selectDifference must match exactly.
func allDifferences(x, y []float64) []float64 {
	d := make([]float64, 0, len(x)*len(y))
	for _, xi := range x {
		for _, yj := range y {
			d = append(d, yj-xi)
		}
	}
	slices.Sort(d)
	return d
}

func TestDiffSelector_MatchesSortedDifferences(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	tests := []struct {
		name string
		x, y []float64
	}{
		{"continuous", normalSample(1, 300, 10, 2), normalSample(2, 250, 11, 3)},
		{"unequal sizes", normalSample(3, 7, 0, 1), normalSample(4, 900, 0.5, 1)},
		{"unequal sizes, transposed", normalSample(3, 900, 0, 1), normalSample(4, 60, 0.5, 1)},
		{"heavy ties", discrete(r, 400, 4), discrete(r, 350, 5)},
		{"all differences equal", []float64{1, 1, 1, 1}, slices.Repeat([]float64{3}, 200)},
		{"signed zeros and negatives", []float64{negZero, 0, -1, 2, -3, 0}, []float64{0, negZero, 1, -1, 5, 0, 0, -2}},
		{"large offset", offsetted(normalSample(5, 200, 0, 1), 1e9), offsetted(normalSample(6, 220, 0.3, 1), 1e9)},
		{"heavy tails", cauchy(r, 300), cauchy(r, 280)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, y := sortedCopy(tt.x), sortedCopy(tt.y)
			want := allDifferences(x, y)
			for _, gather := range []int{selectGather, 16, 1} {
				s := newDiffSelector(x, y)
				s.gather = gather // force the sampling passes on small inputs
				ks := []int64{1, 2, int64(len(want)) / 40, int64(len(want)+1) / 2, int64(len(want)) - 1, int64(len(want))}
				for range 20 {
					ks = append(ks, 1+r.Int64N(int64(len(want))))
				}
				for _, k := range ks {
					if k < 1 {
						continue
					}
					if got := s.kth(k); math.Float64bits(got) != math.Float64bits(want[k-1]) {
						t.Fatalf("gather %d: kth(%d) = %v, want %v", gather, k, got, want[k-1])
					}
					if k < int64(len(want)) {
						if got := s.next(want[k-1], k); got != want[k] {
							t.Fatalf("next after %d = %v, want %v", k, got, want[k])
						}
						if a, b := s.kthPair(k, true); a != want[k-1] || b != want[k] {
							t.Fatalf("gather %d: kthPair(%d) = %v, %v, want %v, %v", gather, k, a, b, want[k-1], want[k])
						}
					}
				}
			}
		})
	}
}

func discrete(r *rand.Rand, n, levels int) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = float64(r.IntN(levels))
	}
	return xs
}

func cauchy(r *rand.Rand, n int) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = math.Tan(math.Pi * (r.Float64() - 0.5))
	}
	return xs
}

func offsetted(xs []float64, c float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = x + c
	}
	return out
}

func TestSortedCopy_OrdersLikeSortAndKeepsInput(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	// Negative subnormals have sort keys that are NaN bit patterns,
	// signalling ones included: moving them must not change a bit.
	special := []float64{-math.SmallestNonzeroFloat64, -math.Float64frombits(1<<51 + 3), -math.Float64frombits(1<<52 - 1),
		math.SmallestNonzeroFloat64, negZero, 0, math.MaxFloat64, -math.MaxFloat64, 1, -1}
	for _, n := range []int{0, 1, 10, radixMin - 1, radixMin, 5000} {
		xs := make([]float64, n)
		for i := range xs {
			switch r.IntN(4) {
			case 0:
				xs[i] = special[r.IntN(len(special))]
			case 1:
				xs[i] = float64(r.IntN(5)) // ties
			default:
				xs[i] = r.NormFloat64() * math.Pow(10, float64(r.IntN(40)-20))
			}
		}
		in := slices.Clone(xs)
		got := sortedCopy(xs)
		want := slices.Clone(xs)
		for i := range want {
			want[i] += 0
		}
		slices.Sort(want)
		for i := range want {
			if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
				t.Fatalf("n=%d: got[%d] = %v (%#x), want %v (%#x)", n, i, got[i], math.Float64bits(got[i]), want[i], math.Float64bits(want[i]))
			}
		}
		for i := range in {
			if math.Float64bits(in[i]) != math.Float64bits(xs[i]) {
				t.Fatalf("n=%d: input changed at %d", n, i)
			}
		}
	}
}

// BenchmarkMannWhitney1M runs the test and the Hodges–Lehmann interval on
// 500,000 + 500,000 values (2.5·10¹¹ differences).
func BenchmarkMannWhitney1M(b *testing.B) {
	baseline := normalSample(1, 500_000, 120, 15)
	candidate := normalSample(2, 500_000, 119.9, 14)
	b.SetBytes(8 * 1_000_000)
	b.ReportAllocs()
	start := processCPU()
	for b.Loop() {
		if _, err := MannWhitneyU(baseline, candidate, 0.95); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, start)
}

// BenchmarkReadOnce1M is the memory-bandwidth floor for the 1M-value
// benchmarks: one pass summing 500,000 + 500,000 values.
func BenchmarkReadOnce1M(b *testing.B) {
	baseline := normalSample(1, 500_000, 120, 15)
	candidate := normalSample(2, 500_000, 119.9, 14)
	b.SetBytes(8 * 1_000_000)
	var sink float64
	start := processCPU()
	for b.Loop() {
		var s0, s1, s2, s3 float64
		for _, xs := range [][]float64{baseline, candidate} {
			i := 0
			for ; i+3 < len(xs); i += 4 {
				s0 += xs[i]
				s1 += xs[i+1]
				s2 += xs[i+2]
				s3 += xs[i+3]
			}
			for ; i < len(xs); i++ {
				s0 += xs[i]
			}
		}
		sink += s0 + s1 + s2 + s3
	}
	reportCPU(b, start)
	if sink == 0 {
		b.Log(sink)
	}
}
