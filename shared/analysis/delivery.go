package analysis

import "fmt"

// DeliveryFloor is the share of the windows a run should have delivered, per variant, below
// which a due look will not promote: a verdict must not rest silently on a fraction of its run.
// Half, not all: a run's first and last windows may be incomplete, a window may be late for the
// due look, and an outage of a few windows leaves a comparison that still describes the run. It
// catches a run whose collectors died with the platform (measured: 2 of about 8 windows per
// variant analysed as if whole).
const DeliveryFloor = 0.5

// Delivery compares the windows each variant delivered with the windows the run's duration
// should have given. It is measured at due looks, where the run's time is up; live looks happen
// as windows arrive and have nothing to compare with.
type Delivery struct {
	Expected  int     `json:"expected_windows"`  // complete windows each variant should have delivered by this look
	Baseline  int     `json:"baseline_windows"`  // complete windows the baseline delivered
	Candidate int     `json:"candidate_windows"` // complete windows the candidate delivered
	Floor     float64 `json:"floor"`             // the share of Expected below which the run is too short of data to promote
	Holds     bool    `json:"holds"`             // both variants delivered at least Floor × Expected
	Detail    string  `json:"detail"`            // in words
}

// CheckDelivery compares delivered windows, per variant, with expected. expected ≤ 0 means not
// measured (nil).
func CheckDelivery(expected, baseline, candidate int) *Delivery {
	if expected <= 0 {
		return nil
	}
	d := &Delivery{Expected: expected, Baseline: baseline, Candidate: candidate, Floor: DeliveryFloor}
	least := min(baseline, candidate)
	d.Holds = float64(least) >= DeliveryFloor*float64(expected)
	d.Detail = fmt.Sprintf("the baseline delivered %d and the candidate %d complete windows of the %d the run's duration should give", baseline, candidate, expected)
	if !d.Holds {
		d.Detail += fmt.Sprintf(" (below %s of them: the collectors stopped delivering for much of the run)", pct(DeliveryFloor))
	}
	return d
}
