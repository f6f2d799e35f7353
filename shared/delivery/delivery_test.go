package delivery_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/delivery"
	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/function"
	"github.com/phoenixotel/phoenix/shared/store"
	"github.com/phoenixotel/phoenix/test/pgtest"
)

func status(err error) int {
	var fe *function.Error
	if errors.As(err, &fe) {
		return fe.Status
	}
	return 0
}

func setup(t *testing.T) (*store.Store, uuid.UUID, event.Event) {
	t.Helper()
	st := pgtest.Migrated(t).AppStore(t, store.Options{})
	tenant := pgtest.Tenant(t, st, "acme")
	exp := uuid.New()
	e, err := events.New("ev-1", events.ExperimentStarted, events.SourceAPI, tenant, exp, events.ExperimentRef{ExperimentID: exp})
	if err != nil {
		t.Fatal(err)
	}
	return st, tenant, e
}

func pipelines(t *testing.T, st *store.Store, tenant uuid.UUID) int {
	t.Helper()
	var n int
	err := st.WithTenant(context.Background(), tenant, func(tx *store.Tx) error {
		return tx.QueryRow(context.Background(), "SELECT count(*) FROM pipelines").Scan(&n)
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// insertPipeline is an apply step with a visible effect.
func insertPipeline(ctx context.Context, tx *store.Tx) error {
	_, err := tx.Exec(ctx, `INSERT INTO pipelines (tenant_id, name, template) VALUES ($1, $2, 'process-topk')`,
		tx.TenantID(), uuid.NewString())
	return err
}

func TestOnce_AppliesOnceAndReplaysTheOutcome(t *testing.T) {
	t.Parallel()
	st, tenant, e := setup(t)
	ctx := context.Background()
	calls := 0
	apply := func(ctx context.Context, tx *store.Tx) (delivery.Result, error) {
		calls++
		return delivery.Result{Outcome: delivery.Applied}, insertPipeline(ctx, tx)
	}
	for range 3 {
		if _, err := delivery.Once(ctx, st, "test", tenant, e, apply); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 1 || pipelines(t, st, tenant) != 1 {
		t.Fatalf("apply ran %d times, %d effects; want 1 and 1", calls, pipelines(t, st, tenant))
	}
	// What a consumer must say afterwards is recorded and returned again on redelivery.
	follow := event.New()
	follow.SetID("follow-1")
	follow.SetType("test.follow")
	follow.SetSource("test")
	e2 := e.Clone()
	e2.SetID("ev-2")
	withFollowUps := func(ctx context.Context, tx *store.Tx) (delivery.Result, error) {
		calls++
		return delivery.Result{Outcome: delivery.Applied, Publish: []event.Event{follow}, Reply: &follow}, nil
	}
	for range 2 {
		res, err := delivery.Once(ctx, st, "test", tenant, e2, withFollowUps)
		if err != nil || len(res.Publish) != 1 || res.Publish[0].ID() != "follow-1" || res.Reply == nil || res.Reply.ID() != "follow-1" || res.Outcome != delivery.Applied {
			t.Fatalf("result %+v, %v", res, err)
		}
	}
	if calls != 2 {
		t.Fatalf("apply ran %d times, %d effects; want 1 and 1", calls, pipelines(t, st, tenant))
	}
	// Another consumer of the same event applies it independently.
	if _, err := delivery.Once(ctx, st, "other-consumer", tenant, e, apply); err != nil || calls != 3 {
		t.Fatalf("second consumer: %v, calls %d", err, calls)
	}
}

func TestOnce_RejectionUndoesPartialEffectsAndIsRemembered(t *testing.T) {
	t.Parallel()
	st, tenant, e := setup(t)
	ctx := context.Background()
	apply := func(ctx context.Context, tx *store.Tx) (delivery.Result, error) {
		if err := insertPipeline(ctx, tx); err != nil {
			return delivery.Result{}, err
		}
		return delivery.Result{}, function.Invalid(errors.New("does not apply"))
	}
	if _, err := delivery.Once(ctx, st, "test", tenant, e, apply); status(err) != http.StatusBadRequest {
		t.Fatalf("got %v, want 400", err)
	}
	if n := pipelines(t, st, tenant); n != 0 {
		t.Fatalf("a rejected event left %d effects", n)
	}
	// Redelivered: answered 400 again without running apply.
	ran := false
	_, err := delivery.Once(ctx, st, "test", tenant, e, func(context.Context, *store.Tx) (delivery.Result, error) {
		ran = true
		return delivery.Result{Outcome: delivery.Applied}, nil
	})
	if status(err) != http.StatusBadRequest || ran {
		t.Fatalf("redelivery of a rejected event: %v, apply ran %v", err, ran)
	}
}

func TestOnce_FailureIsRetriedAndThenApplied(t *testing.T) {
	t.Parallel()
	st, tenant, e := setup(t)
	ctx := context.Background()
	fail := true
	apply := func(ctx context.Context, tx *store.Tx) (delivery.Result, error) {
		if err := insertPipeline(ctx, tx); err != nil {
			return delivery.Result{}, err
		}
		if fail {
			return delivery.Result{}, errors.New("dependency down")
		}
		return delivery.Result{Outcome: delivery.Applied}, nil
	}
	if _, err := delivery.Once(ctx, st, "test", tenant, e, apply); err == nil || status(err) != 0 {
		t.Fatalf("got %v, want a retryable error", err)
	}
	if n := pipelines(t, st, tenant); n != 0 {
		t.Fatalf("failed delivery left %d effects", n)
	}
	fail = false
	if _, err := delivery.Once(ctx, st, "test", tenant, e, apply); err != nil {
		t.Fatal(err)
	}
	if n := pipelines(t, st, tenant); n != 1 {
		t.Fatalf("retry applied %d effects, want 1", n)
	}
}

func TestOnce_UnknownTenantIsNotRetried(t *testing.T) {
	t.Parallel()
	st, _, e := setup(t)
	_, err := delivery.Once(context.Background(), st, "test", uuid.New(), e, func(context.Context, *store.Tx) (delivery.Result, error) {
		t.Fatal("apply ran for an unknown tenant")
		return delivery.Result{}, nil
	})
	if status(err) != http.StatusBadRequest {
		t.Fatalf("got %v, want 400", err)
	}
}
