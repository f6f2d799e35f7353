package generator

import (
	"context"
	"testing"
	"time"

	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/pipeline"
	"github.com/phoenixotel/phoenix/shared/store"
	"github.com/phoenixotel/phoenix/test/monitoring/promtest"
)

func TestRenderDuration_OneObservationPerVariantRendered(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                string
		baseline, candidate store.PipelineChoice
		want                map[string]float64 // renders per template
	}{
		{"two templates", store.PipelineChoice{Template: "process-baseline"}, store.PipelineChoice{Template: "process-minimal"},
			map[string]float64{"process-baseline": 1, "process-minimal": 1}},
		{"one template for both", store.PipelineChoice{Template: "process-topk"}, store.PipelineChoice{Template: "process-topk", Parameters: map[string]any{"k": 3}},
			map[string]float64{"process-topk": 2}},
		{"a render that fails is timed too", store.PipelineChoice{Template: "process-baseline"},
			store.PipelineChoice{Template: "process-priority-filter", Parameters: map[string]any{"top_k": 5}},
			map[string]float64{"process-baseline": 1, "process-priority-filter": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g, _, tenant, exp := setup(t, tt.baseline, tt.candidate)
			reg := promtest.Registry(t, g.metrics.register)
			e, _ := events.New("req-1", events.ManifestsRequested, events.SourceController, tenant, exp, events.ExperimentRef{ExperimentID: exp})
			for range 2 { // a redelivery replays the stored reply: nothing is rendered again
				if _, err := g.Handle(context.Background(), e); err != nil {
					t.Fatal(err)
				}
			}
			for _, tmpl := range pipeline.Templates() {
				if got := promtest.Value(t, reg, MetricRenderDuration, promtest.Labels{"template": tmpl.Name}); got != tt.want[tmpl.Name] {
					t.Errorf("%s rendered %g times, want %g", tmpl.Name, got, tt.want[tmpl.Name])
				}
			}
		})
	}
}

func TestRenderDuration_LabelsAreTheTemplateSet(t *testing.T) {
	m := newMetrics()
	reg := promtest.Registry(t, m.register)
	if n := len(promtest.Series(t, reg, MetricRenderDuration)); n != len(pipeline.Templates()) {
		t.Fatalf("%d series before any render, want one per template (%d)", n, len(pipeline.Templates()))
	}
	m.rendered("process-topk", 3*time.Millisecond)
	m.rendered("../../etc/passwd", time.Millisecond)
	m.rendered("another-made-up-name", time.Millisecond)
	if got := promtest.Sum(t, reg, MetricRenderDuration, promtest.Labels{"template": "process-topk"}); got != 0.003 {
		t.Errorf("process-topk took %g s, want 0.003", got)
	}
	if got := promtest.Value(t, reg, MetricRenderDuration, promtest.Labels{"template": unknownTemplate}); got != 2 {
		t.Errorf("unknown templates: %g renders, want 2 under %q", got, unknownTemplate)
	}
	if n := len(promtest.Series(t, reg, MetricRenderDuration)); n != len(pipeline.Templates())+1 {
		t.Errorf("%d series: made-up template names must not become labels", n)
	}
}
