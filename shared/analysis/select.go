package analysis

import (
	"math"
	"math/rand/v2"
	"slices"
)

// Tuning of diffSelector. With a sample of 16384 differences and pivots
// three binomial standard errors either side of the target's estimated
// rank, a pass keeps about 1/40 of the candidates and misses the target
// about once in 400 passes; 500,000 + 500,000 values (2.5·10¹¹
// differences) take four or five passes per order statistic.
const (
	selectSample = 1 << 14 // differences sampled per pass to place the pivots
	selectSpread = 3.0     // pivot distance from the target's estimated rank, in binomial standard errors
	selectGather = 1 << 16 // candidates few enough to collect and select directly
)

// diffSelector selects order statistics of the n·m differences
// d(i, j) = y[j] − x[i] of two sorted samples without forming them.
//
// For a fixed row i the differences increase with j, and for a fixed
// column j they decrease with i, so the number c_i(p) of differences below
// a value p in row i never decreases with i: a staircase. One walk down the
// staircase, a merge of the rows with the columns, counts the differences
// below p in O(n + m) time. Selection keeps, per row, the range
// [lo_i, hi_i) of columns that may still hold the answer. Each pass draws a
// sample of these candidates, takes as pivots the sample's order statistics
// a few standard errors below and above the target's expected rank (Floyd &
// Rivest 1975), counts the differences below both pivots exactly, and keeps
// the side that holds the target: with high probability the candidates
// between the pivots, a small fraction. This is the sampling variant of the
// selection in sorted matrices and in X + Y of Johnson & Mizoguchi (1978)
// and Frederickson & Johnson (1982), and of Monahan's (1984) algorithm for
// the one-sample Hodges–Lehmann estimator. Once few candidates remain they
// are collected and selected from directly.
//
// Every comparison is made on the computed difference fl(y[j] − x[i]),
// which is monotone in y[j] and in −x[i] as the exact one is, so the
// selected value is exactly the k-th smallest of the differences a direct
// computation would form, ties included.
//
// References:
//   - R. W. Floyd, R. L. Rivest (1975), Expected time bounds for selection,
//     Communications of the ACM 18(3):165–172.
//   - D. B. Johnson, T. Mizoguchi (1978), Selecting the Kth element in
//     X + Y and X1 + X2 + … + Xm, SIAM Journal on Computing 7(2):147–153.
//   - G. N. Frederickson, D. B. Johnson (1982), The complexity of selection
//     and ranking in X + Y and matrices with sorted columns, Journal of
//     Computer and System Sciences 24(2):197–208.
//   - J. F. Monahan (1984), Algorithm 616: fast computation of the
//     Hodges–Lehmann location estimator, ACM TOMS 10(3):265–270.
type diffSelector struct {
	x, y   []float64  // sorted row and column values: the differences are y[j] − x[i]
	yInf   []float64  // y followed by +Inf, which stops the staircase walks
	gather int        // candidates few enough to collect and select directly
	rng    *rand.Rand // pivot sampling; seeded constantly, so runs repeat exactly

	// The rows that still hold candidates, compacted after every pass so
	// that the walks read three arrays in order; each has one spare
	// element for the walks' end sentinel.
	rx     []float64 // the row's x value
	lo, hi []int32   // the row's candidate columns [lo, hi)
	below  int64     // differences left of the rows' lo: all smaller than any candidate
	active int64     // candidates: Σ (hi − lo)

	cut1, cut2 []int32   // per row, the first column at or above each pivot (see walk2)
	nx         []float64 // next pass's rx (double buffer)
	nlo, nhi   []int32   // next pass's lo and hi (double buffer)
	sample     []float64 // sampled differences
	gathered   []float64 // the remaining candidates, once few
}

