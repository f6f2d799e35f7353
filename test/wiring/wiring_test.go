// Package wiring proves the Knative wiring is whole: every event type the code consumes has a
// Trigger to each consumer, every Trigger's subscriber is deployed, every emitted type is consumed
// or documented as terminal, and docs/events.md describes every type.
package wiring

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/phoenixotel/phoenix/shared/broker"
	"github.com/phoenixotel/phoenix/shared/events"
)

// root is the repository root, found from this file so the test runs from any directory.
func root(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// deployedServices lists the Knative Service and Deployment names in deploy/base.
func deployedServices(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	kinds := regexp.MustCompile(`(?m)^kind: (Service|Deployment)\nmetadata:\n  name: (\S+)`)
	files, _ := filepath.Glob(filepath.Join(root(t), "deploy", "base", "*.yaml"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range kinds.FindAllStringSubmatch(string(b), -1) {
			out[m[2]] = true
		}
	}
	return out
}

func TestWiring_IsWhole(t *testing.T) {
	cfg, err := broker.Load(os.DirFS(filepath.Join(root(t), "triggers")))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Brokers) != 1 || cfg.Brokers[0].Name != "phoenix" || cfg.Brokers[0].Delivery == nil || cfg.Brokers[0].Delivery.DeadLetterSink == nil {
		t.Fatalf("want one Broker phoenix with a delivery spec and a dead-letter sink: %+v", cfg.Brokers)
	}
	routes := map[string]map[string]bool{} // type -> subscriber service
	for _, tr := range cfg.Triggers {
		typ := tr.Attributes["type"]
		if typ == "" || tr.Subscriber.Ref == nil {
			t.Errorf("trigger %s: want an exact type filter and a subscriber ref", tr.Name)
			continue
		}
		if routes[typ] == nil {
			routes[typ] = map[string]bool{}
		}
		routes[typ][tr.Subscriber.Ref.Name] = true
	}
	deployed := deployedServices(t)
	for _, tr := range cfg.Triggers {
		if tr.Subscriber.Ref != nil && !deployed[tr.Subscriber.Ref.Name] {
			t.Errorf("trigger %s: subscriber %s is not in deploy/", tr.Name, tr.Subscriber.Ref.Name)
		}
	}
	if ref := cfg.Brokers[0].Delivery.DeadLetterSink.Ref; ref == nil || !deployed[ref.Name] {
		t.Errorf("dead-letter sink %+v is not in deploy/", cfg.Brokers[0].Delivery.DeadLetterSink)
	}
	docs, err := os.ReadFile(filepath.Join(root(t), "docs", "events.md"))
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, spec := range events.Catalog() {
		known[spec.Type] = true
		if !strings.Contains(string(docs), "`"+spec.Type+"`") {
			t.Errorf("docs/events.md does not describe %s", spec.Type)
		}
		if len(spec.Consumers) == 0 && spec.Terminal == "" {
			t.Errorf("%s: neither consumed nor documented as terminal", spec.Type)
		}
		for _, c := range spec.Consumers {
			if !routes[spec.Type]["phoenix-"+c] {
				t.Errorf("%s: no trigger routes it to phoenix-%s", spec.Type, c)
			}
		}
		for svc := range routes[spec.Type] {
			found := false
			for _, c := range spec.Consumers {
				found = found || svc == "phoenix-"+c
			}
			if !found {
				t.Errorf("%s: a trigger routes it to %s, which the catalog does not name as a consumer", spec.Type, svc)
			}
		}
	}
	for typ := range routes {
		if !known[typ] {
			t.Errorf("a trigger filters on %s, which the catalog does not define", typ)
		}
	}
	if len(cfg.PingSources) != 1 {
		t.Errorf("want the controller's PingSource, got %d", len(cfg.PingSources))
	}
}

// TestCatalog_ListsEveryTypeTheCodeDefines reads the type constants of shared/events and demands
// each in the catalog, so a new event type cannot skip triggers and docs.
func TestCatalog_ListsEveryTypeTheCodeDefines(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(root(t), "shared", "events", "events.go"))
	if err != nil {
		t.Fatal(err)
	}
	defined := regexp.MustCompile(`(?m)^\s+\w+\s*=\s*"((?:io\.phoenix|dev\.knative)\.[^"]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(defined) < 10 {
		t.Fatalf("found only %d event type constants; has the file moved?", len(defined))
	}
	inCatalog := map[string]bool{}
	for _, s := range events.Catalog() {
		inCatalog[s.Type] = true
	}
	for _, m := range defined {
		if !inCatalog[m[1]] {
			t.Errorf("%s is defined in shared/events but missing from Catalog()", m[1])
		}
	}
}
