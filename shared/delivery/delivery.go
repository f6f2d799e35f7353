// Package delivery gives CloudEvent consumers exactly-once effects under Knative's at-least-once
// delivery. It owns the protocol: claim the event id in the tenant's transaction, apply, record
// the outcome and reply in the same transaction; a redelivery answers with the recorded reply.
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

	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/function"
	"github.com/phoenixotel/phoenix/shared/store"
)

// Outcomes recorded for a processed event.
const (
	Applied = "applied" // the event changed state
	Ignored = "ignored" // the event no longer applies (e.g. a late reply for a cancelled experiment)
)

// Apply handles one event inside its tenant's transaction. It returns the outcome (Applied or
// Ignored) and the reply event, if any. Returning an error wrapped with function.Invalid records
// the event as rejected (it will never apply); any other error rolls everything back so that the
// redelivery can try again.
type Apply func(ctx context.Context, tx *store.Tx, tenant uuid.UUID) (outcome string, reply *event.Event, err error)

// Once runs apply at most once for the event (source, id) as seen by consumer.
func Once(ctx context.Context, st *store.Store, consumer string, e event.Event, apply Apply) (*event.Event, error) {
	tenant, err := events.Tenant(e)
	if err != nil {
		return nil, function.Invalid(err)
	}
	var (
		reply    *event.Event
		rejected error
	)
	err = st.WithTenant(ctx, tenant, func(tx *store.Tx) error {
		first, prev, err := tx.ClaimEvent(ctx, consumer, e.Source(), e.ID(), e.Type())
		if err != nil {
			return err
		}
		if !first {
			reply, rejected, err = replay(prev)
			return err
		}
		var (
			outcome string
			r       *event.Event
		)
		// In a savepoint: a rejection undoes whatever apply wrote before it gave up, while the
		// claim and the "rejected" record stay.
		err = tx.Nested(ctx, func(sp *store.Tx) (err error) {
			outcome, r, err = apply(ctx, sp, tenant)
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
		var raw json.RawMessage
		if r != nil {
			if raw, err = json.Marshal(r); err != nil {
				return fmt.Errorf("encode reply: %w", err)
			}
		}
		reply = r
		return tx.FinishEvent(ctx, consumer, e.Source(), e.ID(), outcome, raw)
	})
	if errors.Is(err, store.ErrUnknownTenant) {
		// No such tenant: redelivery cannot help, so the broker should dead-letter it.
		return nil, function.Invalid(fmt.Errorf("unknown tenant %s", tenant))
	}
	if err != nil {
		return nil, err
	}
	if rejected != nil {
		return nil, rejected
	}
	return reply, nil
}

// replay reproduces the answer recorded for an event handled before.
func replay(prev store.Processed) (*event.Event, error, error) {
	if prev.Outcome == "rejected" {
		return nil, function.Invalid(errors.New("this event was rejected when first delivered")), nil
	}
	if len(prev.Reply) == 0 {
		return nil, nil, nil
	}
	var r event.Event
	if err := json.Unmarshal(prev.Reply, &r); err != nil {
		return nil, nil, fmt.Errorf("decode recorded reply: %w", err)
	}
	return &r, nil, nil
}
