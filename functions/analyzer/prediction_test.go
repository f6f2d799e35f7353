package analyzer

import (
	"math"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/analysis"
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
	c := checkPrediction(p, nil, experiment.Prices{SeriesMonth: 0.008})
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
	if c.Confirmed || !strings.Contains(c.Detail, "0 of 0 predicted changes") {
		t.Errorf("a prediction without stated errors confirmed nothing: %v %q", c.Confirmed, c.Detail)
	}
	if checkPrediction(Prediction{Rates: p.Rates}, nil, experiment.Prices{}) != nil {
		t.Error("a check without windows")
	}
}

// TestCheckPrediction_TheChangeWithinItsStatedError: measured changes, baseline to candidate,
// set against the predicted ones and their stated errors, metric by metric.
func TestCheckPrediction_TheChangeWithinItsStatedError(t *testing.T) {
	series := map[string]store.PairedSeries{
		"series":                {Baseline: []float64{1000, 1000}, Candidate: []float64{190, 230}}, // −79%
		"datapoints_per_second": {Baseline: []float64{200, 200}, Candidate: []float64{40, 40}},     // −80%
		"cost_per_hour":         {Baseline: []float64{0.011, 0.011}, Candidate: []float64{0.0021, 0.0023}},
	}
	tests := []struct {
		name      string
		change    map[string]float64
		errs      map[string]float64
		within    map[string]bool // by metric; absent: no stated error
		confirmed bool
		intervals map[string]*analysis.Change // the verdict's, by metric
		outcome   string                      // in the detail
	}{
		{"the verdict's estimate, not the means' ratio", map[string]float64{"series": -0.7}, map[string]float64{"series": 0.02},
			map[string]bool{"series": true}, true, map[string]*analysis.Change{"series": {Estimate: -0.71, Low: -0.75, High: -0.67}}, "The prediction holds"},
		{"outside, a wide interval cannot tell", map[string]float64{"series": -0.7}, map[string]float64{"series": 0.02},
			map[string]bool{"series": false}, false, map[string]*analysis.Change{"series": {Estimate: -0.6, Low: -0.9, High: -0.3}}, "intervals are too wide to tell"},
		{"outside, a narrow interval rules it out", map[string]float64{"series": -0.7}, map[string]float64{"series": 0.02},
			map[string]bool{"series": false}, false, map[string]*analysis.Change{"series": {Estimate: -0.6, Low: -0.65, High: -0.55}}, "does not hold: 0 of 1 predicted changes measured within their stated error, 1 ruled out"},
		{"every change within", map[string]float64{"series": -0.8, "datapoints_per_second": -0.8, "cost_per_hour": -0.8},
			map[string]float64{"series": 0.02, "datapoints_per_second": 0.02, "cost_per_hour": 0.02},
			map[string]bool{"series": true, "datapoints_per_second": true, "cost_per_hour": true}, true, nil, "The prediction holds"},
		{"the cost outside", map[string]float64{"series": -0.8, "datapoints_per_second": -0.8, "cost_per_hour": -0.85},
			map[string]float64{"series": 0.02, "datapoints_per_second": 0.02, "cost_per_hour": 0.03},
			map[string]bool{"series": true, "datapoints_per_second": true, "cost_per_hour": false}, false, nil, "1 ruled out"},
		{"the series one point too far", map[string]float64{"series": -0.70, "datapoints_per_second": -0.8},
			map[string]float64{"series": 0.08, "datapoints_per_second": 0.02},
			map[string]bool{"series": false, "datapoints_per_second": true}, false, nil, "1 ruled out"},
		{"only what has an error is checked", map[string]float64{"series": -0.78, "cost_per_hour": -0.5},
			map[string]float64{"series": 0.02}, map[string]bool{"series": true}, true, nil, "The prediction holds: 1 of 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := checkPrediction(Prediction{Change: tt.change, Error: tt.errs, Series: series}, tt.intervals, experiment.Prices{SeriesMonth: 0.008})
			if c.Confirmed != tt.confirmed {
				t.Errorf("confirmed %v, want %v: %s", c.Confirmed, tt.confirmed, c.Detail)
			}
			for _, m := range c.Metrics {
				want, stated := tt.within[m.Metric]
				if (m.Within != nil) != stated || stated && *m.Within != want {
					t.Errorf("%s: within %v, want %v (stated: %v); measured change %v", m.Metric, m.Within, want, stated, m.MeasuredChange)
				}
			}
			if !strings.Contains(c.Detail, tt.outcome) {
				t.Errorf("detail %q, want %q in it", c.Detail, tt.outcome)
			}
		})
	}
}
