// Package controller is the CloudEvent function that moves experiments through their life. Each
// event maps to a trigger of the pure transition table (shared/experiment); the move, its
// transition row and the processed-event record commit in one transaction with compare-and-set
// on the current state, so duplicate and concurrent deliveries have exactly one effect.
package controller

import (
	"context"
	"errors"
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/bootstrap"
	"github.com/phoenixotel/phoenix/shared/delivery"
	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/function"
	"github.com/phoenixotel/phoenix/shared/store"
)

// consumer names this function in the processed-events record.
const consumer = "controller"

// Needs are the resources the controller uses.
func Needs() bootstrap.Needs { return bootstrap.Needs{Store: true} }

// Controller applies experiment transitions.
type Controller struct {
	store *store.Store // experiments, transitions and processed events
}

// New wires the controller.
func New(st *store.Store) *Controller { return &Controller{store: st} }

// Service is the controller as a deployable.
func Service(res *bootstrap.Resources) (function.Service, error) {
	return function.Service{Name: consumer, Events: New(res.Store)}, nil
}

// Handle answers one CloudEvent.
func (c *Controller) Handle(ctx context.Context, e event.Event) (*event.Event, error) {
	switch e.Type() {
	case events.ExperimentStarted:
		var ref events.ExperimentRef
		if err := decode(e, &ref, func() uuid.UUID { return ref.ExperimentID }); err != nil {
			return nil, err
		}
		return c.move(ctx, e, ref.ExperimentID, experiment.Start, "started by "+e.Source(),
			func(tx *store.Tx, tenant uuid.UUID) (*event.Event, error) {
				r, err := events.Reply(e, consumer, events.ManifestsRequested, events.SourceController, tenant,
					ref.ExperimentID, events.ExperimentRef{ExperimentID: ref.ExperimentID})
				return &r, err
			})
	case events.AnalysisCompleted:
		var res events.AnalysisResult
		if err := decode(e, &res, func() uuid.UUID { return res.ExperimentID }); err != nil {
			return nil, err
		}
		return c.move(ctx, e, res.ExperimentID, experiment.AnalysisCompleted, "verdict: "+res.Verdict,
			func(tx *store.Tx, _ uuid.UUID) (*event.Event, error) {
				return nil, tx.SetVerdict(ctx, res.ExperimentID, res.Verdict)
			})
	}
	return nil, function.Invalid(fmt.Errorf("the controller does not consume %q", e.Type()))
}

// decode reads the payload into v and checks that the event's subject is the experiment the
// payload names (id reads it from v after decoding).
func decode(e event.Event, v events.Validator, id func() uuid.UUID) error {
	if err := events.Decode(e, v); err != nil {
		return function.Invalid(err)
	}
	if e.Subject() != id().String() {
		return function.Invalid(errors.New("subject does not match experiment_id"))
	}
	return nil
}

// move applies trigger to the experiment once. An event that no longer applies in the
// experiment's current state (a late or replayed command) is recorded as ignored and
// acknowledged, never retried forever. then runs in the same transaction after a successful move
// and returns the reply.
func (c *Controller) move(ctx context.Context, e event.Event, id uuid.UUID, trigger experiment.Trigger, reason string,
	then func(tx *store.Tx, tenant uuid.UUID) (*event.Event, error)) (*event.Event, error) {
	return delivery.Once(ctx, c.store, consumer, e, func(ctx context.Context, tx *store.Tx, tenant uuid.UUID) (string, *event.Event, error) {
		exp, err := tx.Experiment(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return "", nil, function.Invalid(fmt.Errorf("tenant has no experiment %s", id))
		}
		if err != nil {
			return "", nil, err
		}
		to, err := experiment.Next(exp.State, trigger)
		var inv *experiment.InvalidTransitionError
		if errors.As(err, &inv) {
			return delivery.Ignored, nil, nil
		}
		if _, err := tx.Move(ctx, id, exp.State, to, e.ID(), e.Source(), reason); err != nil {
			return "", nil, err
		}
		reply, err := then(tx, tenant)
		if err != nil {
			return "", nil, err
		}
		return delivery.Applied, reply, nil
	})
}
