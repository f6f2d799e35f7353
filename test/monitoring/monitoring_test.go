// Package monitoring checks deploy/monitoring against what Phoenix really exports: every metric
// name in a recording rule, an alert or a Grafana panel must be registered by a running Phoenix
// function, exported by the Phoenix collector, defined by a recording rule, or be one of
// Prometheus's own series (up, ALERTS); every label a matcher uses must exist on that metric or
// be added by the scrape configuration. It also holds every alert to its severity, summary,
// description and an existing runbook, keeps the Operator's PrometheusRule identical to the
// promtool-tested rules file, and runs promtool when it is installed.
//
// "What Phoenix exports" is measured, not listed: the test builds the CLI, starts `phoenix dev`
// (every function in one process, on real PostgreSQL and Redis, as `make run` does), sends each
// function a request and a CloudEvent, and reads each /metrics; it runs the Phoenix collector
// with Phoenix's processors and a working and a failing exporter, and reads its /metrics too.
// A family with labels appears only once it has a series, so functions create the series of
// every label value they know at start (as the gateway does for its reasons).
package monitoring

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"sigs.k8s.io/yaml"

	"github.com/phoenixotel/phoenix/test/bintest"
	"github.com/phoenixotel/phoenix/test/pgtest"
)

var update = flag.Bool("update", false, "rewrite deploy/monitoring/prometheusrule.yaml from prometheus/rules/phoenix.rules.yml")

// root is the repository root, found from this file so the test runs from any directory.
func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func path(parts ...string) string { return filepath.Join(append([]string{root()}, parts...)...) }

// family is one exported metric family: its type and the label names its series carry.
type family struct {
	typ    string          // counter, gauge, histogram, summary, untyped
	labels map[string]bool // label names seen on its series
	source string          // who exports it, for messages
}

// exposition is the metric families of one or more /metrics pages, by name.
type exposition map[string]*family

// add parses a Prometheus text exposition into e. Histogram and summary series carry the label
// their buckets or quantiles are cut by (le, quantile) besides their own.
func (e exposition) add(source, body string) error {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s /metrics: %w", source, err)
	}
	for name, mf := range families {
		fam := e[name]
		if fam == nil {
			fam = &family{typ: strings.ToLower(mf.GetType().String()), labels: map[string]bool{}, source: source}
			e[name] = fam
		}
		switch mf.GetType() {
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			fam.labels["le"] = true
		case dto.MetricType_SUMMARY:
			fam.labels["quantile"] = true
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				fam.labels[l.GetName()] = true
			}
		}
	}
	return nil
}

// builtins are series Prometheus makes itself, with their labels.
var builtins = map[string][]string{
	"up":     nil,                                     // one per target, with the target's labels
	"ALERTS": {"alertname", "alertstate", "severity"}, // one per pending or firing alert
}

var (
	platformOnce sync.Once
	platformExp  exposition
	platformErr  error
)

// platformMetrics runs `phoenix dev` once and returns what its functions export, by function.
func platformMetrics(t *testing.T) (exposition, map[string]string) {
	t.Helper()
	var addrs map[string]string
	platformOnce.Do(func() { platformExp, addrs, platformErr = runPlatform(t) })
	if platformErr != nil {
		t.Fatal(platformErr)
	}
	return platformExp, addrs
}

var functionsSeen map[string]string // function -> base URL, set by runPlatform

