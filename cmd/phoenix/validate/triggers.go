package validate

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/phoenixotel/phoenix/cmd/phoenix/broker"
	"github.com/phoenixotel/phoenix/shared/events"
)

// Triggers checks that the Knative wiring is whole: every event type a function consumes has a
// Trigger to each consumer and none to anyone else, every Trigger's subscriber and the
// dead-letter sink are deployed in deploy/base, every filtered type is in the catalog, every
// type the code defines is in the catalog, and docs/events.md describes every type.
func Triggers(o Options) Result {
	cfg, err := broker.Load(os.DirFS(filepath.Join(o.Root, "triggers")))
	if err != nil {
		return result("triggers/ does not load", []string{err.Error()})
	}
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if len(cfg.Brokers) != 1 || cfg.Brokers[0].Delivery == nil || cfg.Brokers[0].Delivery.DeadLetterSink == nil {
		add("want exactly one Broker with a delivery spec and a dead-letter sink, found %d brokers", len(cfg.Brokers))
	}
	deployed, err := deployedServices(filepath.Join(o.Root, "deploy", "base"))
	if err != nil {
		add("%v", err)
	}
	routes := map[string]map[string]bool{} // type → subscriber services
	for _, tr := range cfg.Triggers {
		typ := tr.Attributes["type"]
		if typ == "" || tr.Subscriber.Ref == nil {
			add("trigger %s: want an exact type filter and a subscriber that is a Service reference", tr.Name)
			continue
		}
		if routes[typ] == nil {
			routes[typ] = map[string]bool{}
		}
		routes[typ][tr.Subscriber.Ref.Name] = true
		if deployed != nil && !deployed[tr.Subscriber.Ref.Name] {
			add("trigger %s: subscriber %s is not deployed in deploy/base", tr.Name, tr.Subscriber.Ref.Name)
		}
	}
	if len(cfg.Brokers) == 1 && cfg.Brokers[0].Delivery != nil && cfg.Brokers[0].Delivery.DeadLetterSink != nil {
		if ref := cfg.Brokers[0].Delivery.DeadLetterSink.Ref; deployed != nil && (ref == nil || !deployed[ref.Name]) {
			add("the broker's dead-letter sink is not a Service deployed in deploy/base")
		}
	}
	docs, err := os.ReadFile(filepath.Join(o.Root, "docs", "events.md"))
	if err != nil {
		add("docs/events.md: %v", err)
	}
	known := map[string]bool{}
	for _, spec := range events.Catalog() {
		known[spec.Type] = true
		if docs != nil && !strings.Contains(string(docs), "`"+spec.Type+"`") {
			add("docs/events.md does not describe %s", spec.Type)
		}
		if len(spec.Consumers) == 0 && spec.Terminal == "" {
			add("%s is neither consumed nor documented as terminal in the catalog", spec.Type)
		}
		for _, c := range spec.Consumers {
			if !routes[spec.Type]["phoenix-"+c] {
				add("%s: no trigger routes it to phoenix-%s, which consumes it", spec.Type, c)
			}
		}
		for _, svc := range sortedKeys(routes[spec.Type]) {
			consumer := false
			for _, c := range spec.Consumers {
				consumer = consumer || svc == "phoenix-"+c
			}
			if !consumer {
				add("%s: a trigger routes it to %s, which the catalog does not name as a consumer", spec.Type, svc)
			}
		}
	}
	for _, typ := range sortedKeys(routes) {
		if !known[typ] {
			add("a trigger filters on %s, which the event catalog does not define", typ)
		}
	}
	if len(cfg.PingSources) != 1 {
		add("want the controller's PingSource, found %d", len(cfg.PingSources))
	}
	problems = append(problems, undeclaredTypes(o.Root, known)...)
	return result(fmt.Sprintf("%d triggers, %d event types in the catalog", len(cfg.Triggers), len(known)), problems)
}

// typeConstant finds the event type constants of shared/events.
var typeConstant = regexp.MustCompile(`(?m)^\s+\w+\s*=\s*"((?:io\.phoenix|dev\.knative)\.[^"]+)"`)

// undeclaredTypes lists type constants of shared/events/events.go that the catalog lacks, so a
// new type cannot skip triggers and docs.
func undeclaredTypes(root string, known map[string]bool) []string {
	src, err := os.ReadFile(filepath.Join(root, "shared", "events", "events.go")) // #nosec G304 -- a file of the repository being validated
	if err != nil {
		return []string{fmt.Sprintf("shared/events/events.go: %v", err)}
	}
	defined := typeConstant.FindAllStringSubmatch(string(src), -1)
	if len(defined) < 10 {
		return []string{fmt.Sprintf("found only %d event type constants in shared/events/events.go; has the file moved?", len(defined))}
	}
	var out []string
	for _, m := range defined {
		if !known[m[1]] {
			out = append(out, fmt.Sprintf("%s is defined in shared/events but missing from the catalog", m[1]))
		}
	}
	return out
}

// deployedServices names the Knative Services and Deployments of the YAML files in dir.
func deployedServices(dir string) (map[string]bool, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no manifests in %s", dir)
	}
	out := map[string]bool{}
	for _, f := range files {
		docs, err := documents(f)
		if err != nil {
			return nil, err
		}
		for _, d := range docs {
			var m struct {
				Kind     string `json:"kind"`
				Metadata struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal(d, &m); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			if m.Kind == "Service" || m.Kind == "Deployment" {
				out[m.Metadata.Name] = true
			}
		}
	}
	return out, nil
}

// documents splits a YAML file into its documents.
func documents(path string) ([][]byte, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- a manifest of the repository being validated
	if err != nil {
		return nil, err
	}
	return split(b), nil
}

// split cuts a multi-document YAML stream at its "---" lines, dropping empty documents.
func split(b []byte) [][]byte {
	var out [][]byte
	for _, d := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
		if strings.TrimSpace(stripComments(d)) != "" {
			out = append(out, []byte(d))
		}
	}
	return out
}

func stripComments(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
