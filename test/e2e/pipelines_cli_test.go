package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestCLI_OwnPipelinesFromFileToRunningCollectors saves a tenant's own pipeline with the CLI —
// refused first in the collector's own words, then accepted — lists and reads it back, runs it
// as an experiment's candidate until both variants' real collectors are running, captures ten
// seconds of the baseline's real output, and previews the pipeline on it with the real collector.
func TestCLI_OwnPipelinesFromFileToRunningCollectors(t *testing.T) {
	t.Parallel()
	p := startDevWith(t, []string{"--collector", collector(t)}, []string{"PHOENIX_KPI_WINDOW=6s"})
	c := signedIn(t, p)
	file := filepath.Join(t.TempDir(), "no-threads.yaml")
	write := func(condition string) {
		t.Helper()
		doc := "processors:\n  - name: filter/threads\n    config:\n      metrics:\n        metric: ['" + condition + "']\n"
		if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`metric.name ==`)
	if _, errOut, err := c.run(t, "", "pipeline", "validate", "--file", file); err == nil || !strings.Contains(errOut, "unable to parse OTTL") {
		t.Fatalf("validate a broken condition: %v\n%s", err, errOut)
	}
	if _, errOut, err := c.run(t, "", "pipeline", "create", "no-threads", "--file", file); err == nil || !strings.Contains(errOut, "unable to parse OTTL") {
		t.Fatalf("create with a broken condition: %v\n%s", err, errOut)
	}
	write(`metric.name == "process.threads"`)
	if out, errOut, err := c.run(t, "", "pipeline", "validate", "--file", file); err != nil || !strings.Contains(out, "valid") {
		t.Fatalf("validate: %v %s %s", err, out, errOut)
	}
	if out, errOut, err := c.run(t, "", "pipeline", "create", "no-threads", "--file", file, "--description", "no thread counts"); err != nil ||
		!strings.Contains(out, "saved no-threads version 1") {
		t.Fatalf("create: %v %s %s", err, out, errOut)
	}
	if out, _, err := c.run(t, "", "pipeline", "list"); err != nil || !strings.Contains(out, "no-threads") || !strings.Contains(out, "filter/threads") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if out, _, err := c.run(t, "", "pipeline", "get", "no-threads", "--version", "1"); err != nil || !strings.Contains(out, `metric.name == "process.threads"`) {
		t.Fatalf("get: %v\n%s", err, out)
	}

	out, errOut, err := c.run(t, "", "experiment", "create", "--name", "own", "--candidate-pipeline", "no-threads@1",
		"--param", "collection_interval=2s", "--duration", "1m")
	if err != nil || !uuidLine.MatchString(out) {
		t.Fatalf("create an experiment with the pipeline: %v %s %s", err, out, errOut)
	}
	id := strings.TrimSpace(out)
	if _, errOut, err := c.run(t, "", "experiment", "start", id); err != nil {
		t.Fatal(err, errOut)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		out, _, err = c.run(t, "", "experiment", "get", id)
		if err == nil && strings.Contains(out, `"state": "running"`) {
			break
		}
		if time.Now().After(deadline) || strings.Contains(out, `"state": "failed"`) {
			t.Fatalf("the experiment with the saved pipeline never ran (the platform's logs follow):\n%s", out)
		}
		time.Sleep(500 * time.Millisecond) // polling the API, bounded by the deadline
	}
	if !strings.Contains(out, `"template": "custom"`) || !strings.Contains(out, `"filter/threads"`) {
		t.Fatalf("the experiment does not hold the pipeline it runs:\n%s", out)
	}

	// A capture of the running baseline's real output.
	out, errOut, err = c.run(t, "", "capture", "create", "--experiment", id, "--duration", "10s", "--name", "ten seconds")
	if err != nil || !uuidLine.MatchString(out) {
		t.Fatalf("capture create: %v %s %s", err, out, errOut)
	}
	capture := strings.TrimSpace(out)
	var got struct {
		State      string `json:"state"`
		Requests   int    `json:"requests"`
		Datapoints int64  `json:"datapoints"`
	}
	deadline = time.Now().Add(40 * time.Second)
	for got.State != "complete" {
		if time.Now().After(deadline) {
			t.Fatalf("the capture never completed: %+v", got)
		}
		time.Sleep(time.Second) // polling the API, bounded by the deadline
		out, _, err = c.run(t, "", "capture", "get", capture)
		if err != nil || json.Unmarshal([]byte(out), &got) != nil {
			t.Fatalf("capture get: %v\n%s", err, out)
		}
	}
	// The collector batches for 5 s, and the ingest function learns of a new capture within its
	// 2 s token cache: ten seconds hold one or two requests of every process on this host.
	if got.Requests < 1 || got.Datapoints < 100 {
		t.Fatalf("ten seconds of the baseline captured %+v", got)
	}
	if out, _, err := c.run(t, "", "capture", "list"); err != nil || !strings.Contains(out, "ten seconds") || !strings.Contains(out, "complete") {
		t.Fatalf("capture list: %v\n%s", err, out)
	}
	// The saved pipeline previewed on what the baseline really sent, against the baseline's template.
	out, errOut, err = c.run(t, "", "pipeline", "preview", "--capture", capture, "--pipeline", "no-threads", "--against", "process-baseline",
		"--param", "collection_interval=2s")
	if err != nil || !strings.Contains(out, "drops 1 metrics: process.threads") || !strings.Contains(out, "no-threads against process-baseline") ||
		!strings.Contains(out, "cost/month ($)") {
		t.Fatalf("pipeline preview: %v\n%s%s", err, out, errOut)
	}
	t.Logf("phoenix pipeline preview:\n%s", out)

	// Recommendations for the capture, with a dashboard that queries thread counts; then one command
	// starts the experiment that confirms the first.
	dash := filepath.Join(t.TempDir(), "dashboard.json")
	if err := os.WriteFile(dash, []byte(`{"panels":[{"targets":[{"expr":"max by (process_executable_name) (process_threads)"}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, err = c.run(t, "", "recommend", "--capture", capture, "--dashboard", dash)
	m := regexp.MustCompile(`phoenix experiment create --from-recommendation ([0-9a-f-]{36})`).FindStringSubmatch(out)
	if err != nil || m == nil || !strings.Contains(out, "1. ") || !strings.Contains(out, "your rules and dashboards query 1 metrics") {
		t.Fatalf("recommend: %v\n%s%s", err, out, errOut)
	}
	t.Logf("phoenix recommend:\n%s", out)
	out, errOut, err = c.run(t, "", "experiment", "create", "--from-recommendation", m[1])
	if err != nil || !uuidLine.MatchString(out) {
		t.Fatalf("experiment create --from-recommendation: %v %s %s", err, out, errOut)
	}
	confirm := strings.TrimSpace(out)
	if got, _, err := c.run(t, "", "experiment", "get", confirm); err != nil || !strings.Contains(got, `"recommendation_id": "`+m[1]+`"`) ||
		!strings.Contains(got, `"name": "confirm: `) {
		t.Fatalf("the experiment from the recommendation: %v\n%s", err, got)
	}

	// Run it to its verdict: the report sets the prediction against what was measured.
	if _, errOut, err := c.run(t, "", "experiment", "stop", id); err != nil {
		t.Fatal(err, errOut)
	}
	if _, errOut, err := c.run(t, "", "experiment", "start", confirm); err != nil {
		t.Fatal(err, errOut)
	}
	out, errOut, err = c.run(t, "", "experiment", "watch", confirm)
	if err != nil || !strings.Contains(out, "prediction against proof: the recommendation predicted, for the candidate: series ") {
		t.Fatalf("watch the confirmation to its verdict: %v\n%s%s", err, out, errOut)
	}
	t.Logf("the confirmation's verdict:\n%s", out[strings.Index(out, "METRIC"):])
	if _, errOut, err := c.run(t, "", "capture", "delete", capture); err != nil {
		t.Fatal(err, errOut)
	}
	if _, errOut, err := c.run(t, "", "capture", "get", capture); err == nil || !strings.Contains(errOut, "404") {
		t.Fatalf("a deleted capture: %v %s", err, errOut)
	}
}
