package integration

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/phoenixotel/phoenix/test/collector"
)

// TestFault_PlatformKilledMidRunFailsTheRunNamingTheSilentCollectors kills phoenix dev with
// SIGKILL while an experiment runs — its collectors die with it — and starts it again on the
// same database. Before, the experiment stayed running with nothing measuring and at its end
// completed with a normal-looking verdict on a fraction of its windows. Now the clock fails it
// once a variant has been silent for PHOENIX_TIMEOUT_SILENCE, and the experiment says which
// variant and since when.
func TestFault_PlatformKilledMidRunFailsTheRunNamingTheSilentCollectors(t *testing.T) {
	t.Parallel()
	p := startDev(t, devOptions{collector: collector.Binary(t), env: []string{"PHOENIX_KPI_WINDOW=6s", "PHOENIX_TIMEOUT_SILENCE=20s"}})
	acct := p.user(t, p.tenant(t, "fault"), "ops@fault.example", "operator")
	token := login(t, p.target, acct)
	var exp struct {
		ID            string  `json:"id"`
		State         string  `json:"state"`
		FailureReason *string `json:"failure_reason"`
	}
	params := map[string]any{"collection_interval": "2s"}
	send(t, p, token, http.MethodPost, "/v1/experiments", map[string]any{"name": "killed mid-run", "duration_seconds": 600,
		"baseline":  map[string]any{"template": "process-baseline", "parameters": params},
		"candidate": map[string]any{"template": "process-topk", "parameters": params}}, http.StatusCreated, &exp)
	send(t, p, token, http.MethodPost, "/v1/experiments/"+exp.ID+"/start", nil, http.StatusAccepted, nil)

	// Running, and both variants delivering.
	within(t, 2*time.Minute, "the run to start and both variants to deliver a window", func() bool {
		getJSON(t, p.target, token, "/v1/experiments/"+exp.ID, &exp)
		if exp.State != "running" {
			return false
		}
		for _, v := range []string{"baseline", "candidate"} {
			var page struct {
				Items []json.RawMessage `json:"items"`
			}
			getJSON(t, p.target, token, "/v1/experiments/"+exp.ID+"/kpis?variant="+v, &page)
			if len(page.Items) == 0 {
				return false
			}
		}
		return true
	})

	p.kill(t)
	killed := time.Now()
	p.launch(t)
	token = login(t, p.target, acct) // a new launch signs with new development keys
	within(t, 2*time.Minute, "the experiment to fail", func() bool {
		getJSON(t, p.target, token, "/v1/experiments/"+exp.ID, &exp)
		return exp.State != "running"
	})
	if exp.State != "failed" || exp.FailureReason == nil || !strings.Contains(*exp.FailureReason, "collectors delivered nothing since") {
		t.Fatalf("after the platform was killed: state %s, reason %v; want failed, naming the silent collectors", exp.State, exp.FailureReason)
	}
	t.Logf("failed %.0f s after the kill: %s", time.Since(killed).Seconds(), *exp.FailureReason)
}

// send makes an API request as token with body as JSON, requires status, and decodes the answer
// into out when out is not nil.
func send(t *testing.T, p *platform, token, method, path string, body any, status int, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, p.target.API+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != status {
		t.Fatalf("%s %s: %d %s; want %d", method, path, res.StatusCode, raw, status)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
}

// within polls cond once a second until it holds, failing the test after limit: the platform
// moves by its own clock ticks, which the test waits on.
func within(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(time.Second) // polling the API, bounded by the deadline
	}
}
