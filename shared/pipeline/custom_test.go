package pipeline

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func filter(name string, conditions ...string) Processor {
	return Processor{Name: name, Config: map[string]any{"metrics": map[string]any{"datapoint": toAny(conditions)}}}
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func TestCustom_ValidateRefusesWhatCouldLeaveTheCollector(t *testing.T) {
	many := make([]Processor, MaxCustomProcessors+1)
	for i := range many {
		many[i] = Processor{Name: "resource/r" + strings.Repeat("x", i)}
	}
	huge := Processor{Name: "transform", Config: map[string]any{"metric_statements": []any{strings.Repeat("x", MaxCustomConfigBytes)}}}
	tests := []struct {
		name    string
		c       Custom
		mention string // "" when valid
	}{
		{"a filter", Custom{Processors: []Processor{filter("filter/idle", `metric.name == "process.threads"`)}}, ""},
		{"every allowed type", Custom{Processors: func() []Processor {
			var ps []Processor
			for _, typ := range sortedKeys(CustomProcessors()) {
				ps = append(ps, Processor{Name: typ + "/x"})
			}
			return ps
		}()}, ""},
		{"nothing", Custom{}, "give 1 to 20 processors"},
		{"too many", Custom{Processors: many}, "give 1 to 20 processors"},
		{"too large", Custom{Processors: []Processor{huge}}, "at most 64 KiB"},
		{"an exporter", Custom{Processors: []Processor{{Name: "otlp_http/elsewhere"}}}, "not a processor a custom pipeline may use"},
		{"Phoenix's batch", Custom{Processors: []Processor{{Name: "batch"}}}, "not a processor a custom pipeline may use"},
		{"Phoenix's identity", Custom{Processors: []Processor{{Name: "resource/phoenix"}}}, "resource/phoenix is Phoenix's own"},
		{"twice", Custom{Processors: []Processor{{Name: "filter/a"}, {Name: "filter/a"}}}, "listed twice"},
		{"not an id", Custom{Processors: []Processor{{Name: "Filter: {}"}}}, "not a component id"},
		{"an endpoint", Custom{Processors: []Processor{{Name: "transform", Config: map[string]any{"nested": map[string]any{"Endpoint": "http://evil"}}}}}, `"Endpoint" is not allowed`},
		{"an environment variable", Custom{Processors: []Processor{filter("filter", `resource.attributes["k"] == "${env:PHOENIX_DATABASE_URL}"`)}}, "expansion is not allowed"},
		{"a file", Custom{Processors: []Processor{{Name: "resource", Config: map[string]any{"attributes": []any{map[string]any{"key": "k", "value": "${file:/etc/shadow}"}}}}}}, "expansion is not allowed"},
		{"an expansion in a key", Custom{Processors: []Processor{{Name: "resource", Config: map[string]any{"${env:X}": 1}}}}, "expansion is not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strings.Join(tt.c.Validate(), "; ")
			if (tt.mention == "") != (got == "") || !strings.Contains(got, tt.mention) {
				t.Fatalf("problems %q, want mention of %q", got, tt.mention)
			}
		})
	}
}

func TestRender_CustomPutsTheTenantsProcessorsBetweenPhoenixsOwn(t *testing.T) {
	// Strings that would break YAML, or add a key, if they were pasted into the document.
	hostile := "a: b\n- c\n}{ ]: \"'#&*!|>%@`"
	c := &Custom{Processors: []Processor{
		filter("filter/idle", `metric.name == "process.threads"`, hostile),
		{Name: "metrics_transform", Config: map[string]any{"transforms": []any{map[string]any{"include": "process.cpu.time", "action": "update",
			"operations": []any{map[string]any{"action": "aggregate_labels", "label_set": []any{}, "aggregation_type": "sum"}}}}}},
	}}
	r := request(CustomTemplate, Kubernetes)
	r.Params, r.Custom = map[string]string{"collection_interval": "5s"}, c
	cfg, err := Render(r)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Receivers  map[string]map[string]any `json:"receivers"`
		Processors map[string]map[string]any `json:"processors"`
		Exporters  map[string]any            `json:"exporters"`
		Service    struct {
			Pipelines map[string]struct {
				Processors []string `json:"processors"`
			} `json:"pipelines"`
		} `json:"service"`
	}
	if err := yaml.Unmarshal(cfg, &doc); err != nil {
		t.Fatalf("the rendered configuration is not YAML: %v\n%s", err, cfg)
	}
	if got := doc.Service.Pipelines["metrics/phoenix"].Processors; !reflect.DeepEqual(got, []string{"memory_limiter", "filter/idle", "metrics_transform", "resource/phoenix", "batch"}) {
		t.Errorf("pipeline order %v", got)
	}
	for _, p := range c.Processors {
		if !reflect.DeepEqual(doc.Processors[p.Name], p.Config) {
			t.Errorf("%s rendered as %v, want exactly %v", p.Name, doc.Processors[p.Name], p.Config)
		}
	}
	if len(doc.Processors) != 5 || len(doc.Exporters) != 1 || doc.Receivers["host_metrics"]["collection_interval"] != "5s" {
		t.Errorf("processors %d, exporters %v, receiver %v", len(doc.Processors), doc.Exporters, doc.Receivers)
	}
	if problems := Check(cfg); problems != nil {
		t.Errorf("Phoenix's own checks: %v", problems)
	}

	// Without processors, or with invalid ones, nothing renders.
	r.Custom = nil
	var pe *ParamError
	if _, err := Render(r); !errors.As(err, &pe) || !strings.Contains(err.Error(), "needs its processors") {
		t.Errorf("no processors: %v", err)
	}
	r.Custom = &Custom{Processors: []Processor{{Name: "otlp"}}}
	if _, err := Render(r); !errors.As(err, &pe) {
		t.Errorf("an exporter as a processor: %v", err)
	}
	if d := ScrapeInterval(CustomTemplate, map[string]any{"collection_interval": "5s"}); d.Seconds() != 5 {
		t.Errorf("scrape interval of a custom pipeline: %v", d)
	}
}
