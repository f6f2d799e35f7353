package analysis

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// References: R's p.adjust(c(0.01, 0.04, 0.03, 0.005), method = "holm" / "BH"), worked by hand
// from the definitions (sorted 0.005, 0.01, 0.03, 0.04; m = 4).
func TestAdjust_KnownValues(t *testing.T) {
	p := []float64{0.01, 0.04, 0.03, 0.005}
	tests := []struct {
		name string
		fn   func([]float64) ([]float64, error)
		want []float64
	}{
		{"holm", Holm, []float64{0.03, 0.06, 0.06, 0.02}},
		{"bh", BenjaminiHochberg, []float64{0.02, 0.04, 0.04, 0.02}},
	}
	for _, tt := range tests {
		got, err := tt.fn(p)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if math.Abs(got[i]-tt.want[i]) > 1e-15 {
				t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
				break
			}
		}
	}
}

// Properties that hold for any input: adjusted ≥ raw, ≤ 1, order-preserving, Holm ≥ BH, and a
// single test is left alone.
func TestAdjust_Properties(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for range 200 {
		p := make([]float64, 1+r.IntN(20))
		for i := range p {
			p[i] = math.Pow(r.Float64(), 3)
		}
		holm, _ := Holm(p)
		bh, _ := BenjaminiHochberg(p)
		for i := range p {
			if holm[i] < p[i]*(1-1e-15) || bh[i] < p[i]*(1-1e-15) || holm[i] > 1 || bh[i] > 1 || holm[i] < bh[i]-1e-15 {
				t.Fatalf("p=%v holm=%v bh=%v", p, holm, bh)
			}
			for j := range p {
				if p[i] < p[j] && (holm[i] > holm[j]+1e-15 || bh[i] > bh[j]+1e-15) {
					t.Fatalf("order not preserved: p=%v holm=%v bh=%v", p, holm, bh)
				}
			}
		}
		if len(p) == 1 && (holm[0] != p[0] || bh[0] != p[0]) {
			t.Fatalf("single test changed: %v %v %v", p, holm, bh)
		}
	}
}

func TestAdjust_RejectsInvalid(t *testing.T) {
	for _, p := range [][]float64{{0.1, math.NaN()}, {1.5}, {-0.1}} {
		if _, err := Holm(p); !errors.Is(err, ErrNonFinite) {
			t.Errorf("Holm(%v) = %v", p, err)
		}
		if _, err := BenjaminiHochberg(p); !errors.Is(err, ErrNonFinite) {
			t.Errorf("BH(%v) = %v", p, err)
		}
	}
	if got, err := Holm(nil); err != nil || len(got) != 0 {
		t.Errorf("empty: %v %v", got, err)
	}
}
