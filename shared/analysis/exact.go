package analysis

import (
	"math"

	"gonum.org/v1/gonum/integrate/quad"
	"gonum.org/v1/gonum/mat"
)

// imhofNodes are the Gauss–Legendre nodes and weights of Imhof's integral, mapped from [0, 1) to
// [0, ∞) by u = (s/(1 − s))². The integrand does not oscillate (its phase runs from 0 to a
// constant) and decays as u^−(1+(ν+1)/2); the squared map makes the transformed integrand vanish
// smoothly at s = 1 for every ν ≥ 1 (the plain s/(1 − s) leaves a square-root cusp at ν = 2 and
// costs two digits), so 256 nodes give tail probabilities to better than 10⁻⁹ absolute: checked
// against Student's t, which the statistic follows exactly for independent values, in
// TestExceedance_MatchesStudentWhenIndependent. Read-only after initialisation.
var imhofNodes = func() (n struct{ x, w []float64 }) {
	n.x, n.w = make([]float64, 256), make([]float64, 256)
	quad.Legendre{}.FixedLocations(n.x, n.w, 0, 1)
	return n
}()

// ar1Gram returns the covariance of z = (√n·x̄, Λ₁, …, Λ_ν) for n values of a stationary Gaussian
// AR(1) with lag-1 ρ and unit variance: G = U'ΣU, with U's columns the orthonormal vectors
// 1/√n and √(2/n)·cos(πj(t − ½)/n). Σu is computed in O(n) per column by the forward and backward
// AR filters (see ar1Stretch), so G costs O(nν²).
func ar1Gram(n, nu int, rho float64) *mat.SymDense {
	fn := float64(n)
	cols := make([][]float64, nu+1)
	for j := range cols {
		u := make([]float64, n)
		for t := range u {
			if j == 0 {
				u[t] = 1 / math.Sqrt(fn)
			} else {
				u[t] = math.Sqrt(2/fn) * math.Cos(math.Pi*float64(j)*(float64(t)+0.5)/fn)
			}
		}
		cols[j] = u
	}
	g := mat.NewSymDense(nu+1, nil)
	su := make([]float64, n)
	fwd := make([]float64, n)
	for j, u := range cols {
		acc := 0.0
		for t := range u {
			acc = rho*acc + u[t]
			fwd[t] = acc
		}
		acc = 0
		for t := n - 1; t >= 0; t-- {
			acc = rho*acc + u[t]
			su[t] = fwd[t] + acc - u[t]
		}
		for i := 0; i <= j; i++ {
			s := 0.0
			for t, v := range cols[i] {
				s += v * su[t]
			}
			g.SetSym(i, j, s)
		}
	}
	return g
}

// exceedance returns P(|T| > c) for T = z₀/√(Σⱼ zⱼ²/ν), z ~ N(0, G): the EWC t statistic of an
// AR(1) series whose G is given by its Cholesky factor L. The event is the quadratic form
// ν z₀² − c² Σ zⱼ² > 0; with z = Lw, w standard normal, its probability depends only on the
// eigenvalues λₖ of L'DL, D = diag(ν, −c², …, −c²), and is given by Imhof's (1961) formula
//
//	P(Σ λₖ wₖ² > 0) = ½ + (1/π) ∫₀^∞ sin(½ Σ arctan λₖu) / (u Πₖ (1 + λₖ²u²)^¼) du.
//
// References:
//   - J. P. Imhof (1961), Computing the distribution of quadratic forms in normal variables,
//     Biometrika 48(3/4):419–426.
func exceedance(l *mat.TriDense, nu int, c float64) float64 {
	k := nu + 1
	raw := l.RawTriangular()
	d := func(r int) float64 { // D's diagonal
		if r == 0 {
			return float64(nu)
		}
		return -c * c
	}
	// (L'DL)ᵢⱼ = Σᵣ Lᵣᵢ·D_r·Lᵣⱼ over r ≥ max(i, j): L is lower triangular.
	sym := mat.NewSymDense(k, nil)
	for i := range k {
		for j := i; j < k; j++ {
			v := 0.0
			for r := j; r < k; r++ {
				v += raw.Data[r*raw.Stride+i] * d(r) * raw.Data[r*raw.Stride+j]
			}
			sym.SetSym(i, j, v)
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(sym, false) {
		return math.NaN()
	}
	lambda := eig.Values(nil)
	scale := 0.0
	for _, v := range lambda {
		scale = max(scale, math.Abs(v))
	}
	for i := range lambda {
		lambda[i] /= scale // the probability does not depend on the scale; u then lives near 1
	}
	integral := 0.0
	for i, s := range imhofNodes.x {
		r := s / (1 - s)
		u := r * r
		jacobian := 2 * r / ((1 - s) * (1 - s))
		theta, logRho := 0.0, 0.0
		for _, v := range lambda {
			theta += math.Atan(v * u)
			logRho += math.Log1p(v*v*u*u) / 4
		}
		integral += imhofNodes.w[i] * math.Sin(theta/2) / (u * math.Exp(logRho)) * jacobian
	}
	return min(1, max(0, 0.5+integral/math.Pi))
}

// exactQuantile returns c with P(|T| > c) = level for the EWC t statistic with ν terms of n AR(1)
// values with lag-1 ρ, by Illinois-method root finding on log P between a bracket around
// Satterthwaite's approximation (which it refines: that one is conservative for short, strongly
// correlated series).
func exactQuantile(n, nu int, level, rho float64) float64 {
	var chol mat.Cholesky
	if !chol.Factorize(ar1Gram(n, nu, rho)) {
		return ar1Stretch(n, nu, rho).quantile(level)
	}
	var l mat.TriDense
	chol.LTo(&l)
	f := func(c float64) float64 { return math.Log(exceedance(&l, nu, c)) - math.Log(level) }
	guess := ar1Stretch(n, nu, rho).quantile(level)
	lo, hi := guess/2, guess
	for f(lo) < 0 {
		lo /= 2
	}
	for f(hi) > 0 {
		hi *= 2
	}
	flo, fhi := f(lo), f(hi)
	side := 0
	for range 60 {
		c := (lo*fhi - hi*flo) / (fhi - flo)
		fc := f(c)
		switch {
		case math.Abs(fc) < 1e-7 || hi-lo < 1e-9*hi:
			return c
		case fc > 0:
			lo, flo = c, fc
			if side == 1 {
				fhi /= 2
			}
			side = 1
		default:
			hi, fhi = c, fc
			if side == -1 {
				flo /= 2
			}
			side = -1
		}
	}
	return hi
}
