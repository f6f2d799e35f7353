package gateway

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/gorilla/websocket"
)

// broker is what the hub needs from a pub/sub backend; it is declared here,
// by its consumer, and redisBroker implements it. Messages flow the other
// way, through the function handed to the broker's constructor.
type broker interface {
	// subscribe starts a subscription to channel and returns a channel that
	// is closed once the backend has confirmed it, after which every message
	// published to channel is delivered.
	subscribe(ctx context.Context, channel string) (<-chan struct{}, error)
	// unsubscribe ends the subscription to channel.
	unsubscribe(ctx context.Context, channel string) error
	// close ends every subscription and returns once no more messages will
	// be delivered.
	close() error
}

// Errors of hub.reserve and hub.add, both answered with 503.
var (
	errTooManyConnections = errors.New("too many connections")
	errShuttingDown       = errors.New("shutting down")
)

// subscription is one broker channel and the clients that hold it.
type subscription struct {
	// eventPrefix starts every event frame of the channel; it names the
	// client-side channel, which is the same for every holder because the
	// broker channel embeds the tenant.
	eventPrefix []byte
	// refs counts holders, including those still waiting for ready; the
	// broker subscription ends when it drops to zero. Guarded by hub.cmdMu.
	refs int
	// ready is closed once the broker has confirmed the subscription.
	// Guarded by hub.cmdMu.
	ready <-chan struct{}
	// err is the broker's error from starting the subscription; set, it
	// fails every holder until refs drops to zero and the next subscriber
	// starts afresh. Guarded by hub.cmdMu.
	err error
	// clients are the holders that receive messages: those whose
	// subscription is confirmed and acknowledged. Guarded by hub.subMu.
	clients map[*client]struct{}
}

// hub owns the connected clients and their channel subscriptions, and
// dispatches broker messages to them. Broker calls are refcounted, so the
// process subscribes to a channel once however many clients want it.
type hub struct {
	// broker is the pub/sub backend all subscriptions go through.
	broker broker
	// metrics counts connections and slow consumers.
	metrics *metrics
	// log receives subscription diagnostics.
	log *slog.Logger
	// maxConns caps len(clients) + reserved.
	maxConns int

	// connMu guards clients, reserved and closing.
	connMu sync.Mutex
	// clients are the connected clients.
	clients map[*client]struct{}
	// reserved counts handshakes that passed the limit but are not added yet.
	reserved int
	// closing is set by shutdown; no client is added after it.
	closing bool
	// running counts added clients until both their goroutines have ended.
	running sync.WaitGroup

	// cmdMu serializes refcount changes together with the broker calls they
	// cause, so the broker sees subscribe and unsubscribe of a channel in the
	// order the refcounts changed.
	cmdMu sync.Mutex
	// subMu guards subscription.clients and lets dispatch read subs while
	// cmdMu is held for a broker call.
	subMu sync.RWMutex
	// subs are the live subscriptions by broker channel. Written with both
	// cmdMu and subMu held, so either is enough to read it.
	subs map[string]*subscription
}

// newHub returns a hub without a broker; the caller sets it before use,
// since the broker's constructor needs hub.dispatch.
func newHub(maxConns int, m *metrics, log *slog.Logger) *hub {
	return &hub{
		metrics:  m,
		log:      log,
		maxConns: maxConns,
		clients:  make(map[*client]struct{}),
		subs:     make(map[string]*subscription),
	}
}

// reserve claims a connection slot for a handshake about to upgrade.
func (h *hub) reserve() error {
	h.connMu.Lock()
	defer h.connMu.Unlock()
	if h.closing {
		return errShuttingDown
	}
	if len(h.clients)+h.reserved >= h.maxConns {
		return errTooManyConnections
	}
	h.reserved++
	return nil
}

// release gives back a slot whose handshake failed.
func (h *hub) release() {
	h.connMu.Lock()
	h.reserved--
	h.connMu.Unlock()
}