// newDiffSelector prepares selection among the differences y[j] − x[i] of
// sorted x and y, each shorter than 2³¹. A pass costs a step per row, so
// the shorter sample becomes the rows: y[j] − x[i] = (−x[i]) − (−y[j]),
// and negation is exact, so the transposed matrix holds the same values.
func newDiffSelector(x, y []float64) *diffSelector {
	if len(x) > len(y) {
		x, y = negatedReverse(y), negatedReverse(x)
	}
	// The +Inf goes into spare capacity when there is some, as sortedCopy
	// leaves.
	yInf := append(y[:len(y):cap(y)], math.Inf(1))
	return &diffSelector{x: x, y: y, yInf: yInf, gather: selectGather, rng: rand.New(rand.NewPCG(0x5eed, 0x48_4c))} // #nosec G404 -- pivot sampling; fixed seed keeps results reproducible
}

// negatedReverse returns −xs in reverse order, ascending when xs is, with
// room for one more value.
func negatedReverse(xs []float64) []float64 {
	out := make([]float64, len(xs), len(xs)+1)
	for i, x := range xs {
		out[len(xs)-1-i] = -x + 0 // +0, not −0, as sortedCopy stores zeros
	}
	return out
}

// kth returns the k-th smallest difference, 1 ≤ k ≤ len(x)·len(y).
func (s *diffSelector) kth(k int64) float64 {
	a, _ := s.kthPair(k, false)
	return a
}

// kthPair returns the k-th smallest difference and, if both, the (k+1)-th
// (1 ≤ k < len(x)·len(y)): the middle pair of an even number of
// differences. The second costs nothing extra when the final candidates
// hold both, which they almost always do.
func (s *diffSelector) kthPair(k int64, both bool) (float64, float64) {
	n, m := len(s.x), len(s.y)
	total := int64(n) * int64(m)
	if total <= int64(s.gather) {
		s.gathered = s.gathered[:0]
		for _, xi := range s.x {
			for _, yj := range s.y {
				s.gathered = append(s.gathered, yj-xi)
			}
		}
		return s.pick(int(k-1), both)
	}
	if s.rx == nil {
		s.rx, s.nx = make([]float64, n+1), make([]float64, n+1)
		s.lo, s.hi, s.nlo, s.nhi = make([]int32, n+1), make([]int32, n+1), make([]int32, n+1), make([]int32, n+1)
		s.cut1, s.cut2 = make([]int32, n+1), make([]int32, n+1)
	}
	s.rx, s.lo, s.hi = s.rx[:n], s.lo[:n], s.hi[:n]
	copy(s.rx, s.x)
	for r := range n {
		s.lo[r], s.hi[r] = 0, int32(m) // #nosec G115 -- MannWhitneyU bounds sample sizes below MaxInt32
	}
	s.below, s.active = 0, total
	for {
		if s.active <= int64(s.gather) {
			s.gathered = s.gathered[:0]
			for r, xr := range s.rx {
				for _, yj := range s.y[s.lo[r]:s.hi[r]] {
					s.gathered = append(s.gathered, yj-xr)
				}
			}
			r := int(k - s.below - 1)
			if both && r+1 == len(s.gathered) { // the next one lies beyond the candidates
				a, _ := s.pick(r, false)
				return a, s.next(a, k)
			}
			return s.pick(r, both)
		}
		// Pivots at ranks selectSpread binomial standard errors either side
		// of the target's expected rank in a sample; a smaller sample
		// suffices, and costs less, among few candidates.
		size := int(min(selectSample, max(64, s.active/8)))
		s.drawSample(s.active == total, size)
		f := float64(k-s.below) / float64(s.active)
		d := selectSpread*math.Sqrt(float64(size)*f*(1-f)) + 1
		ia := max(int(math.Floor(f*float64(size)-d)), 0)
		ib := min(int(math.Ceil(f*float64(size)+d)), size-1)
		pl := quickselect(s.sample, ia, s.rng)
		ph := pl
		if ib > ia { // quickselect left the values above pl after it
			ph = quickselect(s.sample[ia+1:], ib-ia-1, s.rng)
		}

		lt1, lt2 := s.walk2(pl, ph)
		switch {
		case k <= s.below+lt1: // the target is below pl
			s.narrow(nil, s.cut1)
		case k <= s.below+lt2: // pl ≤ target < ph
			s.narrow(s.cut1, s.cut2)
		case pl < ph: // ph ≤ target: pl drops out
			s.narrow(s.cut2, nil)
		default: // pl = ph ≤ target: only "at most ph" makes progress
			// d ≤ ph exactly when d < the next float above ph.
			above := math.Nextafter(ph, math.Inf(1))
			le, _ := s.walk2(above, above)
			if k <= s.below+le {
				if both {
					return ph, s.next(ph, k)
				}
				return ph, 0
			}
			s.narrow(s.cut1, nil)
		}
	}
}

