package pipeline

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// CustomTemplate is the template name of a tenant's own pipeline: its processors (Custom) between
// Phoenix's receiver and Phoenix's exporter. Its one parameter is collection_interval.
const CustomTemplate = "custom"

// Custom is a tenant's own processor chain: the processors of a collector configuration, in
// pipeline order. Phoenix owns everything else — the host-metrics receiver, the memory limiter
// before the chain, the experiment identity and batching after it, the exporter to Phoenix's
// ingest — so a custom pipeline has no way to send a tenant's data anywhere but Phoenix.
type Custom struct {
	Processors []Processor `json:"processors"`
}

// Processor is one processor of a custom pipeline.
type Processor struct {
	// Name is the component id, type[/name]: e.g. filter/drop-idle. The type must be one of
	// CustomProcessors.
	Name string `json:"name"`
	// Config is the processor's configuration, as it would stand under the name in a collector
	// configuration's processors section; the collector itself validates it.
	Config map[string]any `json:"config,omitempty"`
}

// Bounds of a custom pipeline: enough for any cost pipeline we have seen (the largest template
// has three processors and 1.4 KiB of configuration), small enough that rendering and the
// collector's validation stay in milliseconds.
const (
	MaxCustomProcessors  = 20
	MaxCustomConfigBytes = 64 << 10
)

// CustomProcessors are the processor types a custom pipeline may use, each with what it is for:
// every processor of the Phoenix collector distribution that transforms metrics, and none that
// reaches outside the collector. The Phoenix-owned memory_limiter and batch are added by Phoenix.
func CustomProcessors() map[string]string {
	return map[string]string{
		"filter":              "drop metrics, datapoints or resources matching OTTL conditions",
		"transform":           "change metrics, datapoints and resources with OTTL statements",
		"groupbyattrs":        "regroup datapoints under resources keyed by the given attributes",
		"resource":            "insert, update, delete or hash resource attributes",
		"phoenix_topk":        "keep the top K processes of each scrape by a metric, plus the patterns named",
		"metrics_transform":   "rename metrics, and aggregate away labels (sum, mean, max …)",
		"interval":            "aggregate cumulative metrics and export them once an interval",
		"cumulative_to_delta": "convert cumulative sums and histograms to delta",
		"delta_to_cumulative": "convert delta sums and histograms to cumulative",
	}
}

var (
	componentID = regexp.MustCompile(`^([a-z][a-z0-9_]{0,62})(/[A-Za-z0-9][A-Za-z0-9_.-]{0,62})?$`)
	// reachesOut are configuration keys no transforming processor has: where they appear, a
	// configuration is trying to reach a file or the network.
	reachesOut = map[string]bool{"endpoint": true, "endpoints": true, "url": true, "path": true, "file": true,
		"directory": true, "exporters": true, "extensions": true, "receivers": true, "auth": true}
)

// Validate reports, one sentence each, what keeps c from being a custom pipeline: the processors'
// names and types, the bounds, and anything that could reach outside the collector. It returns
// nil when c may be rendered; the collector then validates each processor's configuration.
func (c Custom) Validate() []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if len(c.Processors) == 0 || len(c.Processors) > MaxCustomProcessors {
		add("processors: give 1 to %d processors", MaxCustomProcessors)
	}
	allowed := CustomProcessors()
	seen := map[string]bool{}
	for i, p := range c.Processors {
		at := fmt.Sprintf("processors[%d]", i)
		m := componentID.FindStringSubmatch(p.Name)
		switch {
		case m == nil:
			add("%s.name: %q is not a component id (type or type/name: lowercase type, then letters, digits, _ . -)", at, p.Name)
			continue
		case allowed[m[1]] == "":
			add("%s.name: %q is not a processor a custom pipeline may use (one of %s); Phoenix owns the receiver, exporter and extensions",
				at, m[1], strings.Join(sortedKeys(allowed), ", "))
		case p.Name == "resource/phoenix":
			add("%s.name: resource/phoenix is Phoenix's own; name yours otherwise", at)
		case seen[p.Name]:
			add("%s.name: %s is listed twice", at, p.Name)
		}
		seen[p.Name] = true
		if key, ok := forbidden(p.Config); !ok {
			add("%s.config: %s", at, key)
		}
	}
	if b, err := json.Marshal(c); err != nil || len(b) > MaxCustomConfigBytes {
		add("processors: the configuration must be at most %d KiB", MaxCustomConfigBytes>>10)
	}
	return problems
}

// forbidden walks a processor's configuration for what could reach outside the collector: keys
// naming endpoints, files or components, and ${…} expansions, which the collector would resolve
// from its environment or its files (${env:…}, ${file:…}) into the tenant's data.
func forbidden(v any) (string, bool) {
	switch x := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(x) {
			if reachesOut[strings.ToLower(k)] {
				return fmt.Sprintf("%q is not allowed: a custom pipeline cannot name an endpoint, a file or another component", k), false
			}
			if strings.Contains(k, "${") {
				return fmt.Sprintf("%q: ${…} expansion is not allowed", k), false
			}
			if why, ok := forbidden(x[k]); !ok {
				return why, false
			}
		}
	case []any:
		for _, e := range x {
			if why, ok := forbidden(e); !ok {
				return why, false
			}
		}
	case string:
		if strings.Contains(x, "${") {
			return fmt.Sprintf("%q: ${…} expansion is not allowed (the collector would read its environment or files into your data)", truncate(x, 60)), false
		}
	}
	return "", true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// customTemplate is the declaration of the custom pipeline's parameters: the scrape interval.
func customTemplate() Template {
	return Template{Name: CustomTemplate, Description: "a tenant's own processors between Phoenix's receiver and exporter", Params: []Param{interval}}
}

// renderedProcessor is one custom processor as the template writes it: its configuration as
// JSON, which is YAML's flow style, so no user string can change the document's structure.
type renderedProcessor struct {
	Name string
	JSON string
}

func renderCustom(c *Custom) ([]renderedProcessor, []string, error) {
	out := make([]renderedProcessor, 0, len(c.Processors))
	names := make([]string, 0, len(c.Processors))
	for _, p := range c.Processors {
		cfg := p.Config
		if cfg == nil {
			cfg = map[string]any{}
		}
		b, err := json.Marshal(cfg)
		if err != nil {
			return nil, nil, fmt.Errorf("processor %s: %w", p.Name, err)
		}
		out = append(out, renderedProcessor{Name: p.Name, JSON: string(b)})
		names = append(names, p.Name)
	}
	return out, names, nil
}
