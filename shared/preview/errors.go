package preview

import (
	"maps"
	"slices"

	"gonum.org/v1/gonum/stat"

	"github.com/phoenixotel/phoenix/shared/experiment"
)

// ErrorFloor is the part of a prediction's stated error that no capture can measure: the
// experiment meets the host minutes after the capture, with processes started and stopped since,
// and measures on windows of its own. Two percentage points of relative change; the demo host's
// confirmations land well inside it (docs/pipelines.md gives the figures).
const ErrorFloor = 0.02

// statedErrors bounds the predicted change of each KPI counted per window: ErrorFloor plus twice
// the standard deviation of the change window by window over the capture. When windows are alike,
// one window's change lies that close to the capture's mean about 95% of the time; an experiment
// averages many windows, so the bound is conservative. Bytes are not counted per window (their
// size is sampled, summary.go), so their change has no stated error. Nil without windows.
func statedErrors(in, out Summary, prices experiment.Prices) map[string]float64 {
	if len(in.Windows) == 0 || in.Window <= 0 {
		return nil
	}
	seconds := in.Window.Seconds()
	var series, points, cost []float64
	for _, w := range slices.Sorted(maps.Keys(in.Windows)) {
		a, b := in.Windows[w], out.Windows[w] // a window the pipeline emptied counts as zero
		if a.Series == 0 || a.Datapoints == 0 {
			continue
		}
		series = append(series, float64(b.Series)/float64(a.Series)-1)
		points = append(points, float64(b.Datapoints)/float64(a.Datapoints)-1)
		ca := prices.CostPerHour(float64(a.Series), float64(a.Datapoints)/seconds)
		if ca > 0 {
			cost = append(cost, prices.CostPerHour(float64(b.Series), float64(b.Datapoints)/seconds)/ca-1)
		}
	}
	errs := map[string]float64{}
	for name, changes := range map[string][]float64{"series": series, "datapoints_per_second": points, "cost_per_hour": cost} {
		if len(changes) == 0 {
			continue
		}
		sd := 0.0
		if len(changes) > 1 {
			sd = stat.StdDev(changes, nil)
		}
		errs[name] = ErrorFloor + 2*sd
	}
	return errs
}