func runPlatform(t *testing.T) (exposition, map[string]string, error) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "phoenix")
	if err := bintest.Build(bin, "cmd/phoenix"); err != nil {
		return nil, nil, err
	}
	// Every function phoenix dev can run has an --<name>-addr flag; all get a free port.
	help, _ := exec.Command(bin, "dev", "--help").CombinedOutput()
	flags := regexp.MustCompile(`--([a-z]+)-addr\b`).FindAllStringSubmatch(string(help), -1)
	if len(flags) < 5 {
		return nil, nil, fmt.Errorf("phoenix dev --help lists %d address flags:\n%s", len(flags), help)
	}
	db := pgtest.New(t)
	cmdArgs := []string{"dev", "--dev-keys", filepath.Join(dir, "keys.pem"), "--run-dir", filepath.Join(dir, "run"), "--tick", "@every 1s"}
	for _, f := range flags {
		cmdArgs = append(cmdArgs, "--"+f[1]+"-addr", "127.0.0.1:0")
	}
	cmd := exec.Command(bin, cmdArgs...)
	cmd.Dir = dir
	cmd.Env = append(bintest.Env(), "PHOENIX_DATABASE_URL="+db.AppURL, "PHOENIX_MIGRATE_DATABASE_URL="+db.OwnerURL,
		"PHOENIX_JWT_KEYS_FILE=", "PHOENIX_LOG_LEVEL=warn")
	var logs bytes.Buffer
	cmd.Stderr = &logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	exited := make(chan struct{})
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	addrs := map[string]string{}
	line := regexp.MustCompile(`^(\w+)\s+(http://127\.0\.0\.1:\d+)\s`)
	sc := bufio.NewScanner(stdout)
	running := false
	for sc.Scan() {
		if m := line.FindStringSubmatch(sc.Text()); m != nil {
			addrs[m[1]] = m[2]
		}
		if strings.HasPrefix(sc.Text(), "Phoenix is running") {
			running = true
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, stdout); _ = cmd.Wait(); close(exited) }()
	if !running {
		return nil, nil, fmt.Errorf("phoenix dev did not start:\n%s", logs.String())
	}

	// One request and one CloudEvent to each function, so the runtime's per-request families
	// have series; then wait for the controller to have handled a clock tick.
	client := &http.Client{Timeout: 10 * time.Second}
	for name, base := range addrs {
		resp, err := client.Get(base + "/monitoring-probe")
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %v", name, err)
		}
		resp.Body.Close()
		req, _ := http.NewRequest(http.MethodPost, base+"/", strings.NewReader(`{}`))
		for k, v := range map[string]string{"Ce-Specversion": "1.0", "Ce-Id": "monitoring-probe", "Ce-Source": "test/monitoring",
			"Ce-Type": "io.phoenix.monitoring.probe", "Content-Type": "application/json"} {
			req.Header.Set(k, v)
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	var exp exposition
	deadline := time.Now().Add(30 * time.Second)
	for {
		exp = exposition{}
		var ticked bool
		for name, base := range addrs {
			resp, err := client.Get(base + "/metrics")
			if err != nil {
				return nil, nil, fmt.Errorf("%s /metrics: %v", name, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return nil, nil, fmt.Errorf("%s /metrics: %s", name, resp.Status)
			}
			if err := exp.add(name, string(body)); err != nil {
				return nil, nil, err
			}
			ticked = ticked || (name == "controller" && strings.Contains(string(body), `route="dev.knative.sources.ping"`))
		}
		if ticked {
			break
		}
		if time.Now().After(deadline) {
			return nil, nil, fmt.Errorf("the controller handled no clock tick in 30 s:\n%s", logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	functionsSeen = addrs
	return exp, addrs, nil
}

var (
	collectorOnce sync.Once
	collectorExp  exposition
	collectorErr  error
)

// collectorBinary is $PHOENIX_COLLECTOR, or the distribution built from deploy/collector into
// the test's own directory (test/collector builds bin/phoenix-collector at the same time).
func collectorBinary(t *testing.T) (string, error) {
	if b := os.Getenv("PHOENIX_COLLECTOR"); b != "" {
		return b, nil
	}
	out := filepath.Join(t.TempDir(), "phoenix-collector")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = path("deploy", "collector")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the collector: %v\n%s", err, b)
	}
	return out, nil
}

// collectorMetrics runs the Phoenix collector the way experiments do (host metrics, the memory
// limiter, Phoenix's top-k processor, batching, OTLP/HTTP out) with one exporter that works and
// one that fails, and returns its self-metrics once both exporters have reported.
func collectorMetrics(t *testing.T) exposition {
	t.Helper()
	collectorOnce.Do(func() { collectorExp, collectorErr = runCollector(t) })
	if collectorErr != nil {
		t.Fatal(collectorErr)
	}
	return collectorExp
}

func runCollector(t *testing.T) (exposition, error) {
	bin, err := collectorBinary(t)
	if err != nil {
		return nil, err
	}
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(sink.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // the collector binds it next; the window for another process to take it is tiny
	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	deadAddr := refused.Addr().String()
	refused.Close() // nothing listens there: every export to it fails
	config := fmt.Sprintf(`receivers:
  host_metrics:
    collection_interval: 1s
    scrapers:
      process:
        mute_process_name_error: true
        mute_process_exe_error: true
        mute_process_io_error: true
        mute_process_user_error: true
        mute_process_cgroup_error: true
processors:
  memory_limiter:
    check_interval: 1s
    limit_percentage: 80
    spike_limit_percentage: 20
  phoenix_topk:
    k: 5
    metric: process.memory.usage
    keep: "^(?:go)$"
  batch:
    timeout: 1s
exporters:
  otlp_http/phoenix:
    endpoint: %q
  otlp_http/unreachable:
    endpoint: "http://%s"
    retry_on_failure: {enabled: false}
service:
  telemetry:
    metrics:
      level: normal
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: %d
  pipelines:
    metrics/phoenix:
      receivers: [host_metrics]
      processors: [memory_limiter, phoenix_topk, batch]
      exporters: [otlp_http/phoenix, otlp_http/unreachable]
`, sink.URL, deadAddr, port)
	cfgPath := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--config="+cfgPath)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	url := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if resp, err := http.Get(url); err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			s := string(body)
			if strings.Contains(s, `otelcol_exporter_sent_metric_points{exporter="otlp_http/phoenix"`) &&
				strings.Contains(s, `otelcol_exporter_send_failed_metric_points{exporter="otlp_http/unreachable"`) {
				exp := exposition{}
				return exp, exp.add("phoenix-collector", s)
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the collector exported nothing in 60 s:\n%s", logs.String())
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// targetLabels are the labels the scrape configuration adds to every series: job and instance,
// and each target_label of prometheus.yml's relabelling.
func targetLabels(t *testing.T) map[string]bool {
	t.Helper()
	var cfg struct {
		ScrapeConfigs []struct {
			JobName        string `json:"job_name"`
			RelabelConfigs []struct {
				TargetLabel string `json:"target_label"`
			} `json:"relabel_configs"`
		} `json:"scrape_configs"`
	}
	readYAML(t, path("deploy", "monitoring", "prometheus", "prometheus.yml"), &cfg)
	out := map[string]bool{"job": true, "instance": true}
	for _, sc := range cfg.ScrapeConfigs {
		for _, rc := range sc.RelabelConfigs {
			if rc.TargetLabel != "" {
				out[rc.TargetLabel] = true
			}
		}
	}
	return out
}

func readYAML(t *testing.T, file string, v any) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// rule is one recording or alerting rule.
type rule struct {
	Record      string            `json:"record,omitempty"`
	Alert       string            `json:"alert,omitempty"`
	Expr        string            `json:"expr"`
	For         string            `json:"for,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// group is one rule group.
type group struct {
	Name     string `json:"name"`
	Interval string `json:"interval,omitempty"`
	Rules    []rule `json:"rules"`
}

const rulesFile = "deploy/monitoring/prometheus/rules/phoenix.rules.yml"

func ruleGroups(t *testing.T) []group {
	t.Helper()
	var f struct {
		Groups []group `json:"groups"`
	}
	readYAML(t, path(rulesFile), &f)
	if len(f.Groups) == 0 {
		t.Fatalf("%s has no groups", rulesFile)
	}
	return f.Groups
}

// checker validates the metric names and label names of expressions.
type checker struct {
	exported exposition      // what Phoenix and its collector export
	recorded map[string]bool // recording rule names
	targets  map[string]bool // labels the scrape configuration adds
}

func (c checker) check(expr string) []string {
	sels, err := selectors(expr)
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	for _, s := range sels {
		if c.recorded[s.name] {
			continue
		}
		if labels, ok := builtins[s.name]; ok {
			for _, l := range s.labels {
				if !slices.Contains(labels, l) && !c.targets[l] {
					problems = append(problems, fmt.Sprintf("%s has no label %q", s.name, l))
				}
			}
			continue
		}
		fam, extra := c.exported[s.name], map[string]bool{}
		if fam == nil {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				base, ok := strings.CutSuffix(s.name, suffix)
				if f := c.exported[base]; ok && f != nil && (f.typ == "histogram" || (f.typ == "summary" && suffix != "_bucket")) {
					fam = f
					extra["le"] = suffix == "_bucket"
				}
			}
		}
		if fam == nil {
			problems = append(problems, fmt.Sprintf("metric %s is not exported by any Phoenix function or the collector, nor recorded by a rule", s.name))
			continue
		}
		for _, l := range s.labels {
			if !fam.labels[l] && !c.targets[l] && !extra[l] {
				problems = append(problems, fmt.Sprintf("%s (from %s) has no label %q", s.name, fam.source, l))
			}
		}
	}
	return problems
}

func newChecker(t *testing.T) checker {
	t.Helper()
	exp := exposition{}
	platform, _ := platformMetrics(t)
	for k, v := range platform {
		exp[k] = v
	}
	for k, v := range collectorMetrics(t) {
		if prev := exp[k]; prev != nil {
			if prev.typ != v.typ {
				t.Fatalf("%s is a %s in %s and a %s in the collector", k, prev.typ, prev.source, v.typ)
			}
			for l := range v.labels {
				prev.labels[l] = true
			}
			continue
		}
		exp[k] = v
	}
	recorded := map[string]bool{}
	for _, g := range ruleGroups(t) {
		for _, r := range g.Rules {
			if r.Record != "" {
				recorded[r.Record] = true
			}
		}
	}
	return checker{exported: exp, recorded: recorded, targets: targetLabels(t)}
}

func TestRulesAndDashboards_UseOnlyExportedMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("starts phoenix dev and the collector")
	}
	c := newChecker(t)
	t.Run("rules", func(t *testing.T) {
		for _, g := range ruleGroups(t) {
			for _, r := range g.Rules {
				for _, p := range c.check(r.Expr) {
					t.Errorf("%s: rule %s%s: %s", rulesFile, r.Record, r.Alert, p)
				}
			}
		}
	})
	t.Run("dashboards", func(t *testing.T) {
		for file, d := range dashboards(t) {
			for _, p := range d.Panels {
				for _, tg := range p.Targets {
					for _, problem := range c.check(tg.Expr) {
						t.Errorf("%s: panel %q: %s", file, p.Title, problem)
					}
				}
			}
			for _, v := range d.Templating.List {
				q := templateQuery(v)
				if m := labelValues.FindStringSubmatch(q); m != nil {
					for _, problem := range c.check(m[1]) {
						t.Errorf("%s: variable %s: %s", file, v.Name, problem)
					}
				}
			}
		}
	})
	t.Run("every deployed component is measured", func(t *testing.T) {
		_, _ = platformMetrics(t)
		b, err := os.ReadFile(path("deploy", "base", "functions.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		g, err := os.ReadFile(path("deploy", "base", "gateway.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`(?m)^  name: phoenix-(\w+)$`).FindAllStringSubmatch(string(b)+string(g), -1) {
			if functionsSeen[m[1]] == "" {
				t.Errorf("deploy/base deploys phoenix-%s, which phoenix dev does not run, so its metrics are unchecked", m[1])
			}
		}
	})
}

var labelValues = regexp.MustCompile(`^label_values\((.+),\s*[a-zA-Z_][a-zA-Z0-9_]*\)$`)

// dashboard is the part of a Grafana dashboard model the checks read.
type dashboard struct {
	UID        string   `json:"uid"`
	Title      string   `json:"title"`
	Tags       []string `json:"tags"`
	Templating struct {
		List []variable `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

// variable is a dashboard template variable.
type variable struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Query any    `json:"query"` // a string, or {query: …} in newer models
}

// panel is a dashboard panel.
type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr  string `json:"expr"`
		RefID string `json:"refId"`
	} `json:"targets"`
}

func templateQuery(v variable) string {
	switch q := v.Query.(type) {
	case string:
		return q
	case map[string]any:
		s, _ := q["query"].(string)
		return s
	}
	return ""
}

func dashboards(t *testing.T) map[string]dashboard {
	t.Helper()
	files, _ := filepath.Glob(path("deploy", "monitoring", "grafana", "*.json"))
	if len(files) < 4 {
		t.Fatalf("want the overview, experiments, gateway and functions dashboards, found %v", files)
	}
	out := map[string]dashboard{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(f)] = d
	}
	return out
}

func TestDashboards_AreWellFormed(t *testing.T) {
	uids := map[string]string{}
	for file, d := range dashboards(t) {
		if d.UID+".json" != file {
			t.Errorf("%s: uid %q should match the file name", file, d.UID)
		}
		if prev, dup := uids[d.UID]; dup {
			t.Errorf("%s and %s share uid %s", file, prev, d.UID)
		}
		uids[d.UID] = file
		if !strings.HasPrefix(d.Title, "Phoenix") || !slices.Contains(d.Tags, "phoenix") {
			t.Errorf("%s: title %q and tags %v: want a Phoenix title and the phoenix tag", file, d.Title, d.Tags)
		}
		hasDatasource := false
		for _, v := range d.Templating.List {
			hasDatasource = hasDatasource || (v.Type == "datasource" && v.Name == "datasource")
		}
		if !hasDatasource {
			t.Errorf("%s: no datasource variable; panels must not pin one Prometheus", file)
		}
		ids := map[int]bool{}
		queries := 0
		for _, p := range d.Panels {
			if ids[p.ID] {
				t.Errorf("%s: duplicate panel id %d", file, p.ID)
			}
			ids[p.ID] = true
			if p.Type == "row" || p.Type == "text" {
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: panel %q has no query", file, p.Title)
			}
			if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
				t.Errorf("%s: panel %q must use the ${datasource} variable", file, p.Title)
			}
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("%s: panel %q has an empty query", file, p.Title)
				}
				queries++
			}
		}
		if queries == 0 {
			t.Errorf("%s: no queries", file)
		}
	}
}

