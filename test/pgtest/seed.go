package pgtest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/store"
)

// Tenant creates a tenant through the platform path and returns its id.
func Tenant(t testing.TB, st *store.Store, name string) uuid.UUID {
	t.Helper()
	var tn store.Tenant
	err := st.Platform(context.Background(), func(tx *store.PlatformTx) (err error) {
		tn, err = tx.CreateTenant(context.Background(), name)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return tn.ID
}

// Spec decodes an experiment spec written as JSON, refusing unknown fields as the API does.
func Spec(t testing.TB, raw string) experiment.Spec {
	t.Helper()
	var s experiment.Spec
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("pgtest: spec %s: %v", raw, err)
	}
	return s
}

// Experiment creates a pending experiment in tenant and returns its id.
func Experiment(t testing.TB, st *store.Store, tenant uuid.UUID) uuid.UUID {
	t.Helper()
	var e store.Experiment
	err := st.WithTenant(context.Background(), tenant, func(tx *store.Tx) (err error) {
		e, err = tx.CreateExperiment(context.Background(), store.NewExperiment{
			Name: "seeded", DurationSeconds: 600, CreatedBy: "pgtest",
			Baseline:  store.PipelineChoice{Template: "process-baseline"},
			Candidate: store.PipelineChoice{Template: "process-topk", Parameters: map[string]any{"k": 10}},
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return e.ID
}

// Advance moves experiment id of tenant along the path a run takes (pending, generating,
// deploying, running) until it reaches to.
func Advance(t testing.TB, st *store.Store, tenant, id uuid.UUID, to experiment.State) {
	t.Helper()
	path := []experiment.State{experiment.Pending, experiment.Generating, experiment.Deploying, experiment.Running}
	err := st.WithTenant(context.Background(), tenant, func(tx *store.Tx) error {
		for i := 1; i < len(path) && path[i-1] != to; i++ {
			if _, err := tx.Move(context.Background(), id, path[i-1], path[i], "pgtest", "pgtest", ""); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
