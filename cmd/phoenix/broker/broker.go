// Package broker is the local stand-in for a Knative Eventing Broker that `phoenix dev` runs. It
// owns the data plane of one broker: the ingress, routing through Trigger filters, delivery with
// Knative's retry, backoff, reply and dead-letter semantics, the TTL loop guard and PingSources,
// all read from the same manifests the cluster applies (Load).
//
// It must stay a development tool: events live in memory only, so whatever is queued or in
// flight when the process stops is gone, and it knows nothing about Kubernetes beyond the
// manifests — mapping a Service reference to a URL is the caller's job (Options.Resolve).
//
// Only the CLI (phoenix dev) and its checks (cmd/phoenix/validate) import it: on a cluster
// Knative Eventing is the broker, so no deployable may.
package broker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/cloudevents/sdk-go/v2/types"
	"github.com/robfig/cron/v3"
)

// The broker's loop guard: Knative's ingress gives an event this many hops and every reply one
// fewer, so two subscribers replying to each other cannot circulate forever.
const (
	ttlExtension = "knativebrokerttl"
	defaultTTL   = 255
)

// Resolver turns a Destination into an absolute URL (a Ref is mapped by the caller; a relative URI is resolved against the Ref's URL, as Knative does).
// The broker calls it with the Ref alone and joins the URI itself; a Destination with only an
// absolute URI never reaches it.
type Resolver func(Destination) (string, error)

// Options configures a Broker. The zero value of every field is usable.
type Options struct {
	Resolve      Resolver     // maps Refs (subscribers, dead-letter sinks) to URLs
	Namespace    string       // used in PingSource event sources: /apis/v1/namespaces/<ns>/pingsources/<name>; default "default"
	QueueSize    int          // bounded queue of accepted events; default 1024
	Workers      int          // concurrent deliveries; default 16
	Client       *http.Client // default: 30 s timeout
	Logger       *slog.Logger // default discards
	PingSchedule string       // if set, overrides every PingSource schedule (dev runs faster), cron syntax incl. "@every 5s"
}

// Broker is one running broker: an http.Handler for its ingress and, in Run, the workers that
// deliver what the ingress accepted.
type Broker struct {
	name      string           // the Broker object this serves
	routes    []route          // the broker's triggers with their parsed delivery
	pings     []ping           // the PingSources whose sink is this broker
	resolver  Resolver         // Options.Resolve
	namespace string           // for PingSource event sources
	workers   int              // bound on concurrent deliveries
	client    *http.Client     // for subscribers and dead-letter sinks
	log       *slog.Logger     // never nil
	queue     chan event.Event // accepted events waiting to be routed; its capacity is the back-pressure bound
	stopped   chan struct{}    // closed when Run returns, so the ingress refuses instead of waiting forever
	running   atomic.Bool      // Run may be called once
}

// ping is a PingSource with its parsed schedule.
type ping struct {
	PingSource
	schedule cron.Schedule // its own, or Options.PingSchedule when set
}

