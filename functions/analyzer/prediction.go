package analyzer

import (
	"fmt"
	"math"
	"strings"

	"github.com/google/uuid"
	"gonum.org/v1/gonum/stat"

	"github.com/phoenixotel/phoenix/shared/analysis"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/preview"
	"github.com/phoenixotel/phoenix/shared/store"
)

// predictedMetrics are the KPIs a preview predicts and a run measures alike.
var predictedMetrics = []string{"series", "datapoints_per_second", "bytes_per_second", "cost_per_hour"}

// Prediction is what the run set out to confirm: the recommendation's preview of the candidate.
type Prediction struct {
	Recommendation uuid.UUID          // the recommendation the experiment was started from
	Rates          preview.Rates      // its predicted output
	Change         map[string]float64 // its predicted change of each KPI
	Error          map[string]float64 // the stated error of each change
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
	// Confirmed: every change with a stated error was measured within it.
	Confirmed bool   `json:"confirmed"`
	Detail    string `json:"detail"` // in words
}

// PredictedMetric is one KPI's prediction and measurement.
type PredictedMetric struct {
	Metric    string  `json:"metric"`
	Predicted float64 `json:"predicted"` // the preview's, for the candidate
	Measured  float64 `json:"measured"`  // the candidate's mean over the paired windows
	Error     float64 `json:"error"`     // (measured − predicted) / predicted
	// The change from baseline to candidate: predicted by the preview, measured by the verdict
	// (else as the ratio of the variants' means over the paired windows). Levels drift between capture and run (the
	// host's processes come and go); the change is what the recommendation promised.
	PredictedChange float64 `json:"predicted_change"`
	MeasuredChange  float64 `json:"measured_change"`
	// StatedError is the preview's stated error of the change (absent: none stated), and Within
	// whether the measured change fell inside it.
	StatedError *float64 `json:"stated_error,omitempty"`
	Within      *bool    `json:"within,omitempty"`
	// Interval is the verdict's interval of the change, when the metric was decided on; RuledOut
	// says it lies wholly outside the predicted change ± its stated error (without an interval:
	// the change is outside it).
	Interval *analysis.Change `json:"interval,omitempty"`
	RuledOut bool             `json:"ruled_out,omitempty"`
}

// checkPrediction compares p with the means of the paired windows, and each predicted change with
// the change the run measured: the verdict's estimate and interval (changes, by metric) where the
// metric was decided on, else the ratio of the variants' means. Nil when no window pairs.
func checkPrediction(p Prediction, changes map[string]*analysis.Change, prices experiment.Prices) *PredictionCheck {
	// The series KPI counts each window's series: the preview's per-window count when it has one.
	predicted := map[string]float64{"series": p.Rates.SeriesKPI(), "datapoints_per_second": p.Rates.DatapointsPerSecond,
		"bytes_per_second": p.Rates.BytesPerSecond, "cost_per_hour": p.Rates.CostPerHour}
	c := &PredictionCheck{Recommendation: p.Recommendation, PriceModel: prices, Metrics: []PredictedMetric{}}
	var words []string
	checked, held, ruledOut := 0, 0, 0
	for _, m := range predictedMetrics {
		s := p.Series[m]
		if len(s.Candidate) == 0 {
			continue
		}
		base := stat.Mean(s.Baseline, nil)
		pm := PredictedMetric{Metric: m, Predicted: predicted[m], Measured: stat.Mean(s.Candidate, nil), PredictedChange: p.Change[m]}
		if pm.Predicted != 0 {
			pm.Error = (pm.Measured - pm.Predicted) / pm.Predicted
		}
		if ch := changes[m]; ch != nil {
			pm.MeasuredChange, pm.Interval = ch.Estimate, ch
		} else if base != 0 {
			pm.MeasuredChange = pm.Measured/base - 1
		}
		word := fmt.Sprintf("%s %.4g predicted, %.4g measured (%+.1f%%)", m, pm.Predicted, pm.Measured, 100*pm.Error)
		if e, ok := p.Error[m]; ok {
			in := math.Abs(pm.MeasuredChange-pm.PredictedChange) <= e
			// Ruled out: the run's interval lies wholly outside the predicted band.
			pm.RuledOut = !in && (pm.Interval == nil || pm.Interval.High < pm.PredictedChange-e || pm.Interval.Low > pm.PredictedChange+e)
			pm.StatedError, pm.Within = &e, &in
			checked++
			verdict := "outside, and its interval rules the prediction out"
			switch {
			case in:
				held++
				verdict = "within"
			case !pm.RuledOut:
				verdict = fmt.Sprintf("outside, but its interval [%+.1f%%, %+.1f%%] cannot rule the prediction out", 100*pm.Interval.Low, 100*pm.Interval.High)
			default:
				ruledOut++
			}
			word = fmt.Sprintf("%s change %+.1f%% ± %.1f pp predicted, %+.1f%% measured: %s (level %.4g predicted, %.4g measured)",
				m, 100*pm.PredictedChange, 100*e, 100*pm.MeasuredChange, verdict, pm.Predicted, pm.Measured)
		}
		c.Metrics = append(c.Metrics, pm)
		words = append(words, word)
		if m == "cost_per_hour" {
			c.CostPerMonth.Baseline = base * experiment.HoursPerMonth
			c.CostPerMonth.Candidate = pm.Measured * experiment.HoursPerMonth
		}
	}
	if len(c.Metrics) == 0 {
		return nil
	}
	c.Confirmed = checked > 0 && held == checked
	outcome := fmt.Sprintf("%d of %d predicted changes measured within their stated error", held, checked)
	switch {
	case c.Confirmed:
		outcome = "The prediction holds: " + outcome
	case ruledOut > 0:
		outcome = fmt.Sprintf("The prediction does not hold: %s, %d ruled out", outcome, ruledOut)
	default:
		outcome = "The prediction is not confirmed: " + outcome + "; the others' intervals are too wide to tell"
	}
	c.Detail = "the recommendation predicted, for the candidate: " + strings.Join(words, "; ") + ". " + outcome +
		fmt.Sprintf(". A month at the measured means: $%.2f baseline, $%.2f candidate ($%.4g per series-month, $%.4g per million datapoints)",
			c.CostPerMonth.Baseline, c.CostPerMonth.Candidate, prices.SeriesMonth, prices.MillionDatapoints)
	return c
}
