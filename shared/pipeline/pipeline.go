// Package pipeline owns Phoenix's collector pipeline templates: what each one keeps, the
// parameters it takes (with types, defaults and bounds), and rendering them into an OpenTelemetry
// Collector configuration for one experiment variant. Rendering is pure and deterministic (same
// input, same bytes); it makes no network call. Whether the result is a configuration the real
// collector accepts is proven by this package's tests with the Phoenix collector distribution.
package pipeline

import (
	"bytes"
	"embed"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/google/uuid"
)

//go:embed templates/*.tmpl
var files embed.FS

// Target is where the collector runs; it decides how host metrics are read.
type Target string

// Targets.
const (
	// Kubernetes runs the collector as a DaemonSet with the node's filesystem at /hostfs.
	Kubernetes Target = "kubernetes"
	// Local runs the collector as a process on this machine: no root_path (the receiver
	// refuses one that does not exist).
	Local Target = "local"
)

// Param declares one template parameter.
type Param struct {
	Name        string   `json:"name"`
	Type        string   `json:"type"` // duration, int, enum, patterns
	Default     string   `json:"default,omitempty"`
	Min         string   `json:"min,omitempty"` // lower bound for durations and ints
	Max         string   `json:"max,omitempty"` // upper bound for durations and ints
	Required    bool     `json:"required,omitempty"`
	Description string   `json:"description"`
	Enum        []string `json:"enum,omitempty"`
}

// Template describes one pipeline.
type Template struct {
	Name        string  `json:"name"`
	Description string  `json:"description"`
	Params      []Param `json:"params"`
}

var interval = Param{Name: "collection_interval", Type: "duration", Default: "10s", Min: "1s", Max: "5m",
	Description: "how often the process scraper reads the host"}

func patterns(name, what string, required bool) Param {
	return Param{Name: name, Type: "patterns", Required: required,
		Description: "process executable names (RE2 patterns, matched whole) that are " + what}
}

// Templates lists every template, by name.
func Templates() []Template {
	return []Template{
		{Name: "process-baseline", Description: "everything the host-metrics process scraper gives, unfiltered",
			Params: []Param{interval}},
		{Name: "process-minimal", Description: "critical processes only, with CPU time and memory usage only",
			Params: []Param{interval, patterns("critical_processes", "critical: the only ones kept", true)}},
		{Name: "process-topk", Description: "critical processes plus the top K other processes by CPU utilization or memory usage, in every scrape",
			Params: []Param{interval, patterns("critical_processes", "critical: always kept, outside the K", false),
				{Name: "k", Type: "int", Default: "10", Min: "1", Max: "1000", Description: "how many other processes to keep"},
				{Name: "by", Type: "enum", Default: "cpu", Enum: []string{"cpu", "memory"}, Description: "rank by CPU utilization or by memory usage"}}},
		{Name: "process-aggregated", Description: "critical processes individually; every other process merged into one set of series per owner (process.owner), values summed",
			Params: []Param{interval, patterns("critical_processes", "critical: kept individually", false)}},
		{Name: "process-priority-filter", Description: "classify processes critical/high/medium/low by name patterns (resource attribute phoenix.priority); keep critical and high, drop the rest",
			Params: []Param{interval, patterns("critical_processes", "critical (kept)", true), patterns("high_processes", "high priority (kept)", false),
				patterns("medium_processes", "medium priority (dropped)", false)}},
	}
}

// ScrapeInterval is how often a collector rendered from template with the stored parameters raw
// scrapes its host: the collection_interval given, else the template's default; 0 when the
// template is unknown or the value is not a duration (the API validates both at create).
func ScrapeInterval(template string, raw map[string]any) time.Duration {
	t, ok := Lookup(template)
	if !ok {
		return 0
	}
	for _, p := range t.Params {
		if p.Name != interval.Name {
			continue
		}
		v, given := Params(raw)[p.Name]
		if !given {
			v = p.Default
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return 0
		}
		return d
	}
	return 0
}

// Lookup finds a template by name, CustomTemplate included.
func Lookup(name string) (Template, bool) {
	if name == CustomTemplate {
		return customTemplate(), true
	}
	for _, t := range Templates() {
		if t.Name == name {
			return t, true
		}
	}
	return Template{}, false
}

// Output is where a rendered collector sends what it measures: the seam to Phoenix's ingest
// (the measurement capability issues the endpoint and a per-variant token).
type Output struct {
	Endpoint string            // OTLP/HTTP base URL, e.g. https://ingest.phoenix.example
	Headers  map[string]string // e.g. Authorization: Bearer <ingest token>
}