var runbookURL = regexp.MustCompile(`^https://github\.com/phoenixotel/phoenix/blob/main/(docs/runbooks/[a-z0-9-]+\.md)$`)

func TestAlerts_HaveSeverityTextAndARunbook(t *testing.T) {
	used := map[string]bool{}
	alerts := map[string]bool{}
	for _, g := range ruleGroups(t) {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts[r.Alert] = true
			if s := r.Labels["severity"]; s != "critical" && s != "warning" && s != "info" {
				t.Errorf("%s: severity %q, want critical, warning or info", r.Alert, s)
			}
			for _, a := range []string{"summary", "description"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("%s: no %s", r.Alert, a)
				}
			}
			m := runbookURL.FindStringSubmatch(r.Annotations["runbook_url"])
			if m == nil {
				t.Errorf("%s: runbook_url %q must point at docs/runbooks/<name>.md on main", r.Alert, r.Annotations["runbook_url"])
				continue
			}
			used[m[1]] = true
			doc, err := os.ReadFile(path(m[1]))
			if err != nil {
				t.Errorf("%s: its runbook %s does not exist", r.Alert, m[1])
				continue
			}
			if !strings.Contains(string(doc), r.Alert) && !strings.Contains(string(doc), strings.TrimPrefix(r.Alert, "PhoenixGateway")) {
				t.Errorf("%s: %s never names the alert", r.Alert, m[1])
			}
		}
	}
	// The alerts the operations issue asks for, by what they watch.
	for _, want := range []string{"PhoenixAPIErrorRateHigh", "PhoenixAPILatencyP99High", "PhoenixEventDeliveryFailing",
		"PhoenixDeadLetters", "PhoenixExperimentClockStopped", "PhoenixCollectorDown", "PhoenixCollectorDroppingData",
		"PhoenixCandidateCostAboveBaseline", "PhoenixGatewaySaturated", "PhoenixExperimentStuckInPhase",
		"PhoenixCriticalCoverageBelowTarget", "PhoenixAnalysisFailed", "PhoenixAnalysisSlow"} {
		if !alerts[want] {
			t.Errorf("alert %s is missing", want)
		}
	}
	docs, _ := filepath.Glob(path("docs", "runbooks", "*.md"))
	for _, d := range docs {
		rel := "docs/runbooks/" + filepath.Base(d)
		if filepath.Base(d) != "README.md" && !used[rel] {
			t.Errorf("%s is no alert's runbook", rel)
		}
	}
}

