package analysis

import (
	"fmt"
	"math"
	"sort"
)

// Holm adjusts p-values for testing several metrics at once, controlling the family-wise error
// rate (Holm 1979): with the p-values sorted ascending, p₍₁₎ ≤ … ≤ p₍ₘ₎,
//
//	p̃₍ᵢ₎ = max_{j ≤ i} min(1, (m − j + 1)·p₍ⱼ₎)
//
// The result is in the input's order. Reject where p̃ < α. An empty input gives an empty result;
// a value outside [0, 1] or NaN is ErrNonFinite.
func Holm(p []float64) ([]float64, error) {
	return adjust(p, func(sorted []float64, idx []int, out []float64) {
		m := float64(len(sorted))
		running := 0.0
		for i, v := range sorted {
			running = math.Max(running, math.Min(1, (m-float64(i))*v))
			out[idx[i]] = running
		}
	})
}

// BenjaminiHochberg adjusts p-values controlling the false discovery rate (Benjamini and
// Hochberg 1995): with the p-values sorted ascending,
//
//	p̃₍ᵢ₎ = min_{j ≥ i} min(1, m·p₍ⱼ₎ / j)
//
// in the input's order. Less strict than Holm: suited to many exploratory metrics, not guardrails.
func BenjaminiHochberg(p []float64) ([]float64, error) {
	return adjust(p, func(sorted []float64, idx []int, out []float64) {
		m := float64(len(sorted))
		running := 1.0
		for i := len(sorted) - 1; i >= 0; i-- {
			running = math.Min(running, math.Min(1, m*sorted[i]/float64(i+1)))
			out[idx[i]] = running
		}
	})
}

// adjust validates p, sorts it with the original positions, and lets fill write the adjusted
// values back in input order.
func adjust(p []float64, fill func(sorted []float64, idx []int, out []float64)) ([]float64, error) {
	idx := make([]int, len(p))
	for i, v := range p {
		if !(v >= 0 && v <= 1) {
			return nil, fmt.Errorf("p[%d] = %v: %w", i, v, ErrNonFinite)
		}
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return p[idx[a]] < p[idx[b]] })
	sorted := make([]float64, len(p))
	for i, j := range idx {
		sorted[i] = p[j]
	}
	out := make([]float64, len(p))
	fill(sorted, idx, out)
	return out, nil
}
