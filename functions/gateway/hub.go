package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/phoenixotel/phoenix/shared/realtime"
	"github.com/phoenixotel/phoenix/shared/wsproto"
)

// errClientGone: the client closed while it was being subscribed.
var errClientGone = errors.New("client closed")

// replayBatch is how many events one history read returns while catching up.
const replayBatch = 256

// subscription is one channel this replica is subscribed to, and the clients that hold it.
type subscription struct {
	// name is the client-side channel name, the same for every holder because the channel
	// embeds the tenant.
	name string
	// ch identifies the channel's history.
	ch realtime.Channel
	// redisName is the Redis channel.
	redisName string
	// eventPrefix starts every event frame of the channel.
	eventPrefix []byte
	// refs counts holders, including those still joining; the Redis subscription ends when it
	// drops to zero. Guarded by hub.cmdMu.
	refs int
	// ready is closed once Redis has confirmed the subscription. Guarded by hub.cmdMu.
	ready <-chan struct{}
	// err is the broker's error from starting the subscription; set, it fails every holder until
	// refs drops to zero and the next subscriber starts afresh. Guarded by hub.cmdMu.
	err error

	// mu orders everything that reaches holders: live events, catch-up from the history, and
	// clients joining. Held during a fan-out, which never blocks.
	mu sync.Mutex
	// holders maps each client receiving the channel's events to the number up to which it has
	// them already (from its subscribed frame or a replay); it gets only events above it.
	holders map[*client]uint64
	// lastSeq is the highest number this replica has passed on (or knows to be covered): every
	// holder has every event up to it that it needs.
	lastSeq uint64
	// known says lastSeq has been established (from the channel's counter or a first event).
	known bool
}

// hub owns the channel subscriptions of the connected clients (conns) and dispatches events to
// them in order; the sweeper closes revoked ones. Subscriptions are refcounted, so the process
// subscribes to a channel once however many clients want it, and an event is encoded once per
// channel however many clients receive it.
type hub struct {
	// opts are the gateway's resolved options.
	opts *Options
	// broker is the pub/sub backend all subscriptions go through.
	broker broker
	// history supplies the events a client or this replica missed.
	history *realtime.History
	// experiments answers whether a subscribed experiment exists.
	experiments Experiments
	// metrics are the gateway's instruments.
	metrics *metrics
	// log receives diagnostics.
	log *slog.Logger
	// epoch is the origin of queued.at: monotonic offsets are cheaper to store than times.
	epoch time.Time
	// batches lends the writers their batch buffers (*[]byte).
	batches sync.Pool

	// conns counts and holds the connected clients within the caps.
	conns *conns
	// sweeper closes the connections whose credentials were revoked.
	sweeper *sweeper

	// cmdMu serializes refcount changes together with the broker calls they cause, so the broker
	// sees subscribe and unsubscribe of a channel in the order the refcounts changed.
	cmdMu sync.Mutex
	// subMu guards the subs map; dispatch reads it while cmdMu is held for a broker call.
	subMu sync.RWMutex
	// subs are the live subscriptions by Redis channel. Written with both cmdMu and subMu held,
	// so either is enough to read it.
	subs map[string]*subscription
}

// newHub returns a hub without a broker; the caller sets it and starts the sweeper, since the
// broker's constructor needs the hub's handlers.
func newHub(opts *Options, m *metrics) *hub {
	cs := newConns(opts, m)
	return &hub{
		conns:       cs,
		sweeper:     newSweeper(cs, opts.RecheckInterval, opts.Logger),
		opts:        opts,
		history:     realtime.NewHistory(opts.Redis, opts.ChannelPrefix),
		experiments: newExperimentCache(opts.Experiments),
		metrics:     m,
		log:         opts.Logger,
		epoch:       time.Now(),
		subs:        make(map[string]*subscription),
	}
}

// now is the current offset from epoch, for queued.at.
func (h *hub) now() int64 { return int64(time.Since(h.epoch)) }

