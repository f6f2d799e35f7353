package simulation

import (
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/phoenixotel/phoenix/shared/analysis"
)

// The noise the scenarios are made of has the autocorrelation and spread they say.
func TestAR1_HasItsLag1AndSpread(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, rho := range []float64{0, 0.5, 0.9} {
		xs := make([]float64, 200_000)
		ar1(xs, rho, 0.05, r)
		lag, _ := analysis.Lag1Autocorrelation(xs)
		s, _ := analysis.Summarize(xs)
		if math.Abs(lag-rho) > 0.01 || math.Abs(math.Sqrt(s.Variance)-0.05) > 0.002 {
			t.Errorf("lag-1 %.3f (want %.1f), sd %.4f (want 0.05)", lag, rho, math.Sqrt(s.Variance))
		}
	}
}

// A scenario's seed fixes every run: the figures in the docs repeat.
func TestRun_IsSeeded(t *testing.T) {
	s := Scenario{Name: "repeat", Mode: Sequential, Windows: 12, Runs: 30, Seed: 7, Lag1: 0.5, Own: 0.05, Guard: 0.05, Effect: -0.1}
	a, err := Run(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Run(s, analysis.NewCache())
	if err != nil {
		t.Fatal(err)
	}
	if a.Promoted != b.Promoted || a.Rejected != b.Rejected || a.Inconclusive != b.Inconclusive || a.Windows != b.Windows || a.Looks != b.Looks {
		t.Fatalf("the same seed gave %+v and %+v", a, b)
	}
	if a.Looks < 9 {
		t.Errorf("a sequential run of 12 windows took %.1f looks", a.Looks)
	}
	if _, err := Run(Scenario{Name: "none"}, nil); err == nil {
		t.Error("a scenario without runs accepted")
	}
}

// The battery's claims hold on a reduced battery: the false-promotion rate of A/A runs under
// autocorrelation, with live looks and the continue loop; the power to promote a real saving by
// 12 windows; the safety rules. The full battery (2,000 runs per scenario) is `phoenix simulate`;
// its figures are in docs/analysis.md.
func TestBattery_ClaimsHold(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	keep := func(name string) bool {
		switch {
		case strings.HasPrefix(name, "A/A fixed"), strings.HasPrefix(name, "A/A sequential"):
			return (strings.Contains(name, "n=12 ") || strings.Contains(name, "n=48 ")) && !strings.Contains(name, "lag1=0.8")
		case strings.HasPrefix(name, "A/A continue"):
			return strings.Contains(name, "n=12 ") && (strings.Contains(name, "lag1=0.5") || strings.Contains(name, "lag1=0.9"))
		case strings.Contains(name, "guardrails ±0.5%"), strings.Contains(name, "loses a critical process"), strings.Contains(name, "inputs differ"),
			strings.Contains(name, "down for the first quarter"), strings.Contains(name, "windows lost"):
			return true
		}
		return false
	}
	cache := analysis.NewCache()
	var mu sync.Mutex
	ran := 0
	for _, c := range Battery(200) {
		if !keep(c.Name) {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			r, err := Run(c.Scenario, cache)
			if err != nil {
				t.Fatal(err)
			}
			if problem := c.Check(r); problem != "" {
				t.Error(problem)
			}
			p, se := r.Rate(r.Promoted)
			t.Logf("promoted %.1f%% ± %.1f, rejected %d, inconclusive %d, invalid %d, early %d of %d runs", 100*p, 100*se,
				r.Rejected, r.Inconclusive, r.Invalid, r.Early, c.Runs)
			mu.Lock()
			ran++
			mu.Unlock()
		})
	}
	t.Cleanup(func() {
		if ran < 20 {
			t.Errorf("only %d scenarios ran: the battery's names changed under the filter", ran)
		}
	})
}

func TestCase_Check(t *testing.T) {
	r := func(promoted, rejected, invalid int) Result {
		return Result{Scenario: Scenario{Runs: 1000}, Promoted: promoted, Rejected: rejected, Invalid: invalid}
	}
	cases := []struct {
		claim Claim
		r     Result
		fails bool
	}{
		{FalsePromotions, r(50, 0, 0), false},
		{FalsePromotions, r(70, 0, 0), true}, // 7% > 5% + 2 × 0.69%
		{Power, r(900, 0, 0), false},
		{Power, r(899, 0, 0), true},
		{AlwaysRejected, r(0, 1000, 0), false},
		{AlwaysRejected, r(1, 999, 0), true},
		{AlwaysInvalid, r(0, 0, 999), true},
		{Measured, r(0, 0, 0), false},
	}
	for _, c := range cases {
		if got := (Case{Claim: c.claim}).Check(c.r) != ""; got != c.fails {
			t.Errorf("%s on %+v: fails %v, want %v", c.claim, c.r, got, c.fails)
		}
	}
}
