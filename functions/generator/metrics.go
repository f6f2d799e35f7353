package generator

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoenixotel/phoenix/shared/pipeline"
)

// MetricRenderDuration is the generator's metric name; deploy/monitoring's dashboards query it,
// and test/monitoring checks it against what the generator really exports.
const MetricRenderDuration = "phoenix_generator_render_duration_seconds"

// unknownTemplate labels a render of a template Phoenix does not have (it fails at once), so the
// label set stays pipeline.Templates() whatever an experiment names.
const unknownTemplate = "unknown"

// metrics are the generator's instruments; the one label is a template name from a fixed set.
type metrics struct {
	render *prometheus.HistogramVec // time to render one variant's configuration and manifests, by template
}

// newMetrics creates the instruments with a series for every template, so a rate over any of them
// reads zero rather than "no data" before the template's first render.
func newMetrics() *metrics {
	m := &metrics{render: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    MetricRenderDuration,
		Help:    "Time to render one variant's collector configuration and Kubernetes manifests, by template.",
		Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1},
	}, []string{"template"})}
	for _, t := range pipeline.Templates() {
		m.render.WithLabelValues(t.Name)
	}
	return m
}

// register adds the instruments to reg.
func (m *metrics) register(reg prometheus.Registerer) error {
	if err := reg.Register(m.render); err != nil {
		return fmt.Errorf("generator: register metrics: %w", err)
	}
	return nil
}

// rendered observes one variant's render of template.
func (m *metrics) rendered(template string, d time.Duration) {
	if _, ok := pipeline.Lookup(template); !ok {
		template = unknownTemplate
	}
	m.render.WithLabelValues(template).Observe(d.Seconds())
}
