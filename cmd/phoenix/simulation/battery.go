package simulation

import (
	"fmt"
	"math"

	"github.com/phoenixotel/phoenix/shared/analysis"
)

// Claim is what a scenario must show for the decision procedure to be right under its
// conditions.
type Claim string

// Claims of the battery.
const (
	// FalsePromotions: identical variants are promoted in at most alpha of runs (within Monte
	// Carlo error: two standard errors at alpha).
	FalsePromotions Claim = "false promotions ≤ alpha"
	// Power: a candidate that saves what the scenario says is promoted in at least 90% of runs.
	Power Claim = "promoted in ≥ 90% of runs"
	// AlwaysRejected: a candidate that loses a critical process beyond the tolerance is rejected
	// in every run.
	AlwaysRejected Claim = "rejected in every run"
	// AlwaysInvalid: collectors that received unequal inputs make every run invalid.
	AlwaysInvalid Claim = "invalid in every run"
	// Measured: no claim, the figures are reported (the power curve beyond the claimed point).
	Measured Claim = "measured"
)

// Case is a scenario with the claim it must show.
type Case struct {
	Scenario
	Claim Claim
}

// Check returns what the result breaks of the claim, or "" when it holds.
func (c Case) Check(r Result) string {
	n := float64(r.Scenario.Runs)
	switch c.Claim {
	case FalsePromotions:
		p, _ := r.Rate(r.Promoted)
		if limit := analysis.DefaultAlpha + 2*math.Sqrt(analysis.DefaultAlpha*(1-analysis.DefaultAlpha)/n); p > limit {
			return fmt.Sprintf("promoted in %.2f%% of A/A runs, above %.2f%% (alpha and two Monte Carlo standard errors)", 100*p, 100*limit)
		}
	case Power:
		if p, _ := r.Rate(r.Promoted); p < 0.9 {
			return fmt.Sprintf("promoted in %.1f%% of runs, below 90%%", 100*p)
		}
	case AlwaysRejected:
		if r.Rejected != r.Scenario.Runs {
			return fmt.Sprintf("rejected in %d of %d runs", r.Rejected, r.Scenario.Runs)
		}
	case AlwaysInvalid:
		if r.Invalid != r.Scenario.Runs {
			return fmt.Sprintf("invalid in %d of %d runs", r.Invalid, r.Scenario.Runs)
		}
	}
	return ""
}

// Battery is the simulation suite of the decision procedure, each scenario with runs runs:
//
//   - A/A runs (the candidate is the baseline) whose variants' own noise is an AR(1) with lag-1
//     0, 0.5, 0.8 and 0.9, over 12 to 240 windows, with a fixed horizon, with live looks and
//     early stopping, and with the continue loop; and with 10% of windows lost. Noise of each
//     variant is its own (nothing shared), the worst case for a paired comparison: the
//     differences carry the full autocorrelation. The claim: false promotions ≤ alpha.
//   - Power: a candidate that saves 20% on every goal with guardrails unchanged, when host-wide
//     noise (10%, lag-1 0.8) is shared by both variants and each collector's own noise is 2% on
//     goals and 0.5% on guardrails: promoted in ≥ 90% of runs by 12 windows. The same with 1% and
//     2% of own guardrail noise, and a demo-like run (no shared noise, a collector's CPU measured
//     to ±8%), are measured.
//   - A candidate that saves 20% but loses one of three critical processes in 1 or 3 windows:
//     rejected in every run, fixed or with early stopping.
//   - Collectors whose inputs differ by 25%, or a candidate's collector down for the first quarter
//     of the run: invalid in every run; windows lost at random on both sides (10%) are left out
//     of the pairs and make nothing invalid.
//
// Seeds are fixed per scenario, so the figures repeat.
func Battery(runs int) []Case {
	var out []Case
	seed := uint64(1)
	add := func(c Case) {
		c.Runs, c.Seed = runs, seed
		seed++
		out = append(out, c)
	}
	for _, mode := range []Mode{Fixed, Sequential, ContinueLoop} {
		for _, n := range []int{12, 24, 48, 120, 240} {
			if mode == ContinueLoop && n > 48 {
				continue // extensions of long runs add looks the sequential runs already take
			}
			for _, rho := range []float64{0, 0.5, 0.8, 0.9} {
				add(Case{Scenario: Scenario{Name: fmt.Sprintf("A/A %s n=%d lag1=%.1f", mode, n, rho), Mode: mode, Windows: n,
					Lag1: rho, Own: 0.05, Guard: 0.05}, Claim: FalsePromotions})
			}
		}
	}
	for _, rho := range []float64{0.5, 0.9} {
		add(Case{Scenario: Scenario{Name: fmt.Sprintf("A/A sequential n=48 lag1=%.1f, 10%% of windows lost", rho), Mode: Sequential, Windows: 48,
			Lag1: rho, Own: 0.05, Guard: 0.05, Missing: 0.1}, Claim: FalsePromotions})
	}
	shared := Scenario{Shared: 0.1, SharedLag1: 0.8, Own: 0.02, Effect: -0.2}
	for _, mode := range []Mode{Fixed, Sequential} {
		s := shared
		s.Name, s.Mode, s.Windows, s.Guard = fmt.Sprintf("saves 20%%, shared host noise, guardrails ±0.5%%, %s n=12", mode), mode, 12, 0.005
		add(Case{Scenario: s, Claim: Power})
	}
	for _, guard := range []float64{0.01, 0.02} {
		for _, n := range []int{12, 24, 48} {
			s := shared
			s.Name, s.Mode, s.Windows, s.Guard = fmt.Sprintf("saves 20%%, shared host noise, guardrails ±%g%%, sequential n=%d", 100*guard, n), Sequential, n, guard
			add(Case{Scenario: s, Claim: Measured})
		}
	}
	for _, n := range []int{12, 24, 48} {
		add(Case{Scenario: Scenario{Name: fmt.Sprintf("demo-like: saves 80%%, CPU −12%% ±8%%, sequential n=%d", n), Mode: Sequential, Windows: n,
			Own: 0.05, Guard: 0.08, Effect: -0.8, Harm: -0.12}, Claim: Measured})
	}
	for _, mode := range []Mode{Fixed, Sequential} {
		for _, misses := range []int{1, 3} {
			add(Case{Scenario: Scenario{Name: fmt.Sprintf("saves 20%% but loses a critical process in %d windows, %s n=12", misses, mode), Mode: mode,
				Windows: 12, Shared: 0.1, SharedLag1: 0.8, Own: 0.02, Guard: 0.005, Effect: -0.2, Misses: misses}, Claim: AlwaysRejected})
		}
	}
	add(Case{Scenario: Scenario{Name: "inputs differ by 25%, sequential n=12", Mode: Sequential, Windows: 12, Shared: 0.1, SharedLag1: 0.8,
		Own: 0.02, Guard: 0.005, Effect: -0.2, Unequal: 0.25}, Claim: AlwaysInvalid})
	add(Case{Scenario: Scenario{Name: "the candidate's collector down for the first quarter, sequential n=120", Mode: Sequential, Windows: 120,
		Shared: 0.1, SharedLag1: 0.8, Own: 0.02, Guard: 0.005, Effect: -0.2, Outage: 0.25}, Claim: AlwaysInvalid})
	return out
}
