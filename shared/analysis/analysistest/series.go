// Package analysistest makes the deterministic KPI series the analysis tests decide on: a
// baseline that swings a little window by window, and a candidate that moves with it.
package analysistest

import "math"

// Wave is n values around mean, each within ±1% in a fixed pattern, so the series has variance.
func Wave(n int, mean float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = mean * (1 + 0.01*math.Sin(float64(i)*1.7))
	}
	return out
}

// Times is xs times f with ±0.2% noise of its own: a candidate that follows the baseline's
// windows, as one run on the same hosts does.
func Times(xs []float64, f float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = x * f * (1 + 0.002*math.Cos(float64(i)*2.9))
	}
	return out
}