// subscribe makes c a holder of ch under its client-side name, subscribing Redis if c is the
// first. Once the subscription is confirmed c is acknowledged with the channel's latest number,
// and, with since, first gets the events after since from the history: every event of the
// channel reaches c once, in order. On error c holds nothing.
func (h *hub) subscribe(ctx context.Context, c *client, name string, ch realtime.Channel, since *uint64) error {
	redisName := ch.Name(h.opts.ChannelPrefix)
	h.cmdMu.Lock()
	s := h.subs[redisName]
	if s == nil {
		s = &subscription{name: name, ch: ch, redisName: redisName, eventPrefix: eventPrefix(name),
			holders: make(map[*client]uint64)}
		s.ready, s.err = h.broker.subscribe(ctx, redisName)
		h.subMu.Lock()
		h.subs[redisName] = s
		h.subMu.Unlock()
		h.metrics.channels.Inc()
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
	if err == nil {
		err = h.establish(ctx, s)
	}
	if err == nil {
		err = h.join(ctx, c, s, since)
	}
	if err != nil {
		h.unsubscribe(c, redisName)
		return err
	}
	h.metrics.subscriptions.Inc()
	return nil
}

// establish sets a new subscription's lastSeq from the channel's counter, read after Redis
// confirmed the subscription: every later event arrives live.
func (h *hub) establish(ctx context.Context, s *subscription) error {
	s.mu.Lock()
	known := s.known
	s.mu.Unlock()
	if known {
		return nil
	}
	latest, err := h.history.Latest(ctx, s.ch)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if !s.known {
		s.lastSeq, s.known = latest, true
	}
	s.mu.Unlock()
	return nil
}

// join adds c to s's holders. Without since (or since at the latest number) that is one step
// under s.mu, with the subscribed frame queued first. With since, the subscribed frame, then the
// history after since are queued (waiting for room, outside the lock), until c has caught up with
// what this replica has passed on; then c becomes a holder under the lock, above the last number
// it got, so nothing is missed or repeated.
func (h *hub) join(ctx context.Context, c *client, s *subscription, since *uint64) error {
	s.mu.Lock()
	if since == nil || *since == s.lastSeq {
		s.holders[c] = s.lastSeq
		c.deliver(queued{data: subscribedFrame(s.name, s.lastSeq)})
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()

	events, latest, err := h.history.After(ctx, s.ch, *since, replayBatch)
	if errors.Is(err, realtime.ErrHistoryGap) {
		h.metrics.dropped.WithLabelValues(droppedHistoryGap).Inc()
		c.deliver(queued{data: channelErrorFrame(wsproto.CodeHistoryUnavailable, s.name, fmt.Sprintf(
			"the events after seq %d are no longer available; reload the state, then apply the events after the subscribed seq", *since))})
		return h.join(ctx, c, s, nil)
	}
	if err != nil {
		return err
	}
	if !c.deliverWait(queued{data: subscribedFrame(s.name, latest)}) {
		return errClientGone
	}
	next := *since
	for {
		for _, e := range events {
			frame, ok := encodeEvent(s.eventPrefix, e)
			if ok && !c.deliverWait(queued{data: frame}) {
				return errClientGone
			}
			next = e.Seq
		}
		h.metrics.replayed.Add(float64(len(events)))
		s.mu.Lock()
		if s.lastSeq <= next {
			s.holders[c] = next
			s.mu.Unlock()
			return nil
		}
		s.mu.Unlock()
		events, _, err = h.history.After(ctx, s.ch, next, replayBatch)
		if errors.Is(err, realtime.ErrHistoryGap) || (err == nil && len(events) == 0) {
			// Trimmed while c was catching up: what it lacks is gone; it goes on live.
			h.metrics.dropped.WithLabelValues(droppedHistoryGap).Inc()
			s.mu.Lock()
			c.deliver(queued{data: channelErrorFrame(wsproto.CodeHistoryUnavailable, s.name, fmt.Sprintf(
				"the events after seq %d are no longer available; reload the state, then apply the events after seq %d", next, s.lastSeq))})
			s.holders[c] = s.lastSeq
			s.mu.Unlock()
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// unsubscribe drops c as a holder of the Redis channel and unsubscribes Redis when c was the
// last. No event of the channel is queued for c after it returns.
func (h *hub) unsubscribe(c *client, redisName string) {
	h.cmdMu.Lock()
	defer h.cmdMu.Unlock()
	s := h.subs[redisName]
	if s == nil {
		return
	}
	s.mu.Lock()
	if _, held := s.holders[c]; held {
		delete(s.holders, c)
		h.metrics.subscriptions.Dec()
	}
	s.mu.Unlock()
	s.refs--
	if s.refs > 0 {
		return
	}
	h.subMu.Lock()
	delete(h.subs, redisName)
	h.subMu.Unlock()
	h.metrics.channels.Dec()
	// Unsubscribe even after a failed subscribe: the broker may still remember the channel and
	// subscribe it again on a new connection.
	if err := h.broker.unsubscribe(context.Background(), redisName); err != nil {
		h.log.Warn("gateway: unsubscribe", "channel", redisName, "error", err)
	}
}

// lookup returns the subscription of a Redis channel, if any.
func (h *hub) lookup(redisName string) *subscription {
	h.subMu.RLock()
	defer h.subMu.RUnlock()
	return h.subs[redisName]
}

// dispatch passes an event from Redis to the holders of its channel, on the broker's receive
// goroutine. An event already passed on (it came from the history first) is dropped; one that
// skips numbers first fetches the missing ones from the history. Queueing never blocks: a client
// whose queue is full is disconnected instead.
func (h *hub) dispatch(redisName, payload string) {
	at := h.now()
	h.metrics.events.Inc()
	e, err := realtime.Decode(payload)
	if err != nil {
		h.metrics.dropped.WithLabelValues(droppedInvalidEvent).Inc()
		h.log.Warn("gateway: dropped an event that has no sequence number", "channel", redisName)
		return
	}
	s := h.lookup(redisName)
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.known {
		if e.Seq <= s.lastSeq {
			h.metrics.dropped.WithLabelValues(droppedDuplicate).Inc()
			return
		}
		if e.Seq > s.lastSeq+1 && len(s.holders) > 0 {
			h.catchUp(s, e.Seq-1)
		}
	}
	h.broadcast(s, e, at)
	s.lastSeq, s.known = e.Seq, true
}

// resubscribed catches a channel up after the pub/sub connection was re-established: what was
// published in between never arrived and is read from the history.
func (h *hub) resubscribed(redisName string) {
	s := h.lookup(redisName)
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.opts.SubscribeTimeout)
	defer cancel()
	latest, err := h.history.Latest(ctx, s.ch)
	if err != nil {
		h.log.Warn("gateway: catch up after reconnecting", "channel", redisName, "error", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.known && latest < s.lastSeq {
		// The counter went back: Redis lost its memory (a restart without persistence). What
		// was published since is in a new numbering that starts above every old number, so the
		// next event would show the jump; the holders are told now, not at the next event, which
		// on a quiet channel may be long in coming.
		h.metrics.dropped.WithLabelValues(droppedHistoryGap).Inc()
		h.log.Warn("gateway: the channel's numbering restarted; events may be lost", "channel", redisName, "after", s.lastSeq)
		frame := queued{data: channelErrorFrame(wsproto.CodeHistoryUnavailable, s.name, fmt.Sprintf(
			"the event history after seq %d was lost (the event store restarted); reload the state, then apply the events that follow", s.lastSeq))}
		for c := range s.holders {
			c.deliver(frame)
		}
		s.lastSeq = latest
		return
	}
	if !s.known || latest == s.lastSeq {
		return
	}
	if len(s.holders) == 0 {
		s.lastSeq = latest
		return
	}
	h.catchUp(s, latest)
}

// catchUp passes on the events after s.lastSeq up to upto from the history. If the history no
// longer has them, every holder is told, and the channel goes on from upto. s.mu must be held.
func (h *hub) catchUp(s *subscription, upto uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), h.opts.SubscribeTimeout)
	defer cancel()
	for s.lastSeq < upto {
		events, _, err := h.history.After(ctx, s.ch, s.lastSeq, replayBatch)
		if err == nil && len(events) == 0 {
			err = realtime.ErrHistoryGap
		}
		if err != nil {
			h.log.Warn("gateway: events lost", "channel", s.redisName, "after", s.lastSeq, "upto", upto, "error", err)
			h.metrics.dropped.WithLabelValues(droppedHistoryGap).Add(float64(upto - s.lastSeq))
			frame := queued{data: channelErrorFrame(wsproto.CodeHistoryUnavailable, s.name, fmt.Sprintf(
				"the events after seq %d up to %d were lost; reload the state, then apply the events after seq %d", s.lastSeq, upto, upto))}
			for c := range s.holders {
				c.deliver(frame)
			}
			s.lastSeq = upto
			return
		}
		at := h.now()
		for _, e := range events {
			if e.Seq > upto {
				return
			}
			h.broadcast(s, e, at)
			s.lastSeq = e.Seq
		}
	}
}

// broadcast queues e, encoded once, for every holder that lacks it. s.mu must be held.
func (h *hub) broadcast(s *subscription, e realtime.Event, at int64) {
	if len(s.holders) == 0 {
		return
	}
	frame, ok := encodeEvent(s.eventPrefix, e)
	if !ok {
		h.metrics.dropped.WithLabelValues(droppedInvalidEvent).Inc()
		h.log.Warn("gateway: dropped an event whose payload is not JSON", "channel", s.redisName, "seq", e.Seq)
		return
	}
	q := queued{data: frame, at: at}
	for c, after := range s.holders {
		if e.Seq > after {
			c.deliver(q)
		}
	}
}

// shutdown stops accepting clients, then closes every client with 1001, spread evenly over the
// drain window (at most half of the time ctx leaves), and waits until their goroutines have
// ended or ctx is done, when it drops the remaining connections. Then it closes the broker.
func (h *hub) shutdown(ctx context.Context) error {
	clients := h.conns.close()
	h.sweeper.stop()

	window := h.opts.DrainWindow
	if deadline, ok := ctx.Deadline(); ok {
		window = min(window, time.Until(deadline)/2)
	}
	if ctx.Err() != nil {
		window = 0
	}
	start := time.Now()
	for i, c := range clients {
		if window > 0 {
			at := start.Add(window * time.Duration(i) / time.Duration(len(clients)))
			if wait := time.Until(at); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-ctx.Done():
					window = 0 // out of time: close the rest at once
				}
				t.Stop()
			}
		}
		c.close(websocket.CloseGoingAway, "server shutting down", disconnectShutdown)
	}
	finished := make(chan struct{})
	go func() {
		h.conns.running.Wait()
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
		<-finished
	}
	if cerr := h.broker.close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}