// MetricsURL is the OTLP/HTTP metrics path under Endpoint, where self-telemetry goes too.
func (o Output) MetricsURL() string { return strings.TrimSuffix(o.Endpoint, "/") + "/v1/metrics" }

// IngestTokenEnv is the environment variable a rendered collector reads its ingest token from:
// configurations and manifests are stored, so they reference the token instead of holding it.
const IngestTokenEnv = "PHOENIX_INGEST_TOKEN"

// IngestHeaders are the headers that authenticate a collector to Phoenix's ingest with the token
// in IngestTokenEnv (the collector expands ${env:…} when it loads its configuration).
func IngestHeaders() map[string]string {
	return map[string]string{"Authorization": "Bearer ${env:" + IngestTokenEnv + "}"}
}

// Self-telemetry marker: the resource attribute every rendered collector puts on its own
// telemetry (service.telemetry), which shares the ingest endpoint with the pipeline's output. The
// ingest function measures collector CPU and memory from resources carrying it and counts
// everything else as the pipeline's output.
const (
	StreamAttribute = "phoenix.stream"
	SelfTelemetry   = "self-telemetry"
)

// A collector's stable name: the resource attribute CollectorAttribute on its self-telemetry,
// read from the environment variable CollectorNameEnv (empty when unset). The collector draws its
// service.instance.id anew at every start, so by that id alone a restarted collector is a new one
// and the ingest function can neither see the restart nor keep the collector's counters apart
// from its predecessor's. On Kubernetes the name is the node (Manifests sets it from the downward
// API): a restarted DaemonSet pod continues its node's counters, and the ingest function sees
// them fall. Locally (one collector per variant, never restarted) it may stay unset.
const (
	CollectorAttribute = "phoenix.collector"
	CollectorNameEnv   = "PHOENIX_COLLECTOR_NAME"
)

// TelemetryInterval is how often a rendered collector exports its own telemetry: several times
// per KPI window, so every window sees the collector's CPU and memory more than once.
const TelemetryInterval = 5 * time.Second

// Request is everything one render needs.
type Request struct {
	Template     string            // template name
	Params       map[string]string // raw parameter values; lists are comma-separated
	ExperimentID uuid.UUID         // becomes resource attribute phoenix.experiment.id
	Variant      string            // baseline or candidate
	Target       Target            // kubernetes or local
	Output       Output            // where metrics go
	Custom       *Custom           // the processors, when Template is CustomTemplate
}

// ParamError names the parameters that are wrong and why.
type ParamError struct {
	Problems []string // one sentence per problem, each naming its parameter
}

func (e *ParamError) Error() string { return strings.Join(e.Problems, "; ") }

// safePattern keeps patterns inside an OTTL string literal inside YAML: no quotes, backslashes,
// '#' or whitespace can reach the configuration.
var safePattern = regexp.MustCompile(`^[A-Za-z0-9._\-*+?()|\[\]^$]{1,200}$`)

// Render produces the collector configuration for r, or an error naming what is wrong.
func Render(r Request) ([]byte, error) {
	t, ok := Lookup(r.Template)
	if !ok {
		names := []string{}
		for _, t := range Templates() {
			names = append(names, t.Name)
		}
		return nil, fmt.Errorf("unknown template %q (one of %s)", r.Template, strings.Join(names, ", "))
	}
	var problems []string
	if r.ExperimentID == uuid.Nil {
		problems = append(problems, "experiment id is required")
	}
	if r.Variant != "baseline" && r.Variant != "candidate" {
		problems = append(problems, fmt.Sprintf("variant %q is not baseline or candidate", r.Variant))
	}
	if r.Target != Kubernetes && r.Target != Local {
		problems = append(problems, fmt.Sprintf("target %q is not kubernetes or local", r.Target))
	}
	if !strings.HasPrefix(r.Output.Endpoint, "http://") && !strings.HasPrefix(r.Output.Endpoint, "https://") {
		problems = append(problems, "output endpoint must be an http(s) URL")
	}
	values, list, perr := t.resolve(r.Params)
	problems = append(problems, perr...)
	own, chain := processors[t.Name], []renderedProcessor(nil)
	if t.Name == CustomTemplate {
		if r.Custom == nil {
			problems = append(problems, "a custom pipeline needs its processors")
		} else if cp := r.Custom.Validate(); len(cp) > 0 {
			problems = append(problems, cp...)
		} else {
			var err error
			if chain, own, err = renderCustom(r.Custom); err != nil {
				problems = append(problems, err.Error())
			}
		}
	}
	if len(problems) > 0 {
		return nil, &ParamError{Problems: problems}
	}
	data := map[string]any{
		"P": values, "Target": string(r.Target), "ExperimentID": r.ExperimentID.String(), "Variant": r.Variant,
		"Template": t.Name, "Output": map[string]any{"Endpoint": r.Output.Endpoint, "Headers": r.Output.Headers, "MetricsURL": r.Output.MetricsURL()},
		"Critical":        list["critical_processes"],
		"Patterns":        map[string][]string{"critical": list["critical_processes"], "high": list["high_processes"], "medium": list["medium_processes"]},
		"Processors":      own,
		"Custom":          chain,
		"TopKMetric":      map[string]string{"cpu": "process.cpu.utilization", "memory": "process.memory.usage"}[values["by"]],
		"Stream":          map[string]string{"Attribute": StreamAttribute, "Value": SelfTelemetry},
		"Collector":       map[string]string{"Attribute": CollectorAttribute, "Env": CollectorNameEnv},
		"TelemetryMillis": TelemetryInterval.Milliseconds(),
	}
	tmpl, err := template.New("").Funcs(template.FuncMap{
		"quote":     strconv.Quote,
		"ottlRegex": ottlRegex,
		"list":      func(s ...string) []string { return s },
	}).ParseFS(files, "templates/common.tmpl", "templates/"+t.Name+".tmpl")
	if err != nil {
		return nil, fmt.Errorf("parse template %s: %w", t.Name, err)
	}
	var buf bytes.Buffer
	if err := tmpl.ExecuteTemplate(&buf, t.Name+".tmpl", data); err != nil {
		return nil, fmt.Errorf("render %s: %w", t.Name, err)
	}
	return buf.Bytes(), nil
}

