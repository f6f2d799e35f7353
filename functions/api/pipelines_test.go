package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/phoenixotel/phoenix/shared/distribution"
	"github.com/phoenixotel/phoenix/test/collector"
)

// dropThreads is a custom pipeline: one filter that drops the process.threads metric.
func dropThreads(name string) map[string]any {
	return map[string]any{"name": name, "description": "no thread counts", "definition": map[string]any{"processors": []any{
		map[string]any{"name": "filter/threads", "config": map[string]any{"metrics": map[string]any{"metric": []any{`metric.name == "process.threads"`}}}},
	}}}
}

func TestPipelines_SavedVersionedAndOwnedByTheirTenant(t *testing.T) {
	t.Parallel()
	f := setupAPI(t, false, withCollector(t))
	op, viewer := f.token(t, f.acme, "operator"), f.token(t, f.acme, "viewer")

	r := f.do(t, "POST", "/v1/pipelines", op, jsonBody(dropThreads("no-threads")))
	if r.code != http.StatusCreated || r.body["version"] != 1.0 || r.header.Get("Location") != "/v1/pipelines/no-threads?version=1" {
		t.Fatalf("save: %d %v %v", r.code, r.body, r.header)
	}
	second := dropThreads("no-threads")
	second["definition"].(map[string]any)["processors"] = append(second["definition"].(map[string]any)["processors"].([]any),
		map[string]any{"name": "resource/strip", "config": map[string]any{"attributes": []any{map[string]any{"key": "process.command_line", "action": "delete"}}}})
	if r := f.do(t, "POST", "/v1/pipelines", op, jsonBody(second)); r.code != http.StatusCreated || r.body["version"] != 2.0 {
		t.Fatalf("save again: %d %v", r.code, r.body)
	}
	if r := f.do(t, "POST", "/v1/pipelines", viewer, jsonBody(dropThreads("mine"))); r.code != http.StatusForbidden {
		t.Fatalf("a viewer saves: %d", r.code)
	}
	r = f.do(t, "GET", "/v1/pipelines", viewer, nil)
	if items, _ := r.body["items"].([]any); r.code != http.StatusOK || len(items) != 1 || items[0].(map[string]any)["version"] != 2.0 {
		t.Fatalf("list: %d %v; want the newest version of the one pipeline", r.code, r.body)
	}
	r = f.do(t, "GET", "/v1/pipelines/no-threads?version=1", viewer, nil)
	if procs, _ := r.body["definition"].(map[string]any)["processors"].([]any); r.code != http.StatusOK || len(procs) != 1 {
		t.Fatalf("get version 1: %d %v", r.code, r.body)
	}

	// Another tenant sees none of it.
	stranger := f.token(t, f.other, "admin")
	if r := f.do(t, "GET", "/v1/pipelines/no-threads", stranger, nil); r.code != http.StatusNotFound {
		t.Fatalf("another tenant reads it: %d", r.code)
	}
	if r := f.do(t, "GET", "/v1/pipelines", stranger, nil); len(r.body["items"].([]any)) != 0 {
		t.Fatalf("another tenant lists %v", r.body)
	}

	// An experiment runs a saved version: resolved and copied at creation.
	exp := validExperiment()
	exp["candidate"] = map[string]any{"pipeline": "no-threads", "version": 1, "parameters": map[string]any{"collection_interval": "5s"}}
	r = f.do(t, "POST", "/v1/experiments", op, jsonBody(exp))
	cand, _ := r.body["candidate"].(map[string]any)
	if r.code != http.StatusCreated || cand["template"] != "custom" || cand["version"] != 1.0 || cand["custom"] == nil {
		t.Fatalf("an experiment with a saved pipeline: %d %v", r.code, r.body)
	}
	exp["candidate"] = map[string]any{"pipeline": "no-threads"}
	if r := f.do(t, "POST", "/v1/experiments", stranger, jsonBody(exp)); r.code != http.StatusBadRequest || !strings.Contains(r.body["detail"].(string)+fieldsOf(r), "no pipeline") {
		t.Fatalf("another tenant's pipeline in an experiment: %d %v", r.code, r.body)
	}
	exp["candidate"] = map[string]any{"template": "custom", "custom": dropThreads("x")["definition"]}
	if r := f.do(t, "POST", "/v1/experiments", op, jsonBody(exp)); r.code != http.StatusBadRequest || !strings.Contains(fieldsOf(r), "saved first") {
		t.Fatalf("an unsaved custom pipeline in an experiment: %d %v", r.code, r.body)
	}
}

