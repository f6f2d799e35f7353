package generator

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/function"
	"github.com/phoenixotel/phoenix/shared/pipeline"
	"github.com/phoenixotel/phoenix/shared/store"
	"github.com/phoenixotel/phoenix/test/pgtest"
)

func setup(t *testing.T, baseline, candidate store.PipelineChoice) (*Generator, *store.Store, uuid.UUID, uuid.UUID) {
	t.Helper()
	st := pgtest.Migrated(t).AppStore(t, store.Options{})
	tenant := pgtest.Tenant(t, st, "acme")
	var e store.Experiment
	err := st.WithTenant(context.Background(), tenant, func(tx *store.Tx) (err error) {
		e, err = tx.CreateExperiment(context.Background(), store.NewExperiment{Name: "x", DurationSeconds: 600, CreatedBy: "t",
			Baseline: baseline, Candidate: candidate, Spec: pgtest.Spec(t, `{"critical_processes":["postgres"],"targets":{"namespace":"obs"}}`)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	g := New(st, Options{Target: pipeline.Kubernetes, Ingest: "http://ingest.phoenix.svc", Image: "collector:test"})
	return g, st, tenant, e.ID
}

func TestManifestsRequested_RendersStoresAndReplies(t *testing.T) {
	t.Parallel()
	g, st, tenant, exp := setup(t, store.PipelineChoice{Template: "process-baseline"}, store.PipelineChoice{Template: "process-minimal"})
	e, _ := events.New("req-1", events.ManifestsRequested, events.SourceController, tenant, exp, events.ExperimentRef{ExperimentID: exp})
	reply, err := g.Handle(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	if reply.Type() != events.ManifestsGenerated || reply.Subject() != exp.String() {
		t.Fatalf("reply %v", reply)
	}
	var ms []store.ManifestRecord
	_ = st.WithTenant(context.Background(), tenant, func(tx *store.Tx) (err error) {
		ms, err = tx.Manifests(context.Background(), exp)
		return err
	})
	if len(ms) != 8 {
		t.Fatalf("%d manifests, want 4 per variant", len(ms))
	}
	kinds := map[string]int{}
	for _, m := range ms {
		kinds[m.Kind]++
		if !strings.Contains(m.Content, "namespace: obs") || !strings.Contains(m.Content, "phoenix.dev/experiment: "+exp.String()) {
			t.Errorf("%s %s lacks the namespace or the experiment label", m.Variant, m.Kind)
		}
		// Collectors authenticate with a token from their environment; stored objects only name it.
		if m.Kind == "ConfigMap" && strings.Count(m.Content, `"Bearer ${env:PHOENIX_INGEST_TOKEN}"`) != 2 {
			t.Errorf("the %s config does not authenticate its output and self-telemetry with the ingest token:\n%s", m.Variant, m.Content)
		}
		if m.Kind == "DaemonSet" && !strings.Contains(m.Content, "name: phoenix-"+exp.String()[:8]+"-"+string(m.Variant)+"-ingest") {
			t.Errorf("the %s DaemonSet does not read the token from its Secret:\n%s", m.Variant, m.Content)
		}
		if strings.Contains(m.Content, "pit_") {
			t.Errorf("%s %s holds an ingest token", m.Variant, m.Kind)
		}
		if m.Kind == "ConfigMap" && m.Variant == "candidate" && !strings.Contains(m.Content, `^(?:postgres)$`) {
			t.Errorf("the spec's critical processes did not reach the candidate's filter:\n%s", m.Content)
		}
	}
	for _, k := range []string{"ConfigMap", "DaemonSet", "Service", "ServiceMonitor"} {
		if kinds[k] != 2 {
			t.Errorf("%d %s, want one per variant", kinds[k], k)
		}
	}
	// Redelivered: the same reply, nothing rendered twice.
	again, err := g.Handle(context.Background(), e)
	if err != nil || again.ID() != reply.ID() {
		t.Fatalf("redelivery: %v %v", again, err)
	}
	// A new request renders the same bytes.
	e2 := e.Clone()
	e2.SetID("req-2")
	if _, err := g.Handle(context.Background(), e2); err != nil {
		t.Fatal(err)
	}
	var ms2 []store.ManifestRecord
	_ = st.WithTenant(context.Background(), tenant, func(tx *store.Tx) (err error) {
		ms2, err = tx.Manifests(context.Background(), exp)
		return err
	})
	for i := range ms {
		if ms[i].SHA256 != ms2[i].SHA256 {
			t.Fatalf("rendering is not deterministic: %s %s", ms[i].Kind, ms[i].Variant)
		}
	}
}

func TestManifestsRequested_BadParametersFailWithTheReason(t *testing.T) {
	t.Parallel()
	g, _, tenant, exp := setup(t, store.PipelineChoice{Template: "process-baseline"},
		store.PipelineChoice{Template: "process-priority-filter", Parameters: map[string]any{"collection_interval": "1ms", "top_k": 5}})
	e, _ := events.New("req-1", events.ManifestsRequested, events.SourceController, tenant, exp, events.ExperimentRef{ExperimentID: exp})
	reply, err := g.Handle(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	var f events.Failure
	if err := events.Decode(*reply, &f); err != nil || reply.Type() != events.ManifestsFailed {
		t.Fatalf("reply %v (%v)", reply, err)
	}
	for _, want := range []string{"candidate", "collection_interval", "unknown parameter top_k"} {
		if !strings.Contains(f.Reason, want) {
			t.Errorf("reason %q lacks %q", f.Reason, want)
		}
	}
}

// TestHandle_RefusesWhatIsNotItsOwn: deploy and teardown are the deployer's, anything else no
// one's: refused as invalid (400, not retried).
func TestHandle_RefusesWhatIsNotItsOwn(t *testing.T) {
	t.Parallel()
	exp := uuid.New()
	g := New(nil, Options{})
	for typ, want := range map[string]int{
		events.DeployRequested:   http.StatusBadRequest,
		events.TeardownRequested: http.StatusBadRequest,
		"io.phoenix.other.v1":    http.StatusBadRequest,
	} {
		e, _ := events.New("id", typ, events.SourceController, uuid.New(), exp, events.ExperimentRef{ExperimentID: exp})
		_, err := g.Handle(context.Background(), e)
		var fe *function.Error
		if !errors.As(err, &fe) || fe.Status != want {
			t.Errorf("%s: %v, want status %d", typ, err, want)
		}
	}
}
