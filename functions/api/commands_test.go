package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/phoenixotel/phoenix/shared/experiment"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/emit"
	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/store"
)

func TestCommands_SendEventsOnlyWhenTheyApply(t *testing.T) {
	t.Parallel()
	f := setup(t)
	op := f.token(t, f.acme, "operator")
	id := f.do(t, "POST", "/v1/experiments", op, jsonBody(validExperiment())).body["id"].(string)

	r := f.do(t, "POST", "/v1/experiments/"+id+"/start", op, jsonBody(map[string]string{"reason": "try top-k"}))
	if r.code != http.StatusAccepted || r.body["state"] != "pending" {
		t.Fatalf("start: %d %v", r.code, r.body)
	}
	if len(f.sent.events) != 1 {
		t.Fatalf("sent %d events", len(f.sent.events))
	}
	e := f.sent.events[0]
	var cmd events.Command
	if err := events.Decode(e, &cmd); err != nil || e.Type() != events.ExperimentStarted || e.Subject() != id || cmd.Reason != "try top-k" {
		t.Fatalf("sent %v (%+v, %v)", e, cmd, err)
	}
	if tenant, _ := events.Tenant(e); tenant != f.acme {
		t.Fatalf("command tenant %s", tenant)
	}
	// Promote does not apply to a pending experiment.
	if r := f.do(t, "POST", "/v1/experiments/"+id+"/promote", op, nil); r.code != http.StatusConflict {
		t.Fatalf("promote while pending: %d", r.code)
	}
	if r := f.do(t, "POST", "/v1/experiments/"+id+"/start", f.token(t, f.acme, "viewer"), nil); r.code != http.StatusForbidden {
		t.Fatalf("viewer starting: %d", r.code)
	}
	if r := f.do(t, "POST", "/v1/experiments/"+id+"/start", f.token(t, f.other, "admin"), nil); r.code != http.StatusNotFound {
		t.Fatalf("another tenant starting: %d", r.code)
	}
	// Stop applies to pending; with the broker down the API says so.
	f.sent.err = emit.ErrNoSink
	if r := f.do(t, "POST", "/v1/experiments/"+id+"/stop", op, nil); r.code != http.StatusServiceUnavailable {
		t.Fatalf("stop without a broker: %d", r.code)
	}
	f.sent.err = nil
	if r := f.do(t, "POST", "/v1/experiments/"+id+"/stop", op, nil); r.code != http.StatusAccepted || f.sent.events[1].Type() != events.ExperimentStop {
		t.Fatalf("stop: %d", r.code)
	}
}

