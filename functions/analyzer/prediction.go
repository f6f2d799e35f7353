package analyzer

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"gonum.org/v1/gonum/stat"

	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/preview"
	"github.com/phoenixotel/phoenix/shared/store"
)

// predictedMetrics are the KPIs a preview predicts and a run measures alike.
var predictedMetrics = []string{"series", "datapoints_per_second", "bytes_per_second", "cost_per_hour"}

// Prediction is what the run set out to confirm: the recommendation's preview of the candidate.
type Prediction struct {
	Recommendation uuid.UUID     // the recommendation the experiment was started from
	Rates          preview.Rates // its predicted output
	Series         map[string]store.PairedSeries
}

// PredictionCheck compares a recommendation's prediction with what the run measured.
type PredictionCheck struct {
	Recommendation uuid.UUID         `json:"recommendation"`
	Metrics        []PredictedMetric `json:"metrics"`
	// CostPerMonth projects both variants' measured mean cost_per_hour over a month (× 730.5 h)
	// under the price model.
	CostPerMonth struct {
		Baseline  float64 `json:"baseline"`
		Candidate float64 `json:"candidate"`
	} `json:"cost_per_month"`
	PriceModel experiment.Prices `json:"price_model"`
	Detail     string            `json:"detail"` // in words
}

// PredictedMetric is one KPI's prediction and measurement.
type PredictedMetric struct {
	Metric    string  `json:"metric"`
	Predicted float64 `json:"predicted"` // the preview's, for the candidate
	Measured  float64 `json:"measured"`  // the candidate's mean over the paired windows
	Error     float64 `json:"error"`     // (measured − predicted) / predicted
}

// checkPrediction compares p with the means of the paired windows; nil when no window pairs.
func checkPrediction(p Prediction, prices experiment.Prices) *PredictionCheck {
	// The series KPI counts each window's series: the preview's per-window count when it has one.
	predicted := map[string]float64{"series": cmp.Or(p.Rates.SeriesPerWindow, float64(p.Rates.Series)), "datapoints_per_second": p.Rates.DatapointsPerSecond,
		"bytes_per_second": p.Rates.BytesPerSecond, "cost_per_hour": p.Rates.CostPerHour}
	c := &PredictionCheck{Recommendation: p.Recommendation, PriceModel: prices, Metrics: []PredictedMetric{}}
	var words []string
	for _, m := range predictedMetrics {
		s := p.Series[m]
		if len(s.Candidate) == 0 {
			continue
		}
		pm := PredictedMetric{Metric: m, Predicted: predicted[m], Measured: stat.Mean(s.Candidate, nil)}
		if pm.Predicted != 0 {
			pm.Error = (pm.Measured - pm.Predicted) / pm.Predicted
		}
		c.Metrics = append(c.Metrics, pm)
		words = append(words, fmt.Sprintf("%s %.4g predicted, %.4g measured (%+.1f%%)", m, pm.Predicted, pm.Measured, 100*pm.Error))
		if m == "cost_per_hour" {
			c.CostPerMonth.Baseline = stat.Mean(s.Baseline, nil) * experiment.HoursPerMonth
			c.CostPerMonth.Candidate = pm.Measured * experiment.HoursPerMonth
		}
	}
	if len(c.Metrics) == 0 {
		return nil
	}
	c.Detail = "the recommendation predicted, for the candidate: " + strings.Join(words, "; ") +
		fmt.Sprintf(". A month at the measured means: $%.2f baseline, $%.2f candidate ($%.4g per series-month, $%.4g per million datapoints)",
			c.CostPerMonth.Baseline, c.CostPerMonth.Candidate, prices.SeriesMonth, prices.MillionDatapoints)
	return c
}
