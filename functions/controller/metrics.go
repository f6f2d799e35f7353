package controller

import (
	"context"
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoenixotel/phoenix/shared/delivery"
	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/store"
)

// MetricTransitions is the controller's metric name; deploy/monitoring's rules and dashboards
// query it, and test/monitoring checks it against what the controller really exports.
const MetricTransitions = "phoenix_experiment_transitions_total"

// metrics are the controller's instruments. Labels are experiment states, a fixed set: never an
// experiment's or a tenant's id.
type metrics struct {
	transitions *prometheus.CounterVec // committed moves, by from and to state
}

// newMetrics creates the instruments, with a series for every move the transition table allows,
// so a rate over any of them reads zero rather than "no data" before the first such move.
func newMetrics() *metrics {
	m := &metrics{transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricTransitions,
		Help: "Experiment state changes the controller committed, by from and to state; a redelivered event is not counted again.",
	}, []string{"from", "to"})}
	for _, from := range experiment.States() {
		for _, t := range experiment.Triggers() {
			if to, err := experiment.Next(from, t); err == nil {
				m.transitions.WithLabelValues(string(from), string(to))
			}
		}
	}
	return m
}

// register adds the instruments to reg.
func (m *metrics) register(reg prometheus.Registerer) error {
	if err := reg.Register(m.transitions); err != nil {
		return fmt.Errorf("controller: register metrics: %w", err)
	}
	return nil
}

// committed counts the transitions a freshly applied result announces to the gateway: each move
// publishes exactly one experiment-moved event, built from the committed row.
func (m *metrics) committed(res delivery.Result) {
	for _, e := range res.Publish {
		if e.Type() != events.ExperimentMoved {
			continue
		}
		var tr events.Transition
		if events.Decode(e, &tr) != nil || !experiment.State(tr.From).Valid() || !experiment.State(tr.To).Valid() {
			continue // built by move a moment ago; never happens, and must not grow the label set if it did
		}
		m.transitions.WithLabelValues(tr.From, tr.To).Inc()
	}
}

// once is delivery.Once for the controller, counting the moves a delivery committed. apply runs
// only for an event's first delivery (a redelivery replays the recorded result without calling
// it), and Once returns without error only after apply's transaction committed, so each move is
// counted once: not again on redelivery, and not for an attempt that rolled back. A commit whose
// answer is lost with the connection goes uncounted — the one way to miss a move, never to count
// one twice.
func (c *Controller) once(ctx context.Context, tenant uuid.UUID, e event.Event, apply delivery.Apply) (delivery.Result, error) {
	applied := false
	res, err := delivery.Once(ctx, c.store, consumer, tenant, e, func(ctx context.Context, tx *store.Tx) (delivery.Result, error) {
		applied = true
		return apply(ctx, tx)
	})
	if err == nil && applied {
		c.metrics.committed(res)
	}
	return res, err
}
