package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestCLI_CaptureRunWithoutAnExperiment: `phoenix capture` on its own runs the pipeline as a
// short A/A experiment with real collectors, captures its output, stops the run once the capture
// is complete, and prints the capture's id; the capture holds the pipeline's real output.
func TestCLI_CaptureRunWithoutAnExperiment(t *testing.T) {
	t.Parallel()
	p := startDevWith(t, []string{"--collector", collector(t)}, []string{"PHOENIX_KPI_WINDOW=6s"})
	c := signedIn(t, p)
	if _, errOut, err := c.run(t, "", "capture", "--duration", "10s", "--experiment", "x"); err == nil || !strings.Contains(errOut, "unknown flag") {
		t.Fatalf("a capture run takes no experiment: %v %s", err, errOut)
	}
	out, errOut, err := c.run(t, "", "capture", "--duration", "10s", "--name", "run", "--param", "collection_interval=2s", "--critical", "phoenix.*")
	if err != nil || !uuidLine.MatchString(out) || !strings.Contains(errOut, "capture run ") || !strings.Contains(errOut, "datapoints") {
		t.Fatalf("phoenix capture: %v\n%s%s", err, out, errOut)
	}
	capture := strings.TrimSpace(out)
	raw, _, err := c.run(t, "", "capture", "get", capture)
	var got struct {
		State      string `json:"state"`
		Name       string `json:"name"`
		Experiment string `json:"experiment_id"`
		Requests   int    `json:"requests"`
		Datapoints int64  `json:"datapoints"`
	}
	if err != nil || json.Unmarshal([]byte(raw), &got) != nil || got.State != "complete" || got.Name != "run" || got.Requests < 1 || got.Datapoints < 100 {
		t.Fatalf("the capture: %v\n%s", err, raw)
	}
	// The run is over: stopped once the capture was complete, nothing left running.
	exp, _, err := c.run(t, "", "experiment", "get", got.Experiment)
	if err != nil || !strings.Contains(exp, `"name": "capture run: process-baseline"`) ||
		strings.Contains(exp, `"state": "running"`) || strings.Contains(exp, `"state": "deploying"`) {
		t.Fatalf("the capture run's experiment:\n%s", exp)
	}
	// The capture previews like any other.
	prev, errOut, err := c.run(t, "", "pipeline", "preview", "--capture", capture, "--pipeline", "process-minimal", "--param", "collection_interval=2s")
	if err != nil || !strings.Contains(prev, "process-minimal over ") {
		t.Fatalf("preview the run's capture: %v\n%s%s", err, prev, errOut)
	}
}
