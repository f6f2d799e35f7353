package preview

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/phoenixotel/phoenix/shared/experiment"
)

// TestStatedErrors_CoverTheRunsChangeInSimulation measures, by seeded simulation, how often an
// experiment's measured change falls within the preview's stated error: one minus the false
// "does not hold" rate of the prediction check when the prediction is right, and its miss rate
// when it is wrong. A host runs N processes a window (Poisson around a mean,
// four series each); the candidate keeps the top 10 and two critical ones (12 processes, fewer
// when fewer run). A capture of 20 windows states the prediction and its error; a run of 30
// windows, paired, measures the change as the ratio of the variants' means. Stationary, with the
// host drifting by +15% processes between capture and run, and with a run whose pipeline is not
// the one previewed.
func TestStatedErrors_CoverTheRunsChangeInSimulation(t *testing.T) {
	const trials = 2000
	scenarios := []struct {
		name     string
		mean     float64 // processes a window at capture
		drift    float64 // relative change of that mean by the run
		keepRun  int     // processes the run's candidate keeps (the preview's keeps 12)
		min, max float64 // bounds on the share of runs within the stated error
	}{
		{"stationary, 40 processes", 40, 0, 12, 0.95, 1},
		{"stationary, 15 processes (top-k keeps most)", 15, 0, 12, 0.95, 1},
		{"the host grows 15% between capture and run", 40, 0.15, 12, 0.95, 1},
		// A wrong prediction must be caught: the run keeps 22 processes, not the 12 previewed.
		{"the run's pipeline keeps 22, not 12 (a wrong prediction)", 40, 0, 22, 0, 0.05},
	}
	for _, sc := range scenarios {
		rng := rand.New(rand.NewPCG(20261207, uint64(sc.mean*100+sc.drift*1000)+uint64(sc.keepRun)))
		window := func(mean float64, keep int) (in, out WindowCount) {
			n := poisson(rng, mean)
			kept := min(n, keep)
			return WindowCount{Series: 4 * n, Datapoints: int64(8 * n)}, WindowCount{Series: 4 * kept, Datapoints: int64(8 * kept)}
		}
		covered := 0
		var widths []float64
		for range trials {
			in := Summary{Window: 10 * time.Second, Windows: map[int64]WindowCount{}}
			out := Summary{Window: 10 * time.Second, Windows: map[int64]WindowCount{}}
			var sin, sout float64
			for w := range 20 {
				a, b := window(sc.mean, 12)
				in.Windows[int64(w)], out.Windows[int64(w)] = a, b
				sin, sout = sin+float64(a.Series), sout+float64(b.Series)
			}
			predicted := sout/sin - 1
			e := statedErrors(in, out, experiment.Prices{SeriesMonth: 0.008})["series"]
			widths = append(widths, e)
			var rin, rout float64
			for range 30 {
				a, b := window(sc.mean*(1+sc.drift), sc.keepRun)
				rin, rout = rin+float64(a.Series), rout+float64(b.Series)
			}
			if math.Abs((rout/rin-1)-predicted) <= e {
				covered++
			}
		}
		rate := float64(covered) / trials
		t.Logf("%s: the run's change within the stated error in %.1f%% of %d runs (±%.1f%% at 95%% confidence); median stated error %.1f pp",
			sc.name, 100*rate, trials, 100*1.96*math.Sqrt(rate*(1-rate)/trials), 100*median(widths))
		if rate < sc.min || rate > sc.max {
			t.Errorf("%s: within the stated error in %.3f of runs, want %.2f to %.2f", sc.name, rate, sc.min, sc.max)
		}
	}
}

func poisson(rng *rand.Rand, mean float64) int {
	// Knuth's method: fine for the means simulated here (< 100).
	l, k, p := math.Exp(-mean), 0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

func median(xs []float64) float64 {
	return slices.Sorted(slices.Values(xs))[len(xs)/2]
}