// processors are each template's own processors, in pipeline order, between the memory limiter
// and the identity/batch steps.
var processors = map[string][]string{
	"process-baseline":        nil,
	"process-minimal":         {"filter/minimal"},
	"process-priority-filter": {"transform/classify", "filter/keep-critical-high"},
	"process-topk":            {"phoenix_topk"},
	"process-aggregated":      {"transform/aggregate-tail", "groupbyattrs/compact", "transform/sum-tail"},
}

// resolve checks raw parameter values against the template's declarations and applies defaults.
func (t Template) resolve(raw map[string]string) (map[string]string, map[string][]string, []string) {
	values, lists := map[string]string{}, map[string][]string{}
	var problems []string
	known := map[string]bool{}
	for _, p := range t.Params {
		known[p.Name] = true
		v, given := raw[p.Name]
		if !given {
			v = p.Default
		}
		switch p.Type {
		case "duration":
			d, err := time.ParseDuration(v)
			lo, _ := time.ParseDuration(p.Min)
			hi, _ := time.ParseDuration(p.Max)
			if err != nil || d < lo || d > hi {
				problems = append(problems, fmt.Sprintf("%s=%q: want a duration between %s and %s", p.Name, v, p.Min, p.Max))
				continue
			}
			values[p.Name] = d.String()
		case "int":
			n, err := strconv.Atoi(v)
			lo, _ := strconv.Atoi(p.Min)
			hi, _ := strconv.Atoi(p.Max)
			if err != nil || n < lo || n > hi {
				problems = append(problems, fmt.Sprintf("%s=%q: want a whole number between %s and %s", p.Name, v, p.Min, p.Max))
				continue
			}
			values[p.Name] = strconv.Itoa(n)
		case "enum":
			if !slices.Contains(p.Enum, v) {
				problems = append(problems, fmt.Sprintf("%s=%q: want one of %s", p.Name, v, strings.Join(p.Enum, ", ")))
				continue
			}
			values[p.Name] = v
		case "patterns":
			var ps []string
			for _, s := range strings.Split(v, ",") {
				if s = strings.TrimSpace(s); s != "" {
					ps = append(ps, s)
				}
			}
			if p.Required && len(ps) == 0 {
				problems = append(problems, fmt.Sprintf("%s is required: give at least one process name", p.Name))
			}
			for _, s := range ps {
				if !safePattern.MatchString(s) {
					problems = append(problems, fmt.Sprintf("%s: %q may use only letters, digits and . _ - * + ? ( ) | [ ] ^ $", p.Name, s))
				} else if _, err := regexp.Compile("^(?:" + s + ")$"); err != nil {
					problems = append(problems, fmt.Sprintf("%s: %q is not a valid RE2 pattern", p.Name, s))
				}
			}
			lists[p.Name] = ps
			values[p.Name] = strings.Join(ps, ",")
		}
	}
	var unknown []string
	for k := range raw {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		problems = append(problems, fmt.Sprintf("unknown parameter %s for template %s", k, t.Name))
	}
	return values, lists, problems
}

// ottlRegex renders patterns as one OTTL string literal matching any of them whole.
func ottlRegex(patterns []string) string {
	return `"^(?:` + strings.Join(patterns, "|") + `)$"`
}
