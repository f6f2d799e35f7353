package pipeline

import (
	"fmt"
	"strings"

	"sigs.k8s.io/yaml"
)

// Check reads a collector configuration and reports, in words that point at the place, what
// Phoenix needs of it beyond what the collector itself validates: a metrics pipeline fed by the
// host-metrics receiver, a memory limiter first, batching, the experiment identity, and an
// exporter. It returns nil when all hold. The collector's own validation (components, OTTL) is the
// other half: `phoenix-collector validate --config FILE`.
func Check(config []byte) []string {
	var doc map[string]any
	if err := yaml.Unmarshal(config, &doc); err != nil {
		return []string{"not YAML: " + err.Error()}
	}
	var problems []string
	section := func(name string) map[string]any {
		m, _ := doc[name].(map[string]any)
		return m
	}
	if _, ok := section("receivers")["host_metrics"]; !ok {
		problems = append(problems, "receivers: no host_metrics receiver (Phoenix pipelines scrape processes)")
	}
	procs := section("processors")
	if _, ok := procs["memory_limiter"]; !ok {
		problems = append(problems, "processors: no memory_limiter (a collector without one can take the node down)")
	}
	hasIdentity := false
	for name, v := range procs {
		if strings.HasPrefix(name, "resource") && strings.Contains(fmt.Sprint(v), "phoenix.experiment.id") {
			hasIdentity = true
		}
	}
	if !hasIdentity {
		problems = append(problems, "processors: no resource processor setting phoenix.experiment.id (Phoenix could not attribute the output)")
	}
	if len(section("exporters")) == 0 {
		problems = append(problems, "exporters: none configured")
	}
	service, _ := doc["service"].(map[string]any)
	pipelines, _ := service["pipelines"].(map[string]any)
	found := false
	for name, p := range pipelines {
		if !strings.HasPrefix(name, "metrics") {
			continue
		}
		pm, _ := p.(map[string]any)
		recv := fmt.Sprint(pm["receivers"])
		if !strings.Contains(recv, "host_metrics") {
			continue
		}
		found = true
		list, _ := pm["processors"].([]any)
		if len(list) == 0 || list[0] != "memory_limiter" {
			problems = append(problems, fmt.Sprintf("service.pipelines.%s.processors: memory_limiter must come first", name))
		}
		hasBatch := false
		for _, p := range list {
			hasBatch = hasBatch || strings.HasPrefix(fmt.Sprint(p), "batch")
		}
		if !hasBatch {
			problems = append(problems, fmt.Sprintf("service.pipelines.%s.processors: no batch processor", name))
		}
	}
	if !found {
		problems = append(problems, "service.pipelines: no metrics pipeline receives from host_metrics")
	}
	return problems
}
