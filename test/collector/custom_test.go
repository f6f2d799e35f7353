package collector

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/distribution"
	"github.com/phoenixotel/phoenix/shared/pipeline"
)

// customExamples are a working configuration of every processor a custom pipeline may use, as a
// user would write it for cost work.
var customExamples = map[string]map[string]any{
	"filter": {"error_mode": "ignore", "metrics": map[string]any{"metric": []any{`metric.name == "process.threads"`}}},
	"transform": {"metric_statements": []any{map[string]any{"context": "datapoint",
		"statements": []any{`delete_key(attributes, "state")`}}}},
	"groupbyattrs": {"keys": []any{"process.owner"}},
	"resource":     {"attributes": []any{map[string]any{"key": "process.command_line", "action": "delete"}}},
	"phoenix_topk": {"k": 5, "metric": "process.cpu.utilization", "keep": `"^(?:postgres)$"`},
	"metrics_transform": {"transforms": []any{map[string]any{"include": "process.cpu.time", "action": "update",
		"operations": []any{map[string]any{"action": "aggregate_labels", "label_set": []any{}, "aggregation_type": "sum"}}}}},
	"interval":            {"interval": "30s"},
	"cumulative_to_delta": {"include": map[string]any{"metrics": []any{"process.cpu.time"}, "match_type": "strict"}},
	"delta_to_cumulative": {"max_stale": "5m"},
}

func customConfig(t *testing.T, c *pipeline.Custom) []byte {
	t.Helper()
	cfg, err := pipeline.Render(pipeline.Request{Template: pipeline.CustomTemplate, Custom: c, ExperimentID: uuid.New(),
		Variant: "candidate", Target: pipeline.Local, Output: pipeline.Output{Endpoint: "http://127.0.0.1:4318", Headers: pipeline.IngestHeaders()}})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestEveryCustomProcessor_PassesTheCollectorsValidation checks, through shared/distribution as
// the API does, that each processor a custom pipeline may use is in the distribution and accepted
// with a working configuration; and that the collector's refusals come back in its own words.
func TestEveryCustomProcessor_PassesTheCollectorsValidation(t *testing.T) {
	bin := distribution.New(Binary(t))
	ctx := context.Background()
	for typ := range pipeline.CustomProcessors() {
		t.Run(typ, func(t *testing.T) {
			example, ok := customExamples[typ]
			if !ok {
				t.Fatalf("no example configuration of %s: add one, so the processor is proven in the distribution", typ)
			}
			c := &pipeline.Custom{Processors: []pipeline.Processor{{Name: typ + "/mine", Config: example}}}
			if err := bin.Validate(ctx, customConfig(t, c)); err != nil {
				t.Fatalf("the collector refused %s: %v", typ, err)
			}
		})
	}
	for _, tt := range []struct {
		name    string
		p       pipeline.Processor
		mention string
	}{
		{"broken OTTL", pipeline.Processor{Name: "filter", Config: map[string]any{"metrics": map[string]any{"metric": []any{`metric.name == `}}}}, "unable to parse OTTL"},
		{"an unknown key", pipeline.Processor{Name: "groupbyattrs", Config: map[string]any{"keys": []any{"a"}, "bogus": 1}}, "bogus"},
		{"a wrong type", pipeline.Processor{Name: "interval", Config: map[string]any{"interval": "often"}}, "interval"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := bin.Validate(ctx, customConfig(t, &pipeline.Custom{Processors: []pipeline.Processor{tt.p}}))
			var refused *distribution.Refusal
			if !errors.As(err, &refused) || !strings.Contains(refused.Message, tt.mention) || strings.Contains(refused.Message, os.TempDir()) {
				t.Fatalf("got %v, want the collector's refusal naming %q, without the temporary file's path", err, tt.mention)
			}
		})
	}
	if err := distribution.New("").Validate(ctx, nil); !errors.Is(err, distribution.ErrNoBinary) {
		t.Fatalf("without a binary: %v", err)
	}
}

// TestSemantics_ACustomPipelineKeepsWhatItsProcessorsSay runs a custom pipeline over processes
// started here: its filter drops one process, and the rest arrive with Phoenix's identity.
func TestSemantics_ACustomPipelineKeepsWhatItsProcessorsSay(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the collector for several seconds")
	}
	Binary(t)
	StartProcesses(t, "phx-own-keep", "phx-own-drop")
	s := runRequest(t, pipeline.Request{Template: pipeline.CustomTemplate, Custom: &pipeline.Custom{Processors: []pipeline.Processor{
		{Name: "filter/drop", Config: map[string]any{"error_mode": "ignore", "metrics": map[string]any{
			"resource": []any{`resource.attributes["process.executable.name"] == "phx-own-drop"`}}}},
	}}}, "phx-own-keep")
	if s.processes["phx-own-drop"] != nil {
		t.Errorf("the filtered process arrived: %v", s.processes["phx-own-drop"])
	}
	if s.identity["phoenix.template"] != pipeline.CustomTemplate || s.identity["phoenix.variant"] != "candidate" {
		t.Errorf("identity %v", s.identity)
	}
}
