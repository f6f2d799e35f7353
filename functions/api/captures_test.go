package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/store"
	"github.com/phoenixotel/phoenix/test/pgtest"
)

// runningExperiment creates an experiment of tenant and moves it to running.
func (f *fixture) runningExperiment(t *testing.T, tenant uuid.UUID) uuid.UUID {
	t.Helper()
	id := pgtest.Experiment(t, f.st, tenant)
	pgtest.Advance(t, f.st, tenant, id, experiment.Running)
	return id
}

func TestCaptures_OpenListDeleteWithinTheTenantsBounds(t *testing.T) {
	t.Parallel()
	f := setup(t)
	op, viewer := f.token(t, f.acme, "operator"), f.token(t, f.acme, "viewer")
	pending := pgtest.Experiment(t, f.st, f.acme)
	running := f.runningExperiment(t, f.acme)

	if r := f.do(t, "POST", "/v1/experiments/"+pending.String()+"/captures", op, jsonBody(map[string]any{})); r.code != http.StatusConflict ||
		!strings.Contains(r.body["detail"].(string), "start it first") {
		t.Fatalf("capture a pending experiment: %d %v", r.code, r.body)
	}
	for _, bad := range []map[string]any{{"duration_seconds": 5}, {"duration_seconds": 601}, {"name": strings.Repeat("n", 101)}} {
		if r := f.do(t, "POST", "/v1/experiments/"+running.String()+"/captures", op, jsonBody(bad)); r.code != http.StatusBadRequest {
			t.Fatalf("capture with %v: %d %v", bad, r.code, r.body)
		}
	}
	if r := f.do(t, "POST", "/v1/experiments/"+running.String()+"/captures", viewer, jsonBody(map[string]any{})); r.code != http.StatusForbidden {
		t.Fatalf("a viewer opens a capture: %d", r.code)
	}
	r := f.do(t, "POST", "/v1/experiments/"+running.String()+"/captures", op, jsonBody(map[string]any{"duration_seconds": 30}))
	id, _ := r.body["id"].(string)
	if r.code != http.StatusCreated || r.body["state"] != "capturing" || r.body["name"] != "baseline of seeded" || r.body["max_bytes"] != float64(captureMaxBytes) {
		t.Fatalf("open a capture: %d %v", r.code, r.body)
	}
	if r := f.do(t, "GET", "/v1/captures", viewer, nil); len(r.body["items"].([]any)) != 1 {
		t.Fatalf("list: %v", r.body)
	}
	if r := f.do(t, "GET", "/v1/captures/"+id, viewer, nil); r.code != http.StatusOK || r.body["truncated"] != false {
		t.Fatalf("get: %d %v", r.code, r.body)
	}
	stranger := f.token(t, f.other, "admin")
	if r := f.do(t, "GET", "/v1/captures/"+id, stranger, nil); r.code != http.StatusNotFound {
		t.Fatalf("another tenant reads it: %d", r.code)
	}
	if r := f.do(t, "DELETE", "/v1/captures/"+id, stranger, nil); r.code != http.StatusNotFound {
		t.Fatalf("another tenant deletes it: %d", r.code)
	}
	if r := f.do(t, "DELETE", "/v1/captures/"+id, op, nil); r.code != http.StatusNoContent {
		t.Fatalf("delete: %d", r.code)
	}
	if r := f.do(t, "GET", "/v1/captures/"+id, op, nil); r.code != http.StatusNotFound {
		t.Fatalf("a deleted capture: %d", r.code)
	}

	// At most MaxCaptures at once.
	for i := range store.MaxCaptures {
		if r := f.do(t, "POST", "/v1/experiments/"+running.String()+"/captures", op, jsonBody(map[string]any{})); r.code != http.StatusCreated {
			t.Fatalf("capture %d: %d %v", i, r.code, r.body)
		}
	}
	if r := f.do(t, "POST", "/v1/experiments/"+running.String()+"/captures", op, jsonBody(map[string]any{})); r.code != http.StatusConflict ||
		!strings.Contains(r.body["detail"].(string), "delete one") {
		t.Fatalf("one capture too many: %d %v", r.code, r.body)
	}
}
