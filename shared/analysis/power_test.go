package analysis

import (
	"errors"
	"math"
	"testing"
)

func TestRequiredSampleSize_IsTheSmallestThatDetects(t *testing.T) {
	for _, c := range []struct {
		v1, v2, delta, alpha, power float64
		sides                       int
	}{{4, 9, 2, 0.05, 0.8, 2}, {1, 1, 0.1, 0.01, 0.9, 1}, {1e-12, 3e-12, 1e-6, 0.05, 0.5, 2}, {50, 0, 1, 0.05, 0.8, 2}} {
		n, err := RequiredSampleSize(c.v1, c.v2, c.delta, c.alpha, c.power, c.sides)
		if err != nil {
			t.Fatal(err)
		}
		at, _ := MinimumDetectableEffect(c.v1, n, c.v2, n, c.alpha, c.power, c.sides)
		below, _ := MinimumDetectableEffect(c.v1, n-1, c.v2, n-1, c.alpha, c.power, c.sides)
		if at > c.delta || (n > 2 && below <= c.delta) {
			t.Errorf("%+v: n = %d detects %v, n−1 detects %v", c, n, at, below)
		}
	}
}

func TestPower_EdgeCases(t *testing.T) {
	if n, err := RequiredSampleSize(0, 0, 1, 0.05, 0.8, 2); n != 2 || err != nil {
		t.Errorf("no variance: %d, %v", n, err)
	}
	if m, err := MinimumDetectableEffect(0, 5, 0, 5, 0.05, 0.8, 2); m != 0 || err != nil {
		t.Errorf("no variance: %v, %v", m, err)
	}
	if _, err := RequiredSampleSize(1, 1, 1e-300, 0.05, 0.8, 2); !errors.Is(err, ErrParameter) {
		t.Errorf("an effect no experiment can see: %v", err)
	}
	for _, bad := range []struct {
		v1, v2, delta, alpha, power float64
		sides                       int
	}{
		{1, 1, 0, 0.05, 0.8, 2}, {1, 1, math.NaN(), 0.05, 0.8, 2}, {-1, 1, 1, 0.05, 0.8, 2}, {1, math.Inf(1), 1, 0.05, 0.8, 2},
		{1, 1, 1, 0, 0.8, 2}, {1, 1, 1, 0.05, 0.4, 2}, {1, 1, 1, 0.05, 1, 2}, {1, 1, 1, 0.05, 0.8, 3}, {1, 1, 1, 0.9, 0.6, 2},
	} {
		if _, err := RequiredSampleSize(bad.v1, bad.v2, bad.delta, bad.alpha, bad.power, bad.sides); !errors.Is(err, ErrParameter) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
	if _, err := MinimumDetectableEffect(1, 1, 1, 5, 0.05, 0.8, 2); !errors.Is(err, ErrParameter) {
		t.Errorf("n = 1: %v", err)
	}
}

func TestTOST_Errors(t *testing.T) {
	w, _ := WelchTTest([]float64{1, 2, 3}, []float64{2, 3, 4}, 0.95)
	zero, _ := WelchTTest([]float64{-1, 1}, []float64{2, 3, 4}, 0.95)
	for _, c := range []struct {
		name  string
		w     Welch
		m     Margin
		alpha float64
		want  error
	}{
		{"alpha 0.5", w, Margin{Lower: -1, Upper: 1}, 0.5, ErrParameter},
		{"empty margin", w, Margin{Lower: 1, Upper: 1}, 0.05, ErrParameter},
		{"NaN margin", w, Margin{Lower: math.NaN(), Upper: 1}, 0.05, ErrParameter},
		{"relative to a zero mean", zero, Margin{Lower: -0.1, Upper: 0.1, Relative: true}, 0.05, ErrParameter},
		{"not a Welch result", Welch{}, Margin{Lower: -1, Upper: 1}, 0.05, ErrNonFinite},
	} {
		if _, err := TOST(c.w, c.m, c.alpha); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}
