// Package controller is the CloudEvent function that moves experiments through their life. Each
// event maps to a trigger of the pure transition table (shared/experiment); the move, its
// transition row and the processed-event record commit in one transaction with compare-and-set
// on the current state, so duplicate and concurrent deliveries have exactly one effect. After the
// commit the transition is published to Redis for the gateway (best effort, repeated on
// redelivery). Follow-up commands take one path, whatever moved the experiment (an event or a
// clock tick): written to the outbox in the move's transaction, sent to the broker right after
// the commit, and sent again by every tick until the broker has taken them — a broker outage
// delays follow-ups but loses none, and a redelivered cause adds none.
package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoenixotel/phoenix/shared/bootstrap"
	"github.com/phoenixotel/phoenix/shared/delivery"
	"github.com/phoenixotel/phoenix/shared/emit"
	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/function"
	"github.com/phoenixotel/phoenix/shared/logging"
	"github.com/phoenixotel/phoenix/shared/realtime"
	"github.com/phoenixotel/phoenix/shared/store"
	"github.com/phoenixotel/phoenix/shared/workload"
)

// consumer names this function in the processed-events record.
const consumer = "controller"

// Needs are the resources the controller uses.
func Needs() bootstrap.Needs { return bootstrap.Needs{Store: true, Redis: true} }

// Publisher fans transitions out to the gateway.
type Publisher interface {
	Publish(ctx context.Context, tenant, experiment uuid.UUID, payload []byte) error
}

// Sender sends follow-up events to the broker.
type Sender interface {
	Send(ctx context.Context, e event.Event) error
}

// Controller applies experiment transitions.
type Controller struct {
	store     *store.Store        // experiments, transitions, processed events
	publisher Publisher           // Redis pub/sub for the gateway
	sender    Sender              // the broker: the outbox's follow-ups
	timeouts  experiment.Timeouts // how long each waiting phase may last
	now       func() time.Time    // the clock; ticks compare deadlines with it
	metrics   *metrics            // transitions committed
	// autoPromote (feature flag AUTO_PROMOTE) promotes a candidate whose analysis says promote.
	autoPromote bool
}

// Options wire a Controller; Timeouts and Now have useful zero values.
type Options struct {
	Store     *store.Store
	Publisher Publisher
	Sender    Sender
	Timeouts  experiment.Timeouts // zero means experiment.DefaultTimeouts()
	// AutoPromote (feature flag) promotes a candidate whose analysis says promote.
	AutoPromote bool
	Now         func() time.Time // nil means time.Now
}

