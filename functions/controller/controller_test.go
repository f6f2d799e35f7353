package controller

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/function"
	"github.com/phoenixotel/phoenix/shared/store"
	"github.com/phoenixotel/phoenix/test/pgtest"
)

type fixture struct {
	st     *store.Store
	c      *Controller
	tenant uuid.UUID
	exp    uuid.UUID
}

func setup(t *testing.T) fixture {
	t.Helper()
	st := pgtest.Migrated(t).AppStore(t, store.Options{})
	tenant := pgtest.Tenant(t, st, "acme")
	return fixture{st: st, c: New(st), tenant: tenant, exp: pgtest.Experiment(t, st, tenant)}
}

func (f fixture) started(t *testing.T, id string) event.Event {
	t.Helper()
	e, err := events.New(id, events.ExperimentStarted, events.SourceAPI, f.tenant, f.exp, events.ExperimentRef{ExperimentID: f.exp})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (f fixture) state(t *testing.T) (experiment.State, []store.Transition) {
	t.Helper()
	var e store.Experiment
	var trs []store.Transition
	err := f.st.WithTenant(context.Background(), f.tenant, func(tx *store.Tx) (err error) {
		if e, err = tx.Experiment(context.Background(), f.exp); err != nil {
			return err
		}
		trs, err = tx.Transitions(context.Background(), f.exp)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return e.State, trs
}

func status(err error) int {
	var fe *function.Error
	if errors.As(err, &fe) {
		return fe.Status
	}
	return 0
}

func TestStarted_MovesToGeneratingAndAsksForManifests(t *testing.T) {
	f := setup(t)
	reply, err := f.c.Handle(context.Background(), f.started(t, "ev-1"))
	if err != nil {
		t.Fatal(err)
	}
	if reply == nil || reply.Type() != events.ManifestsRequested || reply.Subject() != f.exp.String() {
		t.Fatalf("reply %v, want manifests request for the experiment", reply)
	}
	if got, _ := events.Tenant(*reply); got != f.tenant {
		t.Fatalf("reply tenant %s", got)
	}
	st, trs := f.state(t)
	if st != experiment.Generating || len(trs) != 1 || trs[0].CauseID != "ev-1" || trs[0].From != experiment.Pending {
		t.Fatalf("state %s transitions %+v", st, trs)
	}
}

func TestStarted_DeliveredTwiceHasOneEffectAndTheSameReply(t *testing.T) {
	f := setup(t)
	first, err := f.c.Handle(context.Background(), f.started(t, "ev-1"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.c.Handle(context.Background(), f.started(t, "ev-1"))
	if err != nil {
		t.Fatal(err)
	}
	if again == nil || again.ID() != first.ID() || string(again.Data()) != string(first.Data()) {
		t.Fatalf("redelivery replied %v, want the first reply %v", again, first)
	}
	if _, trs := f.state(t); len(trs) != 1 {
		t.Fatalf("%d transitions after a duplicate, want 1", len(trs))
	}
	// A different start event for an experiment already generating no longer applies: it is
	// acknowledged without effect, not retried.
	reply, err := f.c.Handle(context.Background(), f.started(t, "ev-2"))
	if err != nil || reply != nil {
		t.Fatalf("late start: reply %v err %v, want ignored", reply, err)
	}
	if _, trs := f.state(t); len(trs) != 1 {
		t.Fatalf("%d transitions after a late start, want 1", len(trs))
	}
}

func TestEvents_ForAnotherTenantAreRejected(t *testing.T) {
	f := setup(t)
	other := pgtest.Tenant(t, f.st, "other")
	e := f.started(t, "ev-x")
	e.SetExtension(events.TenantExtension, other.String())
	if _, err := f.c.Handle(context.Background(), e); status(err) != http.StatusBadRequest {
		t.Fatalf("event claiming another tenant: %v, want 400", err)
	}
	if st, _ := f.state(t); st != experiment.Pending {
		t.Fatalf("experiment moved to %s by a mismatched event", st)
	}
	// Redelivering the rejected event gives the same answer.
	if _, err := f.c.Handle(context.Background(), e); status(err) != http.StatusBadRequest {
		t.Fatalf("redelivered rejected event: %v, want 400", err)
	}
}

func TestEvents_MalformedAreRejected(t *testing.T) {
	f := setup(t)
	cases := map[string]func(e *event.Event){
		"unknown type":     func(e *event.Event) { e.SetType("io.phoenix.nope.v1") },
		"no tenant":        func(e *event.Event) { e.SetExtension(events.TenantExtension, nil) },
		"subject mismatch": func(e *event.Event) { e.SetSubject(uuid.NewString()) },
		"bad payload":      func(e *event.Event) { _ = e.SetData("application/json", map[string]int{"experiment_id": 1}) },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			e := f.started(t, "ev-"+name)
			mutate(&e)
			if _, err := f.c.Handle(context.Background(), e); status(err) != http.StatusBadRequest {
				t.Fatalf("got %v, want 400", err)
			}
		})
	}
	if st, _ := f.state(t); st != experiment.Pending {
		t.Fatalf("experiment moved to %s by malformed events", st)
	}
}

func TestAnalysisCompleted_CompletesWithVerdict(t *testing.T) {
	f := setup(t)
	err := f.st.WithTenant(context.Background(), f.tenant, func(tx *store.Tx) error {
		path := []experiment.State{experiment.Pending, experiment.Generating, experiment.Deploying, experiment.Running, experiment.Analyzing}
		for i := 1; i < len(path); i++ {
			if _, err := tx.Move(context.Background(), f.exp, path[i-1], path[i], "seed", "test", ""); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e, _ := events.New("a-1", events.AnalysisCompleted, events.SourceAnalyzer, f.tenant, f.exp,
		events.AnalysisResult{ExperimentID: f.exp, ResultID: uuid.New(), Verdict: "promote"})
	if _, err := f.c.Handle(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if st, trs := f.state(t); st != experiment.Completed || trs[len(trs)-1].Reason != "verdict: promote" {
		t.Fatalf("state %s, last transition %+v", st, trs[len(trs)-1])
	}
}