// walk2 walks the staircases of p1 and p2 (p1 ≤ p2, each a candidate or
// the next float above one) down the rows and leaves in cut1 and cut2, per
// row, the first column whose difference is at least p1 and at least p2. It
// returns the candidates below p1 and below p2.
//
// Selection spends its time here, so the walks are written for the
// processor. Each is a branch-free merge: a step compares one difference
// and moves either the column (still below the pivot) or the row, by
// adding 0 or 1, so no branch waits on a comparison it could mispredict.
// A row's cut never precedes the previous row's, nor the row's lo, so a
// walk resumes at the larger of both; it needs no test against hi, as
// every difference right of hi exceeds every candidate, so it is at least
// a pivot; the +Inf after the last column ends a row at the latest. The
// two walks are independent chains of loads, which the processor runs side
// by side.
func (s *diffSelector) walk2(p1, p2 float64) (n1, n2 int64) {
	rows := int32(len(s.rx)) // #nosec G115 -- MannWhitneyU bounds sample sizes below MaxInt32
	x, y, lo := s.rx[:rows+1], s.yInf, s.lo[:rows+1]
	c1, c2 := s.cut1[:rows+1], s.cut2[:rows+1]
	x[rows], lo[rows] = math.Inf(1), 0 // sentinel row: ends the walks, read after the last row
	var r1, r2 int32
	j1, j2 := lo[0], lo[0]
	for r1 < rows && r2 < rows {
		d1, d2 := y[j1]-x[r1], y[j2]-x[r2]
		a1, a2 := b2i(d1 < p1), b2i(d2 < p2)
		c1[r1], c2[r2] = j1, j2
		j1, r1 = j1+a1, r1+1-a1
		j2, r2 = j2+a2, r2+1-a2
		j1 = maxInt32(j1, lo[r1])
		j2 = maxInt32(j2, lo[r2])
	}
	for r1 < rows {
		a1 := b2i(y[j1]-x[r1] < p1)
		c1[r1] = j1
		j1, r1 = j1+a1, r1+1-a1
		j1 = maxInt32(j1, lo[r1])
	}
	for r2 < rows {
		a2 := b2i(y[j2]-x[r2] < p2)
		c2[r2] = j2
		j2, r2 = j2+a2, r2+1-a2
		j2 = maxInt32(j2, lo[r2])
	}
	// Summed apart from the walks, whose steps it would lengthen.
	for r, l := range lo[:rows] {
		n1 += int64(c1[r] - l)
		n2 += int64(c2[r] - l)
	}
	return n1, n2
}

// b2i is 1 for true and 0 for false, compiled to a flag move, not a branch.
func b2i(b bool) int32 {
	var i int32
	if b {
		i = 1
	}
	return i
}

// maxInt32 is max(a, b) without a branch, for |a − b| < 2³¹.
func maxInt32(a, b int32) int32 {
	return a + (b-a)&((a-b)>>31)
}

