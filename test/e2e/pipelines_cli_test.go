package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCLI_OwnPipelinesFromFileToRunningCollectors saves a tenant's own pipeline with the CLI —
// refused first in the collector's own words, then accepted — lists and reads it back, and runs
// it as an experiment's candidate until both variants' real collectors are running.
func TestCLI_OwnPipelinesFromFileToRunningCollectors(t *testing.T) {
	t.Parallel()
	p := startDevWith(t, []string{"--collector", collector(t)}, []string{"PHOENIX_KPI_WINDOW=6s"})
	c := cli{bin: p.bin, configHome: t.TempDir(), env: []string{"PHOENIX_DATABASE_URL=" + p.db.AppURL}}
	c.createAdmin(t, "acme", "ops@acme.example")
	if out, errOut, err := c.run(t, adminPassword, "login", "--api", p.addrs["api"], "--gateway", p.addrs["gateway"], "--tenant", "acme",
		"--email", "ops@acme.example", "--password-stdin"); err != nil {
		t.Fatalf("login: %v %s %s", err, out, errOut)
	}
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
	if _, errOut, err := c.run(t, "", "experiment", "stop", id); err != nil {
		t.Fatal(err, errOut)
	}
}
