package analysis

import (
	"fmt"
	"math"
)

// FirstLook is the number of paired windows at which the first live look is taken: with fewer,
// the autocorrelation bound alone makes every interval unbounded, so earlier looks would spend
// error budget on nothing.
const FirstLook = 4

// LookKind says which of a run's looks an analysis is.
type LookKind string

// The looks of a run.
const (
	// Live is the look taken as each KPI window closes: the live view and early stopping.
	Live LookKind = "live"
	// Planned is the look when the planned run is over.
	Planned LookKind = "planned"
	// Extension is the look when an extension of the run is over (after a continue).
	Extension LookKind = "extension"
)

// Schedule is a run's sequential design: which looks it may take and how much of the error budget
// each may spend. It is fixed before the run by its planned and maximum length, so whatever the
// data make the run do — stop early, continue, look again — the chance that any look's interval
// misses is at most the sum of what the looks spend, alpha (Bonferroni's inequality over the
// looks: the conservative form of an alpha-spending design, Lan & DeMets 1983, that needs no
// joint distribution of the looks' statistics and so holds for autocorrelation-robust ones).
//
// The budget is split by what each look is for, in the manner of Haybittle (1971) and Peto et al.
// (1976), whose interim looks are strict so that the final one stays near the fixed-sample level:
//
//   - live looks (one per paired window from FirstLook to Max) share a quarter evenly: they catch
//     what is clear long before the end;
//   - extension looks, when the run may be extended (Max > Planned), share a quarter, halving:
//     the k-th gets 2⁻⁽ᵏ⁺²⁾ (an eighth, a sixteenth, …), a fixed sequence whatever the number of
//     extensions the data ask for;
//   - the planned look gets the rest: half, or three quarters when no extension is possible, or
//     everything when no live look fits (Max < FirstLook).
//
// References:
//   - K. K. G. Lan, D. L. DeMets (1983), Discrete sequential boundaries for clinical trials,
//     Biometrika 70(3):659–663.
//   - J. L. Haybittle (1971), Repeated assessment of results in clinical trials of cancer
//     treatment, British Journal of Radiology 44(526):793–797.
//   - R. Peto et al. (1976), Design and analysis of randomized clinical trials requiring
//     prolonged observation of each patient, British Journal of Cancer 34(6):585–612.
type Schedule struct {
	Planned int `json:"planned_windows"` // paired windows the planned run holds
	Max     int `json:"max_windows"`     // paired windows the run may reach with every extension (≥ Planned)
}

// Validate reports a schedule without windows or with Max below Planned.
func (s Schedule) Validate() error {
	if s.Planned < 1 || s.Max < s.Planned {
		return fmt.Errorf("%w: schedule of %d planned and %d maximum windows", ErrParameter, s.Planned, s.Max)
	}
	return nil
}

// lives is the number of live looks.
func (s Schedule) lives() int { return max(0, s.Max-FirstLook+1) }

// shares returns the budget of all live looks together and of all extension looks together.
func (s Schedule) shares() (live, extensions float64) {
	if s.lives() > 0 {
		live = 0.25
	}
	if s.Max > s.Planned {
		extensions = 0.25
	}
	return live, extensions
}

// Weight is the share of the error budget one look spends: the live look at windows paired
// windows (0 outside FirstLook…Max), the planned look, or the extension-th extension look.
func (s Schedule) Weight(kind LookKind, windows, extension int) float64 {
	live, ext := s.shares()
	switch kind {
	case Planned:
		return 1 - live - ext
	case Extension:
		if ext == 0 || extension < 1 {
			return 0
		}
		return ext * math.Pow(2, -float64(extension))
	}
	if windows < FirstLook || windows > s.Max {
		return 0
	}
	return live / float64(s.lives())
}

// Spent is the share of the budget spent by every look so far: the live looks up to windows, and
// the due looks taken (dues: 1 once the planned look is taken, 1 + k after k extension looks).
func (s Schedule) Spent(windows, dues int) float64 {
	spent := 0.0
	if l := s.lives(); l > 0 {
		spent = s.Weight(Live, FirstLook, 0) * float64(max(0, min(windows, s.Max)-FirstLook+1))
	}
	if dues >= 1 {
		spent += s.Weight(Planned, windows, 0)
	}
	for k := 1; k < dues; k++ {
		spent += s.Weight(Extension, windows, k)
	}
	return min(spent, 1)
}
