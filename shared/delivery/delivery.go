// Package delivery gives CloudEvent consumers exactly-once effects under Knative's at-least-once
// delivery. It owns the protocol: claim the event id in the tenant's transaction, apply, record the
// outcome together with everything the consumer must say afterwards (its reply to the broker, the
// events it publishes to the gateway) in the same transaction. A redelivery does not
// apply again; it returns the recorded result, so the consumer repeats exactly what it said —
// which also finishes the job when publishing or sending failed the first time (an outbox).
// It does not decide what an event means — that is the consumer's apply function.
package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/function"
	"github.com/phoenixotel/phoenix/shared/store"
)

// Outcomes recorded for a processed event.
const (
	Applied = "applied" // the event changed state
	Ignored = "ignored" // the event no longer applies (e.g. a late reply for a cancelled experiment)
)

// Result is what handling an event produced. Everything in it is recorded with the outcome and
// returned again for a redelivered event.
type Result struct {
	Outcome string        `json:"outcome"`           // Applied or Ignored
	Reply   *event.Event  `json:"reply,omitempty"`   // the HTTP reply to the broker
	Publish []event.Event `json:"publish,omitempty"` // events for the gateway (Redis)
}

// Apply handles one event inside its tenant's transaction. Returning an error wrapped with
// function.Invalid records the event as rejected (it will never apply) and undoes apply's writes;
// any other error rolls everything back so that the redelivery can try again.
type Apply func(ctx context.Context, tx *store.Tx) (Result, error)

// Once runs apply at most once for the event (source, id) as seen by consumer in tenant.
func Once(ctx context.Context, st *store.Store, consumer string, tenant uuid.UUID, e event.Event, apply Apply) (Result, error) {
	var (
		res      Result
		rejected error
	)
	err := st.WithTenant(ctx, tenant, func(tx *store.Tx) error {
		first, prev, err := tx.ClaimEvent(ctx, consumer, e.Source(), e.ID(), e.Type())
		if err != nil {
			return err
		}
		if !first {
			res, rejected, err = replay(prev)
			return err
		}
		// In a savepoint: a rejection undoes whatever apply wrote before it gave up, while the
		// claim and the "rejected" record stay.
		err = tx.Nested(ctx, func(sp *store.Tx) (err error) {
			res, err = apply(ctx, sp)
			return err
		})
		var fe *function.Error
		if errors.As(err, &fe) && fe.Status < http.StatusInternalServerError {
			rejected = err
			return tx.FinishEvent(ctx, consumer, e.Source(), e.ID(), "rejected", nil)
		}
		if err != nil {
			return err
		}
		raw, err := json.Marshal(res)
		if err != nil {
			return fmt.Errorf("encode result: %w", err)
		}
		return tx.FinishEvent(ctx, consumer, e.Source(), e.ID(), res.Outcome, raw)
	})
	if errors.Is(err, store.ErrUnknownTenant) {
		// No such tenant: redelivery cannot help, so the broker should dead-letter it.
		return Result{}, function.Invalid(fmt.Errorf("unknown tenant %s", tenant))
	}
	if err != nil {
		return Result{}, err
	}
	if rejected != nil {
		return Result{}, rejected
	}
	return res, nil
}

// replay reproduces the result recorded for an event handled before.
func replay(prev store.Processed) (Result, error, error) {
	if prev.Outcome == "rejected" {
		return Result{}, function.Invalid(errors.New("this event was rejected when first delivered")), nil
	}
	var r Result
	if len(prev.Reply) > 0 {
		if err := json.Unmarshal(prev.Reply, &r); err != nil {
			return Result{}, nil, fmt.Errorf("decode recorded result: %w", err)
		}
	}
	r.Outcome = prev.Outcome
	return r, nil, nil
}

// Replied is the result of an applied event answered with reply; it passes err through, so a
// consumer can return Replied(events.Reply(...)) directly.
func Replied(reply event.Event, err error) (Result, error) {
	if err != nil {
		return Result{}, err
	}
	return Result{Outcome: Applied, Reply: &reply}, nil
}
