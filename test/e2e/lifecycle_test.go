package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/test/pgtest"
)

// TestDev_ExperimentLifecycleThroughTheBroker drives an experiment through the API only, as a user
// would: commands go to the local broker, the controller moves the experiment, the generator
// renders its manifests, the local deployer reports what stops it, and the transitions stream
// over the WebSocket.
func TestDev_ExperimentLifecycleThroughTheBroker(t *testing.T) {
	p := startDev(t)
	st := p.db.AppStore(t, storeOptions())
	acme := pgtest.Tenant(t, st, "acme")
	op := p.token(t, acme, "admin")
	api := p.addrs["api"]

	code, created := call(t, "POST", api+"/v1/experiments", op, map[string]any{
		"name": "topk", "duration_seconds": 600,
		"baseline":  map[string]any{"template": "process-baseline"},
		"candidate": map[string]any{"template": "process-minimal"},
		"spec":      map[string]any{"critical_processes": []string{"postgres"}},
	})
	if code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, created)
	}
	id := created["id"].(string)

	wsURL := strings.Replace(p.addrs["gateway"], "http://", "ws://", 1) + "/ws"
	conn, _, err := websocket.DefaultDialer.Dial(wsURL, http.Header{"Authorization": {"Bearer " + op}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	if err := conn.WriteJSON(map[string]string{"type": "subscribe", "channel": "experiment:" + id}); err != nil {
		t.Fatal(err)
	}
	var frame map[string]json.RawMessage
	if err := conn.ReadJSON(&frame); err != nil || string(frame["type"]) != `"subscribed"` {
		t.Fatalf("subscribe: %v %v", frame, err)
	}

	if code, body := call(t, "POST", api+"/v1/experiments/"+id+"/start", op, map[string]string{"reason": "e2e"}); code != http.StatusAccepted {
		t.Fatalf("start: %d %v", code, body)
	}
	next := func() events.Transition {
		t.Helper()
		for {
			var f map[string]json.RawMessage
			if err := conn.ReadJSON(&f); err != nil {
				t.Fatalf("waiting for a transition: %v", err)
			}
			if string(f["type"]) != `"event"` {
				continue
			}
			var e struct {
				Type string            `json:"type"`
				Data events.Transition `json:"data"`
			}
			if err := json.Unmarshal(f["data"], &e); err != nil || e.Type != events.ExperimentMoved {
				t.Fatalf("event frame %s: %v", f["data"], err)
			}
			return e.Data
		}
	}
	if tr := next(); tr.Seq != 1 || tr.From != "pending" || tr.To != "generating" {
		t.Fatalf("first transition %+v", tr)
	}
	// The generator renders both variants; the controller moves on to deploying.
	if tr := next(); tr.Seq != 2 || tr.From != "generating" || tr.To != "deploying" {
		t.Fatalf("second transition %+v", tr)
	}
	code, ms := call(t, "GET", api+"/v1/experiments/"+id+"/manifests", op, nil)
	if items, _ := ms["items"].([]any); code != http.StatusOK || len(items) != 8 {
		t.Fatalf("manifests: %d %v", code, ms)
	}

	if code, _ := call(t, "POST", api+"/v1/experiments/"+id+"/promote", op, nil); code != http.StatusConflict {
		t.Fatalf("promote while deploying: %d, want 409", code)
	}
	// This platform has no collector binary (the full journey with real collectors is
	// TestDemo_*): the local deployer reports that, and the experiment fails saying what to do.
	if tr := next(); tr.Seq != 3 || tr.To != "failed" || !strings.Contains(tr.Reason, "make collector") {
		t.Fatalf("third transition %+v", tr)
	}
	code, got := call(t, "GET", api+"/v1/experiments/"+id, op, nil)
	if reason, _ := got["failure_reason"].(string); code != http.StatusOK || !strings.Contains(reason, "make collector") {
		t.Fatalf("experiment %d %v", code, got)
	}
	if code, _ := call(t, "POST", api+"/v1/experiments/"+id+"/stop", op, nil); code != http.StatusConflict {
		t.Fatalf("stop after failing: %d, want 409", code)
	}

	// An event its consumer refuses (its payload names another experiment than its subject) is
	// dead-lettered by the broker to the API's internal sink and listed for the tenant.
	bad, _ := events.New("refused-1", events.ManifestsRequested, events.SourceController, acme, uuid.MustParse(id),
		events.ExperimentRef{ExperimentID: uuid.New()})
	body, _ := bad.MarshalJSON()
	resp, err := http.Post(p.addrs["broker"]+"/", "application/cloudevents+json", bytes.NewReader(body))
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("post to the broker: %v %v", resp, err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body := call(t, "GET", api+"/v1/dead-letters", op, nil)
		items, _ := body["items"].([]any)
		if code == http.StatusOK && len(items) > 0 {
			d := items[0].(map[string]any)
			if d["event_id"] != "refused-1" || d["event_type"] != events.ManifestsRequested || d["error_code"].(float64) != 400 {
				t.Fatalf("dead letter %v", d)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no dead letter: %d %v", code, body)
		}
		time.Sleep(100 * time.Millisecond) // polling an eventually-consistent read, bounded by the deadline
	}
	code, trs := call(t, "GET", api+"/v1/experiments/"+id+"/transitions", op, nil)
	if items := trs["items"].([]any); code != http.StatusOK || len(items) != 3 {
		t.Fatalf("transitions %d %v", code, trs)
	}
}
