package analysis

import (
	"slices"
	"time"
)

// CoverageWindow is what each variant's output covered of the critical processes in one window
// complete for both: the critical patterns some output resource's process matched.
type CoverageWindow struct {
	Start     time.Time `json:"window_start"` // the window, by its start
	Baseline  []string  `json:"baseline"`     // patterns the baseline's output covered
	Candidate []string  `json:"candidate"`    // patterns the candidate's output covered
}

// Miss is one window in which the candidate's output lacked critical processes that the
// baseline's output had.
type Miss struct {
	Window    time.Time `json:"window_start"` // the window, by its start
	Processes []string  `json:"processes"`    // the critical patterns lost, sorted
}

// Coverage is the critical-coverage rule applied to a run.
type Coverage struct {
	Misses    []Miss   `json:"misses"`    // windows with a miss, oldest first
	Processes []string `json:"processes"` // every critical pattern lost at least once, sorted
	Tolerance int      `json:"tolerance"` // windows with a miss the spec allows
	Broken    bool     `json:"broken"`    // more windows with a miss than Tolerance
}

// CheckCoverage applies the critical-coverage rule: a window in which the candidate's output lacks
// a critical process that the baseline's output has in the same window is a miss, and more
// windows with a miss than tolerance break the rule. It is a safety rule, not a statistic: one
// lost critical process is a fact about the output, and no average over other windows makes up
// for it. A process the baseline did not see either (it was not running) is no miss. windows may
// hold only the windows where the candidate lacked something: the others cannot hold a miss.
func CheckCoverage(windows []CoverageWindow, tolerance int) Coverage {
	c := Coverage{Misses: []Miss{}, Processes: []string{}, Tolerance: tolerance}
	lost := map[string]bool{}
	for _, w := range windows {
		var m []string
		for _, p := range w.Baseline {
			if !slices.Contains(w.Candidate, p) && !slices.Contains(m, p) {
				m = append(m, p)
				lost[p] = true
			}
		}
		if len(m) > 0 {
			slices.Sort(m)
			c.Misses = append(c.Misses, Miss{Window: w.Start.UTC(), Processes: m})
		}
	}
	slices.SortFunc(c.Misses, func(a, b Miss) int { return a.Window.Compare(b.Window) })
	for p := range lost {
		c.Processes = append(c.Processes, p)
	}
	slices.Sort(c.Processes)
	c.Broken = len(c.Misses) > tolerance
	return c
}
