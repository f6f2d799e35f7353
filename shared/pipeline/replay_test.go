package pipeline

import (
	"reflect"
	"slices"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestReplayConfig_KeepsTheProcessorsAndSwapsTheEnds(t *testing.T) {
	for _, name := range []string{"process-topk", "process-aggregated", CustomTemplate} {
		t.Run(name, func(t *testing.T) {
			r := request(name, Kubernetes)
			if name == CustomTemplate {
				r.Params, r.Custom = nil, &Custom{Processors: []Processor{filter("filter/idle", `metric.name == "process.threads"`)}}
			}
			cfg, err := Render(r)
			if err != nil {
				t.Fatal(err)
			}
			out, err := ReplayConfig(cfg, "127.0.0.1:4000", "http://127.0.0.1:5000")
			if err != nil {
				t.Fatal(err)
			}
			var before, after map[string]any
			_ = yaml.Unmarshal(cfg, &before)
			if err := yaml.Unmarshal(out, &after); err != nil {
				t.Fatal(err)
			}
			pipe := func(doc map[string]any) map[string]any {
				return doc["service"].(map[string]any)["pipelines"].(map[string]any)["metrics/phoenix"].(map[string]any)
			}
			unbatched := slices.DeleteFunc(slices.Clone(pipe(before)["processors"].([]any)), func(p any) bool { return p == "batch" })
			if !reflect.DeepEqual(unbatched, pipe(after)["processors"]) {
				t.Errorf("processors changed beyond batching: %v → %v", pipe(before)["processors"], pipe(after)["processors"])
			}
			for p, conf := range before["processors"].(map[string]any) {
				if p != "batch" && !reflect.DeepEqual(conf, after["processors"].(map[string]any)[p]) {
					t.Errorf("processor %s changed", p)
				}
			}
			if _, ok := after["processors"].(map[string]any)["batch"]; ok {
				t.Error("batching is still configured: the replay would not be synchronous")
			}
			if got := pipe(after)["receivers"]; !reflect.DeepEqual(got, []any{"otlp/replay"}) {
				t.Errorf("receivers %v", got)
			}
			exp := after["exporters"].(map[string]any)
			if len(exp) != 1 || exp["otlp_http/replay"].(map[string]any)["endpoint"] != "http://127.0.0.1:5000" {
				t.Errorf("exporters %v", exp)
			}
			if _, ok := after["receivers"].(map[string]any)["host_metrics"]; ok {
				t.Error("the host-metrics receiver is still there")
			}
		})
	}
	if _, err := ReplayConfig([]byte("receivers: {}\n"), "a", "b"); err == nil {
		t.Error("a configuration without host_metrics was accepted")
	}
}