// withCollector gives the API the real collector to check pipelines with.
func withCollector(t *testing.T) func(*Options) {
	bin := collector.Binary(t)
	return func(o *Options) { o.Collector = distribution.New(bin) }
}

// fieldsOf joins a problem's field errors.
func fieldsOf(r response) string {
	var b strings.Builder
	errs, _ := r.body["errors"].([]any)
	for _, e := range errs {
		m := e.(map[string]any)
		b.WriteString(m["field"].(string) + ": " + m["message"].(string) + "; ")
	}
	return b.String()
}

func TestPipelines_RefusedWithTheReason(t *testing.T) {
	t.Parallel()
	f := setupAPI(t, false, withCollector(t))
	op := f.token(t, f.acme, "operator")
	withProcessor := func(name string, p map[string]any) map[string]any {
		return map[string]any{"name": name, "definition": map[string]any{"processors": []any{p}}}
	}
	tests := []struct {
		name    string
		body    map[string]any
		mention string
	}{
		{"an exporter", withProcessor("out", map[string]any{"name": "otlp_http/elsewhere"}), "not a processor a custom pipeline may use"},
		{"an endpoint", withProcessor("out", map[string]any{"name": "transform", "config": map[string]any{"endpoint": "https://evil.example"}}), `"endpoint" is not allowed`},
		{"the environment", withProcessor("env", map[string]any{"name": "resource", "config": map[string]any{"attributes": []any{
			map[string]any{"key": "k", "value": "${env:PHOENIX_DATABASE_URL}", "action": "upsert"}}}}), "expansion is not allowed"},
		{"broken OTTL, in the collector's words", withProcessor("ottl", map[string]any{"name": "filter", "config": map[string]any{
			"metrics": map[string]any{"metric": []any{`metric.name ==`}}}}), "unable to parse OTTL"},
		{"a reserved name", dropThreads("templates"), "not templates or validate"},
		{"a name that is not a slug", dropThreads("No Threads"), "lowercase letters"},
		{"an unknown field", map[string]any{"name": "x", "definition": map[string]any{"processors": []any{}}, "exporters": map[string]any{}}, "unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do(t, "POST", "/v1/pipelines", op, jsonBody(tt.body))
			detail, _ := r.body["detail"].(string)
			if r.code != http.StatusBadRequest || !strings.Contains(detail+fieldsOf(r), tt.mention) {
				t.Fatalf("%d %v; want 400 naming %q", r.code, r.body, tt.mention)
			}
		})
	}
	r := f.do(t, "POST", "/v1/pipelines", op, jsonBody(map[string]any{"name": "big", "definition": map[string]any{"processors": []any{
		map[string]any{"name": "transform", "config": map[string]any{"metric_statements": []any{strings.Repeat("x", 2<<20)}}}}}}))
	if r.code != http.StatusRequestEntityTooLarge {
		t.Fatalf("a 2 MiB pipeline: %d", r.code)
	}

	// Inline validation with the collector's own words, as the console and the CLI ask for it.
	r = f.do(t, "POST", "/v1/pipelines/validate", op, jsonBody(map[string]any{"custom": tests[3].body["definition"]}))
	if errs, _ := r.body["errors"].([]any); r.code != http.StatusOK || r.body["valid"] != false || len(errs) != 1 || !strings.Contains(errs[0].(string), "unable to parse OTTL") {
		t.Fatalf("validate broken OTTL: %d %v", r.code, r.body)
	}
	r = f.do(t, "POST", "/v1/pipelines/validate", op, jsonBody(map[string]any{"custom": dropThreads("x")["definition"]}))
	if r.code != http.StatusOK || r.body["valid"] != true || !strings.Contains(r.body["config"].(string), "filter/threads") {
		t.Fatalf("validate a good pipeline: %d %v", r.code, r.body)
	}

	// Without a collector to ask, nothing is saved unchecked.
	f = setup(t)
	op = f.token(t, f.acme, "operator")
	if r := f.do(t, "POST", "/v1/pipelines", op, jsonBody(dropThreads("unchecked"))); r.code != http.StatusServiceUnavailable ||
		!strings.Contains(r.body["detail"].(string), "PHOENIX_COLLECTOR_BINARY") {
		t.Fatalf("without a collector: %d %v", r.code, r.body)
	}
}