// New builds the broker named broker from cfg: it validates that the broker exists, that every
// backoff delay of it and its triggers parses, and that its PingSources' schedules (and
// o.PingSchedule) parse. Triggers of other brokers are ignored.
func New(cfg Config, broker string, o Options) (*Broker, error) {
	i := slices.IndexFunc(cfg.Brokers, func(b BrokerSpec) bool { return b.Name == broker })
	if i < 0 {
		return nil, fmt.Errorf("new broker %q: no such Broker in the config", broker)
	}
	spec := cfg.Brokers[i]
	if _, err := newRetryPolicy(mergeDelivery(spec.Delivery, nil)); err != nil {
		return nil, fmt.Errorf("new broker %q: spec.delivery: %w", broker, err)
	}

	b := &Broker{
		name:      broker,
		resolver:  o.Resolve,
		namespace: cmp.Or(o.Namespace, "default"),
		workers:   positiveOr(o.Workers, 16),
		client:    o.Client,
		log:       o.Logger,
		queue:     make(chan event.Event, positiveOr(o.QueueSize, 1024)),
		stopped:   make(chan struct{}),
	}
	if b.client == nil {
		b.client = &http.Client{Timeout: 30 * time.Second}
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	b.log = b.log.With("broker", broker)

	for _, t := range cfg.Triggers {
		if t.Broker != broker {
			continue
		}
		p, err := newRetryPolicy(mergeDelivery(spec.Delivery, t.Delivery))
		if err != nil {
			return nil, fmt.Errorf("new broker %q: trigger %s: delivery: %w", broker, t.Name, err)
		}
		if err := checkDestination(t.Subscriber); err != nil {
			return nil, fmt.Errorf("new broker %q: trigger %s: subscriber: %w", broker, t.Name, err)
		}
		b.routes = append(b.routes, route{Trigger: t, policy: p})
	}

	var override cron.Schedule
	if o.PingSchedule != "" {
		s, err := parseSchedule(o.PingSchedule)
		if err != nil {
			return nil, fmt.Errorf("new broker %q: ping schedule %q: %w", broker, o.PingSchedule, err)
		}
		override = s
	}
	for _, ps := range cfg.PingSources {
		if !b.isSink(ps.Sink) {
			b.log.Warn("PingSource not run: its sink is not this broker", "ping_source", ps.Name)
			continue
		}
		s, err := parseSchedule(ps.Schedule)
		if err != nil {
			return nil, fmt.Errorf("new broker %q: PingSource %s: schedule %q: %w", broker, ps.Name, ps.Schedule, err)
		}
		if override != nil {
			s = override
		}
		b.pings = append(b.pings, ping{PingSource: ps, schedule: s})
	}
	return b, nil
}

// isSink reports whether d refers to this broker. Only such PingSources run here: a sink that is a
// Service would bypass every trigger, which is not what local development wants to exercise.
func (b *Broker) isSink(d Destination) bool {
	return d.Ref != nil && d.Ref.Kind == "Broker" && d.Ref.Name == b.name && d.URI == ""
}

// ServeHTTP is the ingress. It accepts one CloudEvent per POST, binary or structured: 400 when the
// request holds no valid event, 202 once the event is queued. When the queue is full it waits for
// room, so a burst slows senders down instead of losing events; 503 if the request ends first or
// the broker has stopped.
func (b *Broker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST a CloudEvent", http.StatusMethodNotAllowed)
		return
	}
	e, err := cehttp.NewEventFromHTTPRequest(r)
	if err == nil {
		err = e.Validate()
	}
	if err != nil {
		b.log.Info("ingress refused a request without a valid CloudEvent", "error", err)
		http.Error(w, "invalid CloudEvent: "+err.Error(), http.StatusBadRequest)
		return
	}
	if _, ok := ttl(*e); !ok {
		// An unreadable TTL counts as none, as Knative's TTL defaulter treats it.
		e.SetExtension(ttlExtension, int32(defaultTTL))
	}
	if err := b.admit(r.Context(), *e); err != nil {
		http.Error(w, "broker unavailable: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// admit is the ingress path every event takes (HTTP, replies, PingSources): the TTL check, then
// the queue, waiting for room until ctx ends or the broker stops. An expired event is dropped,
// not refused: the sender did nothing wrong, a loop did.
func (b *Broker) admit(ctx context.Context, e event.Event) error {
	if n, _ := ttl(e); n <= 0 {
		b.log.Warn("event dropped: knativebrokerttl exhausted (a reply loop?)", "event_id", e.ID(), "event_type", e.Type(), "ttl", n)
		return nil
	}
	select {
	case <-b.stopped:
		return errStopped
	default:
	}
	select {
	case b.queue <- e:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for room in the queue: %w", context.Cause(ctx))
	case <-b.stopped:
		return errStopped
	}
}

// Run delivers events and runs the PingSources until ctx ends, then stops taking events, waits
// for its goroutines (in-flight deliveries are cancelled) and returns nil. It may be called once.
func (b *Broker) Run(ctx context.Context) error {
	if !b.running.CompareAndSwap(false, true) {
		return errors.New("broker: Run called twice")
	}
	var wg sync.WaitGroup
	for _, p := range b.pings {
		wg.Go(func() { b.runPing(ctx, p) })
	}
	b.dispatch(ctx, &wg)
	close(b.stopped)
	wg.Wait()
	return nil
}

// dispatch routes queued events until ctx ends. Each matching trigger's delivery runs in its own
// goroutine holding one of b.workers slots, so a slow subscriber holds up only its own slot; when
// every slot is busy dispatch waits, the queue fills and the ingress pushes back.
func (b *Broker) dispatch(ctx context.Context, wg *sync.WaitGroup) {
	slots := make(chan struct{}, b.workers)
	for {
		var e event.Event
		select {
		case <-ctx.Done():
			return
		case e = <-b.queue:
		}
		var matched []route
		var names []string
		for _, r := range b.routes {
			if r.matches(e) {
				matched = append(matched, r)
				names = append(names, r.Name)
			}
		}
		b.log.Debug("event routed", "event_id", e.ID(), "event_type", e.Type(), "triggers", names)
		for _, r := range matched {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Go(func() {
				reply := b.deliver(ctx, r, e.Clone())
				// Free the slot before re-entering: the reply may have to wait for room in the
				// queue, and a worker waiting on the queue that waits on workers would deadlock.
				<-slots
				if reply != nil {
					b.reenter(ctx, e, *reply)
				}
			})
		}
	}
}

// reenter sends a subscriber's reply back through the ingress path with one hop less than the
// event it answers, as Knative's filter and ingress do between them.
func (b *Broker) reenter(ctx context.Context, original, reply event.Event) {
	n, _ := ttl(original)
	reply.SetExtension(ttlExtension, n-1)
	if err := b.admit(ctx, reply); err != nil {
		b.log.Debug("reply abandoned: broker stopping", "event_id", reply.ID(), "error", err)
	}
}

// ttl returns the event's knativebrokerttl and whether it has a usable one.
func ttl(e event.Event) (int32, bool) {
	v, ok := e.Extensions()[ttlExtension]
	if !ok {
		return 0, false
	}
	n, err := types.ToInteger(v)
	return n, err == nil
}

// positiveOr returns n, or def when n is not positive (a zero-sized queue or pool would deadlock).
func positiveOr(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}
