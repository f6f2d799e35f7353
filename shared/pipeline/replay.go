package pipeline

import (
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// ReplayConfig turns a rendered configuration into one that replays captured data through the
// same processors: the host-metrics receiver becomes an OTLP/HTTP receiver on listen (host:port),
// the exporter sends to sink (an OTLP/HTTP base URL) without authentication or queue, batching
// goes, and the collector keeps its own telemetry to itself. Everything between — the memory
// limiter, the template's or the tenant's processors, the identity — is left exactly as rendered,
// so a preview runs what the experiment would run.
func ReplayConfig(cfg []byte, listen, sink string) ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(cfg, &doc); err != nil {
		return nil, fmt.Errorf("replay: the configuration is not YAML: %w", err)
	}
	section := func(name string) map[string]any {
		m, _ := doc[name].(map[string]any)
		return m
	}
	if _, ok := section("receivers")["host_metrics"]; !ok {
		return nil, fmt.Errorf("replay: the configuration has no host_metrics receiver to replace")
	}
	doc["receivers"] = map[string]any{"otlp/replay": map[string]any{"protocols": map[string]any{"http": map[string]any{"endpoint": listen}}}}
	doc["exporters"] = map[string]any{"otlp_http/replay": map[string]any{"endpoint": sink, "compression": "none",
		"retry_on_failure": map[string]any{"enabled": false}, "sending_queue": map[string]any{"enabled": false}}}
	// Without batching the pipeline is synchronous: the receiver answers a request once the
	// exporter has delivered what the processors made of it, so the sink holds everything when the
	// last request is answered. Batching groups requests; it changes no series or datapoint.
	procs := section("processors")
	isBatch := func(name string) bool { return name == "batch" || strings.HasPrefix(name, "batch/") }
	for name := range procs {
		if isBatch(name) {
			delete(procs, name)
		}
	}
	service := section("service")
	service["telemetry"] = map[string]any{"metrics": map[string]any{"level": "none"}, "logs": map[string]any{"level": "warn"}}
	pipelines, _ := service["pipelines"].(map[string]any)
	for name, p := range pipelines {
		pm, _ := p.(map[string]any)
		if pm == nil {
			continue
		}
		pm["receivers"] = []any{"otlp/replay"}
		pm["exporters"] = []any{"otlp_http/replay"}
		list, _ := pm["processors"].([]any)
		pm["processors"] = slices.DeleteFunc(list, func(p any) bool { s, _ := p.(string); return isBatch(s) })
		pipelines[name] = pm
	}
	return yaml.Marshal(doc)
}
