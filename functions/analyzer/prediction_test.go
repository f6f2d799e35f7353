package analyzer

import (
	"math"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/preview"
	"github.com/phoenixotel/phoenix/shared/store"
)

func TestCheckPrediction_ErrorPerMetricAndTheMonthsCost(t *testing.T) {
	p := Prediction{Recommendation: uuid.New(), Rates: preview.Rates{Series: 200, DatapointsPerSecond: 40, CostPerHour: 0.002},
		Series: map[string]store.PairedSeries{
			"series":                {Baseline: []float64{1000, 1000}, Candidate: []float64{190, 230}},
			"datapoints_per_second": {Baseline: []float64{200, 200}, Candidate: []float64{40, 40}},
			"cost_per_hour":         {Baseline: []float64{0.011, 0.011}, Candidate: []float64{0.0021, 0.0023}},
		}}
	c := checkPrediction(p, experiment.Prices{SeriesMonth: 0.008})
	want := map[string][2]float64{"series": {210, 0.05}, "datapoints_per_second": {40, 0}, "cost_per_hour": {0.0022, 0.1}}
	if len(c.Metrics) != 3 {
		t.Fatalf("metrics %+v (bytes_per_second has no windows: left out)", c.Metrics)
	}
	for _, m := range c.Metrics {
		w := want[m.Metric]
		if math.Abs(m.Measured-w[0]) > 1e-9 || math.Abs(m.Error-w[1]) > 1e-9 {
			t.Errorf("%s: measured %v error %v, want %v and %v", m.Metric, m.Measured, m.Error, w[0], w[1])
		}
	}
	if math.Abs(c.CostPerMonth.Baseline-0.011*730.5) > 1e-9 || math.Abs(c.CostPerMonth.Candidate-0.0022*730.5) > 1e-9 ||
		!strings.Contains(c.Detail, "series 200 predicted, 210 measured (+5.0%)") || !strings.Contains(c.Detail, "$0.008 per series-month") {
		t.Errorf("check %+v", c)
	}
	if checkPrediction(Prediction{Rates: p.Rates}, experiment.Prices{}) != nil {
		t.Error("a check without windows")
	}
}