// prometheusRule renders the Operator's PrometheusRule from the rules file's text, comments
// included, so the generated file reads like the original.
func prometheusRule(t *testing.T) []byte {
	t.Helper()
	src, err := os.ReadFile(path(rulesFile))
	if err != nil {
		t.Fatal(err)
	}
	_, body, ok := strings.Cut(string(src), "\ngroups:\n")
	if !ok {
		t.Fatalf("%s: no top-level groups:", rulesFile)
	}
	var b strings.Builder
	b.WriteString(`# The rules of prometheus/rules/phoenix.rules.yml for the Prometheus Operator. Generated from that
# file, which is the one to edit (promtool checks and tests it): test/monitoring fails when the two
# differ, and ` + "`go test ./test/monitoring -run PrometheusRule -update`" + ` rewrites this one.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: phoenix
  labels:
    app.kubernetes.io/part-of: phoenix
spec:
  groups:
`)
	for _, line := range strings.SplitAfter(body, "\n") {
		if strings.TrimSpace(line) != "" {
			b.WriteString("    ")
		}
		b.WriteString(line)
	}
	return []byte(b.String())
}

func TestPrometheusRule_MatchesTheRulesFile(t *testing.T) {
	file := path("deploy", "monitoring", "prometheusrule.yaml")
	want := prometheusRule(t)
	if *update {
		if err := os.WriteFile(file, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var crd struct {
		Kind string `json:"kind"`
		Spec struct {
			Groups []group `json:"groups"`
		} `json:"spec"`
	}
	readYAML(t, file, &crd)
	if crd.Kind != "PrometheusRule" || !reflect.DeepEqual(crd.Spec.Groups, ruleGroups(t)) {
		t.Fatalf("%s differs from %s: run `go test ./test/monitoring -run PrometheusRule -update`", file, rulesFile)
	}
	got, _ := os.ReadFile(file)
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is not the generated text: run `go test ./test/monitoring -run PrometheusRule -update`", file)
	}
}

func TestMonitors_AddTheLabelsTheRulesUse(t *testing.T) {
	targets := targetLabels(t)
	b, err := os.ReadFile(path("deploy", "monitoring", "monitors.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	jobs := map[string]bool{}
	for _, m := range regexp.MustCompile(`targetLabel: (\w+)`).FindAllStringSubmatch(string(b), -1) {
		if !targets[m[1]] {
			t.Errorf("monitors.yaml sets label %s, which prometheus.yml does not: the two setups would differ", m[1])
		}
	}
	for _, m := range regexp.MustCompile(`targetLabel: job, replacement: ([\w-]+)`).FindAllStringSubmatch(string(b), -1) {
		jobs[m[1]] = true
	}
	var cfg struct {
		ScrapeConfigs []struct {
			JobName    string `json:"job_name"`
			Kubernetes []struct {
				Role       string `json:"role"`
				Namespaces *struct {
					Names []string `json:"names"`
				} `json:"namespaces"`
			} `json:"kubernetes_sd_configs"`
		} `json:"scrape_configs"`
	}
	readYAML(t, path("deploy", "monitoring", "prometheus", "prometheus.yml"), &cfg)
	var names []string
	for _, sc := range cfg.ScrapeConfigs {
		// Debian's promtool cannot check these blocks (check-config.sh), so they are checked here.
		if len(sc.Kubernetes) != 1 || sc.Kubernetes[0].Role != "pod" {
			t.Errorf("job %s: want one kubernetes_sd_configs block with role pod (the relabelling reads pod labels and port names)", sc.JobName)
		} else if ns := sc.Kubernetes[0].Namespaces; sc.JobName != "phoenix-collectors" && (ns == nil || fmt.Sprint(ns.Names) != "[phoenix]") {
			t.Errorf("job %s: discover pods in namespace phoenix only", sc.JobName)
		}
		names = append(names, sc.JobName)
		if !jobs[sc.JobName] {
			t.Errorf("job %s of prometheus.yml has no PodMonitor or ServiceMonitor giving the same job label", sc.JobName)
		}
	}
	sort.Strings(names)
	if fmt.Sprint(names) != "[phoenix-collectors phoenix-functions phoenix-gateway]" {
		t.Errorf("scrape jobs %v", names)
	}
}

// TestPromtool checks and unit-tests the rules with promtool when it is installed (.ci/run
// installs it; `make validate-deploy` runs the same and also checks the scrape configuration).
func TestPromtool_ChecksAndTestsTheRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (apt-get install prometheus); .ci/run installs it")
	}
	tests, _ := filepath.Glob(path("deploy", "monitoring", "prometheus", "tests", "*.yml"))
	for _, args := range [][]string{
		{"check", "rules", path(rulesFile)},
		append([]string{"test", "rules"}, tests...),
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = path("deploy", "monitoring", "prometheus")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args[:2], " "), err, out)
		}
	}
}
