package analysis

import (
	"math"
	"slices"
)

// radixBits is the digit width of sortedCopy's radix sort: 2¹¹ counters of
// 8 bytes fit in L1 with room for the scattered writes, and six passes cover
// 64 bits. Wider digits need fewer passes but scatter over more cache lines.
const radixBits = 11

// radixMin is the length below which a comparison sort beats the radix
// sort's fixed cost of clearing and scanning its histograms.
const radixMin = 512

// sortedCopy returns the finite values of xs in ascending order, without
// changing xs, with −0 stored as +0 so that equal values have equal bits,
// and with capacity for one more value. The caller has checked that every
// value is finite.
//
// Long inputs are sorted by a least-significant-digit radix sort on the
// IEEE 754 bit patterns mapped to unsigned keys that order like the
// numbers they encode (Knuth, TAOCP vol. 3, §5.2.5; the mapping flips
// every bit of a negative number and only the sign bit of a positive one).
// It takes six passes of 11 bits, skips the passes in which all keys share
// the digit (the sign and exponent of data in a narrow range), and so runs
// in linear time, several times faster than a comparison sort at 10⁵–10⁶
// values. The keys are kept in float64 slices as bit patterns: the result
// needs no third buffer.
func sortedCopy(xs []float64) []float64 {
	n := len(xs)
	out := make([]float64, n, n+1)
	if n < radixMin {
		for i, x := range xs {
			out[i] = x + 0 // −0 + 0 = +0 in round-to-nearest
		}
		slices.Sort(out)
		return out
	}

	const passes = (64 + radixBits - 1) / radixBits
	const buckets = 1 << radixBits
	var count [passes][buckets]int
	for i, x := range xs {
		k := sortKey(x + 0)
		out[i] = math.Float64frombits(k)
		for p := range passes {
			count[p][(k>>(p*radixBits))&(buckets-1)]++
		}
	}

	src, dst := out, make([]float64, n, n+1)
	for p := range passes {
		c := &count[p]
		shift := uint(p * radixBits)
		// A digit shared by every key leaves the order as it is.
		if c[(math.Float64bits(src[0])>>shift)&(buckets-1)] == n {
			continue
		}
		sum := 0
		for d := range c {
			c[d], sum = sum, sum+c[d]
		}
		for _, f := range src {
			k := math.Float64bits(f)
			d := (k >> shift) & (buckets - 1)
			dst[c[d]] = f
			c[d]++
		}
		src, dst = dst, src
	}
	for i, f := range src {
		src[i] = math.Float64frombits(fromSortKey(math.Float64bits(f)))
	}
	return src
}

// sortKey maps a float64 to a uint64 whose unsigned order is the numeric
// order of finite floats: negative numbers have every bit flipped (larger
// magnitudes become smaller keys), positive numbers only the sign bit.
func sortKey(x float64) uint64 {
	b := math.Float64bits(x)
	return b ^ (uint64(int64(b)>>63) | 1<<63) // #nosec G115 -- reinterprets bits to spread the sign; no arithmetic
}

// fromSortKey inverts sortKey.
func fromSortKey(k uint64) uint64 {
	return k ^ (uint64(int64(^k)>>63) | 1<<63) // #nosec G115 -- reinterprets bits to spread the sign; no arithmetic
}
