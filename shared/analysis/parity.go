package analysis

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// DefaultParityTolerance is the largest relative difference between what the two variants'
// collectors received that still counts as the same input. Both scrape the same hosts at the same
// interval, but at their own moments, so a window may hold one scrape more of one than of the
// other and short-lived processes may be seen by one only; over a run the rates differ by a few
// percent at most (the demo's A/A: under 1%). A rate over a short span is coarse — the counter
// rises a whole scrape at a time, so a span of 18 scrapes reads up to 1/18 high or low — which
// is why the tolerance is 10%, not 1%.
const DefaultParityTolerance = 0.1

// Received is what one variant's collectors received during the run, from their own telemetry.
type Received struct {
	Windows  int   `json:"windows"`         // complete windows the variant delivered
	Reported int   `json:"reported"`        // of those, the windows with receiver telemetry
	Accepted int64 `json:"accepted_points"` // points the receivers accepted over the reporting windows
	// Seconds is the collector-seconds those points were accepted in: the time between the
	// readings of each collector's counters, summed over collectors. 0 for windows stored
	// without it, which are compared per window instead.
	Seconds  float64 `json:"accepted_seconds"`
	Refused  int64   `json:"refused_points"` // points the receivers refused over the reporting windows
	Restarts int     `json:"restarts"`       // collector restarts seen during the run
}

// rate is the points accepted a collector-second, or per reporting window when the seconds are
// unknown, and its unit.
func (r Received) rate() (float64, string) {
	if r.Seconds > 0 {
		return float64(r.Accepted) / r.Seconds, "a second"
	}
	return float64(r.Accepted) / float64(r.Reported), "a window"
}

// ParityInput is the evidence of input parity.
type ParityInput struct {
	Baseline  Received `json:"baseline"`
	Candidate Received `json:"candidate"`
	// Paired is the number of windows complete for both variants; Decide sets it from the look.
	Paired int `json:"paired_windows"`
}

// srmLevel is how unlikely the windows delivered by one variant alone must be, if both lost
// windows alike, for them to count as a mismatch: one in ten thousand, because every look checks
// again. Random losses (a late export) fall on either side; an outage of one collector falls on
// one, and after 14 such windows with none on the other side the check fires.
const srmLevel = 1e-4

// Parity is the input-parity check: did both collectors see the same input?
type Parity struct {
	ParityInput
	Tolerance float64  `json:"tolerance"`      // the relative difference allowed
	Checked   []string `json:"checked"`        // what was compared
	Holds     bool     `json:"holds"`          // no difference beyond Tolerance
	Problems  []string `json:"problems"`       // each difference found, in words
	Ratio     *float64 `json:"accepted_ratio"` // candidate's accepted points a window over the baseline's, when both reported
}

// CheckParity compares what the two variants received, the sample-ratio-mismatch check of
// experimentation platforms applied to collectors (Fabijan et al. 2019): a comparison of outputs
// means something only if the inputs were the same. It compares
//
//   - the windows each delivered: of the windows only one variant delivered, each side's share
//     should be even if both lost windows alike; a split that would happen by chance less than
//     once in srmLevel (two-sided binomial test, the sample-ratio-mismatch test's exact form) means
//     one collector was down or cut off for a while. Lost windows alone do not bias a paired
//     comparison, which leaves them out;
//   - the points their receivers accepted a collector-second, when both reported them: a ratio
//     outside 1 ± tolerance means they did not scrape the same things. A rate over the time the
//     readings span, not a sum or a mean per window: the readings do not line up with windows,
//     so a window may hold one reading interval or two, and a variant whose collector started
//     late in its first window has a short first interval — per window, the first 6 s windows of
//     a one-minute run differed by 13% with both collectors scraping the same host;
//   - the share of points refused (memory limiter, a full queue): more than tolerance on either
//     side means that side lost input;
//   - restarts: a collector that restarted lost its state and a stretch of input.
//
// References:
//   - A. Fabijan, J. Gupchup, S. Gupta, J. Omhover, W. Qin, L. Vermeer, P. Dmitriev (2019),
//     Diagnosing sample ratio mismatch in online controlled experiments, KDD '19:2156–2164.
func CheckParity(in ParityInput, tolerance float64) Parity {
	if !(tolerance > 0) {
		tolerance = DefaultParityTolerance
	}
	p := Parity{ParityInput: in, Tolerance: tolerance, Checked: []string{"windows delivered", "restarts"}, Problems: []string{}}
	b, c := in.Baseline, in.Candidate
	onlyB, onlyC := max(0, b.Windows-in.Paired), max(0, c.Windows-in.Paired)
	if binomialTwoSided(min(onlyB, onlyC), onlyB+onlyC) < srmLevel {
		p.Problems = append(p.Problems, fmt.Sprintf("the baseline delivered %d complete windows and the candidate %d: %d windows came from one side only, %d from the other",
			b.Windows, c.Windows, max(onlyB, onlyC), min(onlyB, onlyC)))
	}
	if b.Restarts != c.Restarts {
		p.Problems = append(p.Problems, fmt.Sprintf("the baseline's collectors restarted %d times and the candidate's %d", b.Restarts, c.Restarts))
	}
	if b.Reported > 0 && c.Reported > 0 {
		p.Checked = append(p.Checked, "points received", "points refused")
		if b.Accepted > 0 {
			if (b.Seconds > 0) != (c.Seconds > 0) { // one side stored before the seconds were: compare alike
				b.Seconds, c.Seconds = 0, 0
			}
			cr, unit := c.rate()
			br, _ := b.rate()
			r := cr / br
			p.Ratio = &r
			if math.Abs(r-1) > tolerance {
				p.Problems = append(p.Problems, fmt.Sprintf("the candidate's receivers accepted %s the baseline's points %s (%.4g against %.4g)",
					signedPct(r-1), unit, cr, br))
			}
		} else if c.Accepted > 0 {
			p.Problems = append(p.Problems, fmt.Sprintf("the baseline's receivers accepted no points, the candidate's %d", c.Accepted))
		}
		for _, v := range []struct {
			name string
			r    Received
		}{{"baseline", b}, {"candidate", c}} {
			if total := v.r.Accepted + v.r.Refused; total > 0 && float64(v.r.Refused) > tolerance*float64(total) {
				p.Problems = append(p.Problems, fmt.Sprintf("the %s's receivers refused %d of %d points", v.name, v.r.Refused, total))
			}
		}
	}
	p.Holds = len(p.Problems) == 0
	return p
}

// binomialTwoSided is P(|X − n/2| ≥ |k − n/2|) for X ~ Binomial(n, ½), k ≤ n/2: 2·P(X ≤ k), at most 1.
func binomialTwoSided(k, n int) float64 {
	if n == 0 {
		return 1
	}
	return min(1, 2*distuv.Binomial{N: float64(n), P: 0.5}.CDF(float64(k)))
}