// add turns a reserved slot into a connected client. It fails if shutdown
// began since the reservation; the slot is released either way.
func (h *hub) add(c *client) error {
	h.connMu.Lock()
	defer h.connMu.Unlock()
	h.reserved--
	if h.closing {
		return errShuttingDown
	}
	h.clients[c] = struct{}{}
	h.running.Add(1)
	h.metrics.connections.Inc()
	return nil
}

// remove forgets a client whose goroutines have both ended.
func (h *hub) remove(c *client) {
	h.connMu.Lock()
	delete(h.clients, c)
	h.connMu.Unlock()
	h.metrics.connections.Dec()
	h.running.Done()
}

// subscribe makes c a holder of the broker channel, subscribing the broker
// if c is the first, and waits for the broker's confirmation. Once confirmed,
// and atomically with respect to dispatch, ack is queued for c, so that c
// sees it before any event of the channel. On error c holds nothing.
func (h *hub) subscribe(ctx context.Context, c *client, name, channel string, ack []byte) error {
	h.cmdMu.Lock()
	s := h.subs[channel]
	if s == nil {
		s = &subscription{eventPrefix: eventPrefix(name), clients: make(map[*client]struct{})}
		s.ready, s.err = h.broker.subscribe(ctx, channel)
		h.subMu.Lock()
		h.subs[channel] = s
		h.subMu.Unlock()
	}
	s.refs++
	ready, err := s.ready, s.err
	h.cmdMu.Unlock()

	if err == nil {
		select {
		case <-ready:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if err != nil {
		h.unsubscribe(c, channel)
		return err
	}
	h.subMu.Lock()
	s.clients[c] = struct{}{}
	c.deliver(ack)
	h.subMu.Unlock()
	return nil
}

// unsubscribe drops c as a holder of the broker channel and unsubscribes
// the broker when c was the last. No event of the channel is queued for c
// after it returns.
func (h *hub) unsubscribe(c *client, channel string) {
	h.cmdMu.Lock()
	defer h.cmdMu.Unlock()
	s := h.subs[channel]
	if s == nil {
		return
	}
	h.subMu.Lock()
	delete(s.clients, c)
	s.refs--
	last := s.refs == 0
	if last {
		delete(h.subs, channel)
	}
	h.subMu.Unlock()
	if !last {
		return
	}
	// Unsubscribe even after a failed subscribe: the broker may still
	// remember the channel and resubscribe it on reconnect.
	if err := h.broker.unsubscribe(context.Background(), channel); err != nil {
		h.log.Warn("gateway: unsubscribe", "channel", channel, "error", err)
	}
}

// dispatch queues a broker message for every client holding its channel.
// It never blocks: a client whose queue is full is disconnected instead.
func (h *hub) dispatch(channel, payload string) {
	h.subMu.RLock()
	defer h.subMu.RUnlock()
	s := h.subs[channel]
	if s == nil || len(s.clients) == 0 {
		return
	}
	frame, ok := encodeEvent(s.eventPrefix, payload)
	if !ok {
		h.log.Warn("gateway: dropped event with invalid JSON payload", "channel", channel)
		return
	}
	for c := range s.clients {
		c.deliver(frame)
	}
}

// shutdown stops accepting clients, closes every client with 1001 and waits
// until their goroutines have ended or ctx is done, when it aborts the
// remaining connections. Then it closes the broker.
func (h *hub) shutdown(ctx context.Context) error {
	h.connMu.Lock()
	h.closing = true
	clients := make([]*client, 0, len(h.clients))
	for c := range h.clients {
		clients = append(clients, c)
	}
	h.connMu.Unlock()

	for _, c := range clients {
		c.close(websocket.CloseGoingAway, "server shutting down")
	}
	finished := make(chan struct{})
	go func() {
		h.running.Wait()
		close(finished)
	}()
	var err error
	select {
	case <-finished:
	case <-ctx.Done():
		err = ctx.Err()
		for _, c := range clients {
			c.abort()
		}
	}
	if cerr := h.broker.close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}
