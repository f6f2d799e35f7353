package analysis

import (
	"fmt"
	"math"
)

// EarlyStop says when a live look may end the run before its planned end.
type EarlyStop struct {
	Regressions bool `json:"regressions"` // a rejection (regression, lost critical process) ends the run at once
	Wins        bool `json:"wins"`        // a promotion, or "better nowhere", ends the run once MinWindows are in
	MinWindows  int  `json:"min_windows"` // paired windows before a win may end the run
}

// Options are Decide's settings; zero values mean the defaults named, and the zero EarlyStop
// stops nothing early.
type Options struct {
	Alpha           float64   // chance that any look's interval misses, over the whole run; 0 means DefaultAlpha
	Power           float64   // for the windows-needed estimate; 0 means DefaultPower
	PlanningEffect  float64   // goals without MinImprovement: the change within which there is no change; 0 means DefaultPlanningEffect
	EarlyStop       EarlyStop // what may end the run at a live look
	MissTolerance   int       // windows with a lost critical process allowed (0: none)
	ParityTolerance float64   // relative input difference allowed; 0 means DefaultParityTolerance
	Cache           *Cache    // critical values shared between decisions; nil computes them
}

// Settings are the options a decision used, defaults filled in.
type Settings struct {
	Alpha           float64   `json:"alpha"`
	Confidence      float64   `json:"confidence"` // 1 − Alpha: every interval of the run holds together with this probability
	Power           float64   `json:"power"`
	PlanningEffect  float64   `json:"planning_effect"`
	EarlyStop       EarlyStop `json:"early_stop"`
	MissTolerance   int       `json:"miss_tolerance"`
	ParityTolerance float64   `json:"parity_tolerance"`
}

// Input is what one look knows of a run.
type Input struct {
	Series   []Series         // one per criterion, paired by window
	Coverage []CoverageWindow // critical processes per window complete for both (may hold only windows where the candidate lacked some)
	Parity   *ParityInput     // what both collectors received; nil when not measured
	Schedule Schedule         // the run's planned and maximum windows
	Look     LookKind         // which look this is: live, planned or extension
	Windows  int              // windows complete for both variants so far: a live look's index
	// Expected is the complete windows each variant should have delivered by a due look (the
	// run's duration so far, less its first and last, which may be partial); 0 does not check.
	Expected int
	// Dues counts the due looks taken so far, this one included: 0 before the planned look, 1
	// from it on, 1 + k from the k-th extension look on. At a due look (planned or extension) the
	// run's scheduled time is up, and a final verdict ends it whatever EarlyStop says.
	Dues int
	// Extendable is set when the run may still be extended (its maximum duration is not reached):
	// an undecided due look then continues instead of ending inconclusive.
	Extendable bool
}

// due reports whether the look ends a scheduled stretch of the run.
func (in Input) due() bool { return in.Look == Planned || in.Look == Extension }

// extension is the index of an extension look (1 for the first).
func (in Input) extension() int { return in.Dues - 1 }

// resolve fills in the defaults and checks the options.
func (o Options) resolve() (Settings, error) {
	s := Settings{Alpha: o.Alpha, Power: o.Power, PlanningEffect: o.PlanningEffect, EarlyStop: o.EarlyStop,
		MissTolerance: o.MissTolerance, ParityTolerance: o.ParityTolerance}
	if s.Alpha == 0 {
		s.Alpha = DefaultAlpha
	}
	if s.Power == 0 {
		s.Power = DefaultPower
	}
	if s.PlanningEffect == 0 {
		s.PlanningEffect = DefaultPlanningEffect
	}
	if s.ParityTolerance == 0 {
		s.ParityTolerance = DefaultParityTolerance
	}
	switch {
	case !(s.Alpha > 0 && s.Alpha < 1):
		return Settings{}, fmt.Errorf("%w: alpha %v", ErrParameter, s.Alpha)
	case !(s.Power > 0 && s.Power < 1):
		return Settings{}, fmt.Errorf("%w: power %v", ErrParameter, s.Power)
	case !(s.PlanningEffect > 0 && s.PlanningEffect < 1):
		return Settings{}, fmt.Errorf("%w: planning effect %v", ErrParameter, s.PlanningEffect)
	case !(s.ParityTolerance > 0 && s.ParityTolerance < 1):
		return Settings{}, fmt.Errorf("%w: parity tolerance %v", ErrParameter, s.ParityTolerance)
	case s.MissTolerance < 0 || s.EarlyStop.MinWindows < 0:
		return Settings{}, fmt.Errorf("%w: negative miss tolerance or minimum run", ErrParameter)
	}
	s.Confidence = 1 - s.Alpha
	return s, nil
}

// validate checks the look and the criteria.
func (in Input) validate() error {
	if err := in.Schedule.Validate(); err != nil {
		return err
	}
	switch {
	case in.Look != Live && in.Look != Planned && in.Look != Extension:
		return fmt.Errorf("%w: look %q is not live, planned or extension", ErrParameter, in.Look)
	case in.Windows < 0:
		return fmt.Errorf("%w: %d windows", ErrParameter, in.Windows)
	case in.Look == Planned && in.Dues != 1, in.Look == Extension && in.Dues < 2:
		return fmt.Errorf("%w: a %s look with %d due looks taken", ErrParameter, in.Look, in.Dues)
	}
	seen := map[string]bool{}
	for _, s := range in.Series {
		c := s.Criterion
		switch {
		case c.Metric == "" || seen[c.Metric]:
			return fmt.Errorf("%w: metric name %q is empty or repeated", ErrParameter, c.Metric)
		case c.Direction != LowerIsBetter && c.Direction != HigherIsBetter:
			return fmt.Errorf("%w: metric %s has direction %d", ErrParameter, c.Metric, c.Direction)
		case !(c.MinImprovement >= 0 && c.MinImprovement < 1):
			return fmt.Errorf("%w: metric %s: min improvement %v is not in [0, 1)", ErrParameter, c.Metric, c.MinImprovement)
		case !(c.Tolerance >= 0 && c.Tolerance < 1):
			return fmt.Errorf("%w: metric %s: tolerance %v is not in [0, 1)", ErrParameter, c.Metric, c.Tolerance)
		case !(c.ToleranceFloor >= 0 && !math.IsInf(c.ToleranceFloor, 0)):
			return fmt.Errorf("%w: metric %s: tolerance floor %v is not a finite number ≥ 0", ErrParameter, c.Metric, c.ToleranceFloor)
		}
		seen[c.Metric] = true
	}
	return nil
}