func TestDeadLetters_AreRecordedPerTenant(t *testing.T) {
	t.Parallel()
	f := setup(t)
	op := f.token(t, f.acme, "operator")
	exp := uuid.MustParse(f.do(t, "POST", "/v1/experiments", op, jsonBody(validExperiment())).body["id"].(string))
	e, _ := events.New("lost-1", events.ManifestsRequested, events.SourceController, f.acme, exp, events.ExperimentRef{ExperimentID: exp})
	e.SetExtension("knativeerrordest", "http://phoenix-generator.phoenix.svc")
	e.SetExtension("knativeerrorcode", "500")
	e.SetExtension("knativeerrordata", base64.StdEncoding.EncodeToString([]byte("boom\xff\x00")))
	post := func(ev event.Event) int {
		body, _ := ev.MarshalJSON()
		req, _ := http.NewRequest("POST", f.url+"/internal/dead-letters", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/cloudevents+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for range 2 { // redelivered: stored once
		if code := post(e); code != http.StatusAccepted {
			t.Fatalf("dead letter: %d", code)
		}
	}
	// A forged dead letter naming the tenant but not one of its experiments is not stored.
	forged := e.Clone()
	forged.SetID("forged-1")
	forged.SetSubject(uuid.NewString())
	if code := post(forged); code != http.StatusAccepted {
		t.Fatalf("forged dead letter: %d", code)
	}
	orphan := e.Clone()
	orphan.SetID("lost-2")
	orphan.SetExtension(events.TenantExtension, uuid.NewString())
	if code := post(orphan); code != http.StatusAccepted {
		t.Fatalf("dead letter of an unknown tenant: %d", code)
	}
	r := f.do(t, "GET", "/v1/dead-letters", f.token(t, f.acme, "admin"), nil)
	items := r.body["items"].([]any)
	if r.code != http.StatusOK || len(items) != 1 {
		t.Fatalf("dead letters: %d %v", r.code, r.body)
	}
	d := items[0].(map[string]any)
	if d["error_data"] != "boom\uFFFD" || d["error_code"].(float64) != 500 || d["event_type"] != events.ManifestsRequested {
		t.Fatalf("dead letter %v", d)
	}
	if r := f.do(t, "GET", "/v1/dead-letters", f.token(t, f.other, "admin"), nil); len(r.body["items"].([]any)) != 0 {
		t.Fatal("another tenant sees the dead letter")
	}
	var n int
	_ = f.st.WithTenant(context.Background(), f.acme, func(tx *store.Tx) error {
		return tx.QueryRow(context.Background(), "SELECT count(*) FROM dead_letters").Scan(&n)
	})
	if n != 1 {
		t.Fatalf("%d rows", n)
	}
}

func TestPipelineTemplates_AreListed(t *testing.T) {
	t.Parallel()
	f := setup(t)
	if r := f.do(t, "GET", "/v1/pipelines/templates", "", nil); r.code != http.StatusUnauthorized {
		t.Fatalf("without a token: %d", r.code)
	}
	r := f.do(t, "GET", "/v1/pipelines/templates", f.token(t, f.acme, "viewer"), nil)
	items, _ := r.body["items"].([]any)
	if r.code != http.StatusOK || len(items) < 3 {
		t.Fatalf("templates: %d %v", r.code, r.body)
	}
	first := items[0].(map[string]any)
	if first["name"] == "" || first["params"] == nil {
		t.Fatalf("template %v lacks name or params", first)
	}
}

func TestMetrics_AreListedWithTheirDefaults(t *testing.T) {
	t.Parallel()
	f := setup(t)
	if r := f.do(t, "GET", "/v1/metrics", "", nil); r.code != http.StatusUnauthorized {
		t.Fatalf("without a token: %d", r.code)
	}
	r := f.do(t, "GET", "/v1/metrics", f.token(t, f.acme, "viewer"), nil)
	items, _ := r.body["items"].([]any)
	if r.code != http.StatusOK || len(items) != len(experiment.Metrics()) {
		t.Fatalf("metrics: %d %v", r.code, r.body)
	}
	var cpu map[string]any
	for _, it := range items {
		if m := it.(map[string]any); m["name"] == "collector_cpu" {
			cpu = m
		}
	}
	if d, _ := cpu["default"].(map[string]any); cpu["decided_by_default"] != true || d["critical"] != true || d["tolerance"] != 0.05 {
		t.Fatalf("collector_cpu: %v; want a guardrail decided by default, 5%% tolerance", cpu)
	}
}

func TestPipelineValidate(t *testing.T) {
	t.Parallel()
	f := setup(t)
	tok := f.token(t, f.acme, "viewer")
	r := f.do(t, "POST", "/v1/pipelines/validate", tok, jsonBody(map[string]any{"template": "process-minimal", "parameters": map[string]any{"critical_processes": []string{"postgres"}}}))
	if r.code != http.StatusOK || r.body["valid"] != true || !strings.Contains(r.body["config"].(string), "^(?:postgres)$") {
		t.Fatalf("valid pipeline: %d %v", r.code, r.body)
	}
	r = f.do(t, "POST", "/v1/pipelines/validate", tok, jsonBody(map[string]any{"template": "process-minimal", "parameters": map[string]any{"k": 5}}))
	if r.code != http.StatusOK || r.body["valid"] != false || !strings.Contains(fmt.Sprint(r.body["errors"]), "unknown parameter k") {
		t.Fatalf("invalid pipeline: %d %v", r.code, r.body)
	}
}

func TestAnalysis_IsServedToTheTenantOnly(t *testing.T) {
	t.Parallel()
	f := setup(t)
	op := f.token(t, f.acme, "operator")
	id := uuid.MustParse(f.do(t, "POST", "/v1/experiments", op, jsonBody(validExperiment())).body["id"].(string))
	if r := f.do(t, "GET", "/v1/experiments/"+id.String()+"/analysis", op, nil); r.code != http.StatusNotFound {
		t.Fatalf("before any analysis: %d", r.code)
	}
	err := f.st.WithTenant(context.Background(), f.acme, func(tx *store.Tx) error {
		_, err := tx.SaveAnalysis(context.Background(), id, "req-1", "promote", []byte(`{"method":"welch-t-test","metrics":{}}`))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	r := f.do(t, "GET", "/v1/experiments/"+id.String()+"/analysis", f.token(t, f.acme, "viewer"), nil)
	if r.code != http.StatusOK || r.body["verdict"] != "promote" || r.body["report"].(map[string]any)["method"] != "welch-t-test" {
		t.Fatalf("analysis: %d %v", r.code, r.body)
	}
	if r := f.do(t, "GET", "/v1/experiments/"+id.String()+"/analysis", f.token(t, f.other, "admin"), nil); r.code != http.StatusNotFound {
		t.Fatalf("another tenant: %d", r.code)
	}
}

// The public API has no /internal routes: the dead-letter sink has no caller identity, so it is
// served only by the cluster-local phoenix-api-internal.
func TestDeadLetters_AreNotServedByThePublicAPI(t *testing.T) {
	t.Parallel()
	f := setupAPI(t, false)
	e, _ := events.New("lost-1", events.ManifestsRequested, events.SourceController, f.acme, uuid.New(), events.ExperimentRef{ExperimentID: uuid.New()})
	body, _ := e.MarshalJSON()
	resp, err := http.Post(f.url+"/internal/dead-letters", "application/cloudevents+json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("public API answered %d to a dead letter, want 404", resp.StatusCode)
	}
}
