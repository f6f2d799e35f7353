package analyzer

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoenixotel/phoenix/shared/analysis"
	"github.com/phoenixotel/phoenix/shared/experiment"
)

// The analyzer's metric names; deploy/monitoring's rules and dashboards query them, and
// test/monitoring checks them against what the analyzer really exports.
const (
	MetricDuration       = "phoenix_analysis_duration_seconds"
	MetricVerdicts       = "phoenix_analysis_verdicts_total"
	MetricMetricOutcomes = "phoenix_analysis_metric_outcomes_total"
)

// durationBuckets reach the default analyzing timeout (10 minutes): an analysis of a million
// samples takes about a second, so the upper buckets exist to show one approaching the timeout.
var durationBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}

// otherMetric labels a criterion whose metric is not one of Phoenix's KPIs (the API refuses such
// specs, so it should not occur): the label set stays the fixed KPI set whatever is stored.
const otherMetric = "other"

// metrics are the analyzer's instruments. Labels are verdicts, KPI names and outcomes, all fixed
// sets: never an experiment's or a tenant's id.
type metrics struct {
	duration *prometheus.HistogramVec // time to read an experiment's samples and decide (no labels)
	verdicts *prometheus.CounterVec   // analyses committed, by verdict
	outcomes *prometheus.CounterVec   // per-metric outcomes of committed analyses, by metric and outcome
}

// newMetrics creates the instruments with a series for every verdict and every KPI and outcome,
// so a rate over any of them reads zero rather than "no data" before the first analysis.
func newMetrics() *metrics {
	m := &metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    MetricDuration,
			Help:    "Time to analyse one experiment: reading both variants' KPI samples and deciding.",
			Buckets: durationBuckets,
		}, nil),
		verdicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricVerdicts,
			Help: "Analyses stored, by verdict (promote, reject, inconclusive, continue); a redelivered request is not counted again.",
		}, []string{"verdict"}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricMetricOutcomes,
			Help: "Per-metric outcomes of stored analyses, by KPI and outcome (improved, regressed, no_change, inconclusive).",
		}, []string{"metric", "outcome"}),
	}
	m.duration.WithLabelValues()
	for _, v := range verdicts() {
		m.verdicts.WithLabelValues(string(v))
	}
	for metric := range experiment.Metrics() {
		for _, o := range outcomes() {
			m.outcomes.WithLabelValues(metric, string(o))
		}
	}
	return m
}

// register adds the instruments to reg.
func (m *metrics) register(reg prometheus.Registerer) error {
	for i, c := range []prometheus.Collector{m.duration, m.verdicts, m.outcomes} {
		if err := reg.Register(c); err != nil {
			for _, done := range []prometheus.Collector{m.duration, m.verdicts, m.outcomes}[:i] {
				reg.Unregister(done)
			}
			return fmt.Errorf("analyzer: register metrics: %w", err)
		}
	}
	return nil
}

// analysed observes the time one analysis took.
func (m *metrics) analysed(d time.Duration) { m.duration.WithLabelValues().Observe(d.Seconds()) }

// stored counts a stored report's verdict and each metric's outcome.
func (m *metrics) stored(rep Report) {
	if known(verdicts(), rep.Verdict) {
		m.verdicts.WithLabelValues(string(rep.Verdict)).Inc()
	}
	kpis := experiment.Metrics()
	for _, md := range rep.Metrics {
		if !known(outcomes(), md.Outcome) {
			continue
		}
		metric := md.Metric
		if _, ok := kpis[metric]; !ok {
			metric = otherMetric
		}
		m.outcomes.WithLabelValues(metric, string(md.Outcome)).Inc()
	}
}

// verdicts and outcomes are the label values analysis.Decide can produce.
func verdicts() []experiment.Verdict {
	return []experiment.Verdict{experiment.VerdictPromote, experiment.VerdictReject, experiment.VerdictInconclusive, experiment.VerdictContinue, experiment.VerdictInvalid}
}

func outcomes() []analysis.Outcome {
	return []analysis.Outcome{analysis.Improved, analysis.Regressed, analysis.NoChange, analysis.Undecided}
}

func known[T comparable](set []T, v T) bool {
	for _, s := range set {
		if s == v {
			return true
		}
	}
	return false
}