// narrow moves each row's lo to newLo[r] and its hi to newHi[r] (a nil
// slice keeps that bound), drops the rows left without candidates, and
// updates below and active. Rows drop out unpredictably, so each is written
// to the next slot and the slot advances only for a row that stays: no
// branch to mispredict.
func (s *diffSelector) narrow(newLo, newHi []int32) {
	rows := len(s.rx)
	if newLo == nil {
		newLo = s.lo
	}
	if newHi == nil {
		newHi = s.hi
	}
	rx, lo, newLo, newHi := s.rx[:rows], s.lo[:rows], newLo[:rows], newHi[:rows]
	nx, nlo, nhi := s.nx[:rows], s.nlo[:rows], s.nhi[:rows]
	var below, active int64
	w := 0
	for r, xr := range rx {
		l, h := newLo[r], newHi[r]
		below += int64(l - lo[r])
		active += int64(h - l)
		nx[w], nlo[w], nhi[w] = xr, l, h
		w += int(b2i(h > l))
	}
	s.below += below
	s.active = active
	s.rx, s.nx = nx[:w], s.rx[:0]
	s.lo, s.nlo = nlo[:w], s.lo[:0]
	s.hi, s.nhi = nhi[:w], s.hi[:0]
}

// pick returns the r-th smallest (0-based) gathered difference and, if
// both, the (r+1)-th, which must exist.
func (s *diffSelector) pick(r int, both bool) (float64, float64) {
	a := quickselect(s.gathered, r, s.rng)
	if !both {
		return a, 0
	}
	// quickselect left the larger values after position r.
	return a, slices.Min(s.gathered[r+1:])
}

// drawSample fills s.sample with size differences drawn from the
// candidates by stratified sampling: the candidates, in row order, are cut
// into size strata of equal count and one is drawn uniformly from each.
// Each candidate is drawn with the same probability, as by simple random
// sampling, the sample's quantiles vary less, and the positions come out
// in order, so one pass over the rows finds them. full says that every
// difference is a candidate, so no pass is needed.
func (s *diffSelector) drawSample(full bool, size int) {
	s.sample = s.sample[:0]
	stratum := float64(s.active) / float64(size)
	pos := func(t int) int64 {
		return min(int64((float64(t)+s.rng.Float64())*stratum), s.active-1)
	}
	if full {
		m := int64(len(s.y))
		for t := range size {
			p := pos(t)
			s.sample = append(s.sample, s.y[p%m]-s.x[p/m])
		}
		return
	}
	r := 0
	var start int64 // position of the first candidate of row r
	for t := range size {
		p := pos(t)
		for {
			w := int64(s.hi[r] - s.lo[r])
			if p < start+w {
				s.sample = append(s.sample, s.y[int64(s.lo[r])+p-start]-s.rx[r])
				break
			}
			start += w
			r++
		}
	}
}

// next returns the (k+1)-th smallest difference given that a is the k-th:
// a again if more than k differences are at most a, otherwise the smallest
// difference above a, found in one pass down the staircase of a.
func (s *diffSelector) next(a float64, k int64) float64 {
	var le int64
	best := math.Inf(1)
	j := 0
	for _, xi := range s.x {
		for j < len(s.y) && s.y[j]-xi <= a {
			j++
		}
		le += int64(j)
		if j < len(s.y) {
			best = min(best, s.y[j]-xi)
		}
	}
	if le > k {
		return a
	}
	return best
}

// quickselect returns the k-th smallest (0-based) element of a, reordering
// a so that the elements before position k are at most it and those after
// at least it; random pivots make its expected time linear (Hoare 1961).
func quickselect(a []float64, k int, rng *rand.Rand) float64 {
	lo, hi := 0, len(a)-1
	for lo < hi {
		p := a[lo+rng.IntN(hi-lo+1)]
		// Three-way partition: < p, = p, > p (Dijkstra), so ties cannot
		// stall it.
		lt, i, gt := lo, lo, hi
		for i <= gt {
			switch {
			case a[i] < p:
				a[lt], a[i] = a[i], a[lt]
				lt++
				i++
			case a[i] > p:
				a[gt], a[i] = a[i], a[gt]
				gt--
			default:
				i++
			}
		}
		switch {
		case k < lt:
			hi = lt - 1
		case k > gt:
			lo = gt + 1
		default:
			return p
		}
	}
	return a[lo]
}