// New wires the controller.
func New(o Options) *Controller {
	if o.Timeouts == (experiment.Timeouts{}) {
		o.Timeouts = experiment.DefaultTimeouts()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Controller{store: o.Store, publisher: o.Publisher, sender: o.Sender, timeouts: o.Timeouts, now: o.Now, metrics: newMetrics(),
		autoPromote: o.AutoPromote}
}

// Service is the controller as a deployable.
func Service(res *bootstrap.Resources) (function.Service, error) {
	sender, err := emit.New(res.Config.Sink)
	if err != nil {
		return function.Service{}, err
	}
	c := New(Options{
		Store: res.Store, Publisher: realtime.NewPublisher(res.Redis, realtime.DefaultPrefix), Sender: sender,
		Timeouts: res.Config.Timeouts, AutoPromote: res.Config.Features.AutoPromote,
	})
	reg := prometheus.NewRegistry()
	if err := c.metrics.register(reg); err != nil {
		return function.Service{}, err
	}
	return function.Service{Name: consumer, Events: c, Registry: reg}, nil
}

// Handle answers one CloudEvent.
func (c *Controller) Handle(ctx context.Context, e event.Event) (*event.Event, error) {
	switch e.Type() {
	case events.PingTick:
		return nil, c.tick(ctx, e)
	case events.APIServerResourceEvent:
		return c.workloadChanged(ctx, e)
	case events.APIServerRefEvent:
		// A reference carries no status: readiness comes from Resource-mode events only.
		return nil, nil
	}
	tenant, err := events.Tenant(e)
	if err != nil {
		return nil, function.Invalid(err)
	}
	switch e.Type() {
	case events.ExperimentStarted, events.ExperimentStop, events.ExperimentPromote, events.ExperimentRollback:
		var cmd events.Command
		if err := decode(e, &cmd, func() uuid.UUID { return cmd.ExperimentID }); err != nil {
			return nil, err
		}
		t := map[string]experiment.Trigger{
			events.ExperimentStarted: experiment.Start, events.ExperimentStop: experiment.Cancel,
			events.ExperimentPromote: experiment.Promote, events.ExperimentRollback: experiment.Rollback,
		}[e.Type()]
		reason := fmt.Sprintf("%s by %s", t, cmd.RequestedBy)
		if cmd.Reason != "" {
			reason += ": " + cmd.Reason
		}
		return c.apply(ctx, step{cause: e, tenant: tenant, id: cmd.ExperimentID, trigger: t, reason: reason})
	case events.ManifestsGenerated:
		var ref events.ExperimentRef
		if err := decode(e, &ref, func() uuid.UUID { return ref.ExperimentID }); err != nil {
			return nil, err
		}
		return c.apply(ctx, step{cause: e, tenant: tenant, id: ref.ExperimentID, trigger: experiment.ManifestsGenerated,
			reason: "manifests generated"})
	case events.ManifestsFailed:
		var f events.Failure
		if err := decode(e, &f, func() uuid.UUID { return f.ExperimentID }); err != nil {
			return nil, err
		}
		return c.apply(ctx, step{cause: e, tenant: tenant, id: f.ExperimentID, trigger: experiment.Fail,
			reason: "manifests could not be generated: " + f.Reason})
	case events.WorkloadFailed:
		var f events.WorkloadFailure
		if err := decode(e, &f, func() uuid.UUID { return f.ExperimentID }); err != nil {
			return nil, err
		}
		return c.apply(ctx, step{cause: e, tenant: tenant, id: f.ExperimentID, trigger: experiment.Fail,
			reason: f.Variant + " collector failed: " + f.Reason})
	case events.AnalysisCompleted:
		var res events.AnalysisResult
		if err := decode(e, &res, func() uuid.UUID { return res.ExperimentID }); err != nil {
			return nil, err
		}
		return c.apply(ctx, c.analysed(e, tenant, res))
	}
	return nil, function.Invalid(fmt.Errorf("the controller does not consume %q", e.Type()))
}

// analysed is the step an analysis result asks for: more run time for continue (the collectors
// still run; the clock asks for another analysis after the extension), else completion with the
// verdict — early when a live look found the answer clear while the run goes on (if the run has
// ended meanwhile, the move does not apply and the due look decides).
func (c *Controller) analysed(e event.Event, tenant uuid.UUID, res events.AnalysisResult) step {
	if res.Verdict == experiment.VerdictContinue {
		return step{cause: e, tenant: tenant, id: res.ExperimentID, trigger: experiment.MoreDataNeeded,
			reason: fmt.Sprintf("the analysis needs more data: run extended by %s", time.Duration(res.ExtendSeconds)*time.Second),
			extra: func(ctx context.Context, tx *store.Tx) error {
				exp, err := tx.Experiment(ctx, res.ExperimentID)
				if err != nil {
					return err
				}
				return tx.ExtendRun(ctx, res.ExperimentID, min(exp.DurationSeconds+res.ExtendSeconds, experiment.MaxRunSeconds))
			}}
	}
	trigger, reason := experiment.AnalysisCompleted, "verdict: "+string(res.Verdict)
	if res.Early {
		trigger, reason = experiment.ConcludedEarly, "ended early, verdict: "+string(res.Verdict)
	}
	if res.Reason != "" {
		reason += " — " + res.Reason
	}
	return step{cause: e, tenant: tenant, id: res.ExperimentID, trigger: trigger, reason: reason,
		extra: func(ctx context.Context, tx *store.Tx) error {
			if err := tx.SetVerdict(ctx, res.ExperimentID, string(res.Verdict)); err != nil {
				return err
			}
			if !c.autoPromote || res.Verdict != experiment.VerdictPromote {
				return nil
			}
			// The promote command a user would send, in the outbox of this transaction: it
			// leaves with the follow-ups and moves the experiment like any other command.
			cmd, err := events.Reply(e, consumer, events.ExperimentPromote, events.SourceController, tenant, res.ExperimentID,
				events.Command{ExperimentID: res.ExperimentID, RequestedBy: "phoenix-controller", Reason: "auto-promote: the analysis recommends the candidate"})
			if err != nil {
				return err
			}
			raw, err := cmd.MarshalJSON()
			if err != nil {
				return err
			}
			return tx.Enqueue(ctx, raw)
		}}
}

// decode reads the payload into v and checks that the event's subject is the experiment the
// payload names (id reads it from v after decoding).
func decode(e event.Event, v events.Validator, id func() uuid.UUID) error {
	if err := events.DecodeAbout(e, v, id); err != nil {
		return function.Invalid(err)
	}
	return nil
}

// step is one move an event or a tick asks for.
type step struct {
	cause   event.Event        // what asks for it: its id makes the move exactly-once
	tenant  uuid.UUID          // whose experiment
	id      uuid.UUID          // the experiment
	trigger experiment.Trigger // what happened, for the transition table
	reason  string             // recorded with the transition
	// extra writes more in the move's transaction (the verdict, an extension); nil for nothing.
	extra func(context.Context, *store.Tx) error
}

// apply runs one step exactly once and then says what must be said: the transition (for the
// gateway) and the follow-up (from the outbox, for the broker).
func (c *Controller) apply(ctx context.Context, s step) (*event.Event, error) {
	res, err := c.once(ctx, s.tenant, s.cause, func(ctx context.Context, tx *store.Tx) (delivery.Result, error) {
		return c.move(ctx, tx, s)
	})
	if err != nil {
		return nil, err
	}
	c.announce(ctx, s.tenant, s.id, res)
	c.send(ctx)
	return nil, nil
}

// send drains the outbox now, so a follow-up does not wait for the next tick. Failing is not
// this delivery's failure: the move is committed and its follow-up kept; the next tick sends it.
func (c *Controller) send(ctx context.Context) {
	if err := c.drain(ctx); err != nil {
		logging.FromContext(ctx).Warn("follow-ups not sent yet; the next tick sends them", "err", err)
	}
}

// move is the transaction body: load the experiment inside the tenant (RLS), consult the table,
// compare-and-set, record the transition, and build the follow-ups.
func (c *Controller) move(ctx context.Context, tx *store.Tx, s step) (delivery.Result, error) {
	cause, tenant, id, t, reason := s.cause, s.tenant, s.id, s.trigger, s.reason
	exp, err := tx.LockExperiment(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return delivery.Result{}, function.Invalid(fmt.Errorf("tenant has no experiment %s", id))
	}
	if err != nil {
		return delivery.Result{}, err
	}
	if cause.Type() == events.PingTick {
		// The tick decided on a listing read before this lock: the experiment may have moved on
		// since. Apply the move only if it is still due now, for the state it is in now.
		due, _, ok := experiment.Due(exp.Schedule(), c.timeouts, c.now())
		if !ok || due != t {
			return delivery.Result{Outcome: delivery.Ignored}, nil
		}
	}
	to, err := experiment.Next(exp.State, t)
	var inv *experiment.InvalidTransitionError
	if errors.As(err, &inv) {
		// A late or duplicate command: recorded and acknowledged, never retried forever.
		return delivery.Result{Outcome: delivery.Ignored}, nil
	}
	seq, err := tx.Move(ctx, id, exp.State, to, cause.ID(), cause.Source(), reason)
	if err != nil {
		return delivery.Result{}, err
	}
	if s.extra != nil {
		if err := s.extra(ctx, tx); err != nil {
			return delivery.Result{}, err
		}
	}
	res := delivery.Result{Outcome: delivery.Applied}
	moved, err := events.Reply(cause, consumer, events.ExperimentMoved, events.SourceController, tenant, id, events.Transition{
		ExperimentID: id, Seq: seq, From: string(exp.State), To: string(to), Reason: reason, CauseID: cause.ID(), At: c.now().UTC(),
	})
	if err != nil {
		return delivery.Result{}, err
	}
	res.Publish = []event.Event{moved}
	if next := followUp(to); next != "" {
		r, err := events.Reply(cause, consumer, next, events.SourceController, tenant, id, events.ExperimentRef{ExperimentID: id})
		if err != nil {
			return delivery.Result{}, err
		}
		raw, err := r.MarshalJSON()
		if err != nil {
			return delivery.Result{}, fmt.Errorf("encode follow-up: %w", err)
		}
		if err := tx.Enqueue(ctx, raw); err != nil {
			return delivery.Result{}, err
		}
	}
	return res, nil
}

// followUp is the command the controller issues on entering a state.
func followUp(s experiment.State) string {
	switch s {
	case experiment.Generating:
		return events.ManifestsRequested
	case experiment.Deploying:
		return events.DeployRequested
	case experiment.Analyzing:
		return events.AnalysisRequested
	case experiment.Completed, experiment.Failed, experiment.Cancelled:
		return events.TeardownRequested
	}
	return ""
}

// announce publishes the recorded transitions for the gateway. Publishing is best effort: the
// move is committed and its follow-up must reach the broker whatever Redis does, so a failure is
// logged and the delivery still succeeds. Pub/sub is at-most-once anyway; clients that miss a
// transition read it back from GET /v1/experiments/{id}/transitions, and a redelivery of the cause
// publishes it again.
func (c *Controller) announce(ctx context.Context, tenant, id uuid.UUID, res delivery.Result) {
	for _, m := range res.Publish {
		payload, err := m.MarshalJSON()
		if err == nil {
			err = c.publisher.Publish(ctx, tenant, id, payload)
		}
		if err != nil {
			logging.FromContext(ctx).Error("publish transition for the gateway", "experiment", id, "err", err)
		}
	}
}

// workloadChanged handles ApiServerSource updates of collector workloads: it records the
// variant's readiness and moves a deploying experiment to running once both variants are ready.
// The tenant label is only a hint: the experiment is loaded inside that tenant's transaction.
func (c *Controller) workloadChanged(ctx context.Context, e event.Event) (*event.Event, error) {
	st, err := workload.Parse(e.Data())
	if errors.Is(err, workload.ErrNotPhoenix) {
		return nil, nil // another workload in the watched namespace
	}
	if err != nil {
		return nil, function.Invalid(err)
	}
	res, err := c.once(ctx, st.Tenant, e, func(ctx context.Context, tx *store.Tx) (delivery.Result, error) {
		// Locked: both variants reporting ready at once are counted one after the other.
		exp, err := tx.LockExperiment(ctx, st.Experiment)
		if errors.Is(err, store.ErrNotFound) {
			return delivery.Result{}, function.Invalid(fmt.Errorf("tenant has no experiment %s", st.Experiment))
		}
		if err != nil {
			return delivery.Result{}, err
		}
		both, err := tx.SetWorkload(ctx, st.Experiment, store.WorkloadStatus{Variant: experiment.Variant(st.Variant),
			Kind: st.Kind, Name: st.Name, Ready: st.Ready, Message: st.Message, ResourceVersion: st.ResourceVersion})
		if err != nil {
			return delivery.Result{}, err
		}
		if !both || exp.State != experiment.Deploying {
			return delivery.Result{Outcome: delivery.Applied}, nil
		}
		return c.move(ctx, tx, step{cause: e, tenant: st.Tenant, id: st.Experiment, trigger: experiment.WorkloadsReady,
			reason: "both variants' collectors are ready"})
	})
	if err != nil {
		return nil, err
	}
	c.announce(ctx, st.Tenant, st.Experiment, res)
	c.send(ctx)
	return nil, nil
}

// tick handles a PingSource tick: it finds, across tenants, the experiments whose run or phase
// is over and moves each in its own tenant transaction, exactly once per tick and experiment.
// Every tick first sends whatever the outbox still holds, then the follow-ups of its own moves.
func (c *Controller) tick(ctx context.Context, e event.Event) error {
	log := logging.FromContext(ctx)
	if err := c.drain(ctx); err != nil {
		log.Warn("outbox not drained; the next tick retries", "err", err)
	}
	var active []store.ScheduledExperiment
	if err := c.store.Platform(ctx, func(tx *store.PlatformTx) (err error) {
		active, err = tx.ActiveExperiments(ctx)
		return err
	}); err != nil {
		return err
	}
	now := c.now()
	var errs []error
	for _, a := range active {
		t, reason, due := experiment.Due(a.Schedule, c.timeouts, now)
		if !due {
			continue
		}
		// Each experiment's move is its own event: the tick's id and the experiment's.
		per := e.Clone()
		per.SetID(e.ID() + "/" + a.ID.String())
		res, err := c.once(ctx, a.TenantID, per, func(ctx context.Context, tx *store.Tx) (delivery.Result, error) {
			return c.move(ctx, tx, step{cause: per, tenant: a.TenantID, id: a.ID, trigger: t, reason: reason})
		})
		var fe *function.Error
		switch {
		case errors.As(err, &fe) && fe.Status < 500:
			// This experiment cannot move (deleted meanwhile): recorded, nothing to retry.
			log.Info("tick: experiment not moved", "experiment", a.ID, "err", err)
		case err != nil:
			errs = append(errs, fmt.Errorf("experiment %s: %w", a.ID, err))
		default:
			c.announce(ctx, a.TenantID, a.ID, res)
		}
	}
	if err := c.drain(ctx); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		// Retried by the broker: moved experiments are not moved again, the outbox keeps the rest.
		return fmt.Errorf("tick %s: %w", e.ID(), errors.Join(errs...))
	}
	return nil
}

// drain sends the outbox's unsent follow-ups to the broker.
func (c *Controller) drain(ctx context.Context) error {
	_, err := c.store.DrainOutbox(ctx, 500, func(it store.OutboxItem) error {
		var ev event.Event
		if err := json.Unmarshal(it.Event, &ev); err != nil {
			return fmt.Errorf("decode outbox event %s: %w", it.ID, err)
		}
		return c.sender.Send(ctx, ev)
	})
	return err
}
