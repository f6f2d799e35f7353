package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// broker is what the hub needs from a pub/sub backend; it is declared here, by its consumer, and
// redisBroker implements it. Messages flow the other way, through the handlers given to the
// broker's constructor.
type broker interface {
	// subscribe starts a subscription to channel and returns a channel that is closed once the
	// backend has confirmed it, after which every message published to channel is delivered
	// (until the connection breaks; see redisHandlers.resubscribed).
	subscribe(ctx context.Context, channel string) (<-chan struct{}, error)
	// unsubscribe ends the subscription to channel.
	unsubscribe(ctx context.Context, channel string) error
	// up reports whether the backend connection is established and subscribed.
	up() bool
	// close ends every subscription and returns once no more messages will be delivered.
	close() error
}

// Backoff between attempts to re-establish a broken pub/sub connection.
const (
	minRedisBackoff = 50 * time.Millisecond
	maxRedisBackoff = 2 * time.Second
)

// redisHandlers receive what redisBroker reads, on its one receive goroutine, in the order Redis
// sent it. They must not block for long: they hold up every channel.
type redisHandlers struct {
	// message receives a message of a subscribed channel.
	message func(channel, payload string)
	// control receives a message of the control channel.
	control func(payload string)
	// resubscribed is told that channel is subscribed again on a new connection: messages
	// published while the old one was broken were never received.
	resubscribed func(channel string)
}

// redisBroker is the broker on Redis pub/sub: one connection per gateway process, shared by all
// subscriptions. It watches the connection itself — a read error, or no answer to pings for
// three health intervals — and re-establishes it with every channel, telling the hub which
// channels to catch up from their history. The control channel is always subscribed; its
// confirmation is what marks the connection up.
type redisBroker struct {
	// rdb dials the pub/sub connections.
	rdb *redis.Client
	// control is the channel subscribed for as long as the broker lives.
	control string
	// on receives messages, control messages and resubscriptions.
	on redisHandlers
	// health is how long the connection may be silent before it is pinged.
	health time.Duration
	// metrics counts reconnects and mirrors up.
	metrics *metrics
	// log receives connection diagnostics.
	log *slog.Logger

	// mu guards ps, closed, channels and pending.
	mu sync.Mutex
	// closed is set by close; no connection is opened after it.
	closed bool
	// ps is the current pub/sub connection.
	ps *redis.PubSub
	// channels are the subscribed channels (the control channel excluded), to subscribe again on
	// a new connection.
	channels map[string]struct{}
	// pending holds, per channel, the ready channels of subscribe calls in the order their
	// SUBSCRIBE was sent; Redis confirms in that order.
	pending map[string][]chan struct{}

	// isUp is set by the control channel's confirmation and cleared by a broken connection.
	isUp atomic.Bool
	// ctx ends the receive goroutine; cancel is called by close.
	ctx context.Context
	// cancel cancels ctx.
	cancel context.CancelFunc
	// closeOnce makes close idempotent.
	closeOnce sync.Once
	// stopped is closed when the receive goroutine has returned.
	stopped chan struct{}
}

// newRedisBroker opens the shared subscription on rdb, subscribed to control, and starts
// delivering to on until close.
func newRedisBroker(rdb *redis.Client, control string, on redisHandlers, health time.Duration, m *metrics, log *slog.Logger) *redisBroker {
	ctx, cancel := context.WithCancel(context.Background())
	b := &redisBroker{
		rdb: rdb, control: control, on: on, health: health, metrics: m, log: log,
		channels: make(map[string]struct{}),
		pending:  make(map[string][]chan struct{}),
		ctx:      ctx, cancel: cancel,
		stopped: make(chan struct{}),
	}
	b.open()
	go b.receive()
	return b
}

// open replaces the pub/sub connection by a new one subscribed to the control channel and every
// channel, and closes the old one. A connection that cannot be made yet is retried by the next
// receive. A subscribe racing with it is safe: its channel is either in the snapshot or sent on
// the new connection.
func (b *redisBroker) open() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	old, ps := b.ps, b.rdb.Subscribe(b.ctx) // no network call yet
	b.ps = ps
	channels := make([]string, 0, len(b.channels)+1)
	channels = append(channels, b.control)
	for c := range b.channels {
		channels = append(channels, c)
	}
	b.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
	_ = ps.Subscribe(b.ctx, channels...) // remembered even when it fails, and sent on connecting
}

// receive reads the connection until close, re-establishing it whenever it breaks.
func (b *redisBroker) receive() {
	defer close(b.stopped)
	backoff := minRedisBackoff
	lastHeard := time.Now()
	for {
		b.mu.Lock()
		ps := b.ps
		b.mu.Unlock()
		msg, err := ps.ReceiveTimeout(b.ctx, b.health)
		if b.ctx.Err() != nil {
			return
		}
		if err != nil && isTimeout(err) && time.Since(lastHeard) < 3*b.health {
			if err = ps.Ping(b.ctx); err == nil {
				continue
			}
		}
		if err != nil {
			if isTimeout(err) {
				err = errors.New("no answer to pings")
			}
			b.broken(err)
			if !b.sleep(backoff) {
				return
			}
			backoff = min(2*backoff, maxRedisBackoff)
			lastHeard = time.Now()
			continue
		}
		lastHeard = time.Now()
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind != "subscribe" {
				continue
			}
			if m.Channel == b.control {
				backoff = minRedisBackoff
				if !b.isUp.Swap(true) {
					b.metrics.redisUp.Set(1)
					b.log.Info("gateway: redis pub/sub subscribed")
				}
				continue
			}
			if !b.confirm(m.Channel) {
				b.on.resubscribed(m.Channel)
			}
		case *redis.Message:
			if m.Channel == b.control {
				b.on.control(m.Payload)
				continue
			}
			b.on.message(m.Channel, m.Payload)
		}
	}
}

// broken replaces a failed connection by a new one, subscribed to every channel.
func (b *redisBroker) broken(err error) {
	if b.isUp.Swap(false) {
		b.metrics.redisUp.Set(0)
		b.metrics.redisReconnects.Inc()
		b.log.Warn("gateway: redis pub/sub connection lost; re-establishing", "error", err)
	}
	b.open()
}

// sleep waits d, or returns false when the broker is closed first.
func (b *redisBroker) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-b.ctx.Done():
		return false
	}
}

// isTimeout reports whether err is a read deadline passing, not a failure.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// confirm wakes the oldest subscribe call waiting for channel, and reports whether there was one.
// A confirmation nobody waits for is a resubscription on a new connection.
func (b *redisBroker) confirm(channel string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.pending[channel]
	if len(q) == 0 {
		return false
	}
	close(q[0])
	if len(q) == 1 {
		delete(b.pending, channel)
	} else {
		b.pending[channel] = q[1:]
	}
	return true
}

// subscribe sends SUBSCRIBE; the returned channel is closed when Redis confirms it.
func (b *redisBroker) subscribe(ctx context.Context, channel string) (<-chan struct{}, error) {
	ready := make(chan struct{})
	b.mu.Lock()
	b.channels[channel] = struct{}{}
	b.pending[channel] = append(b.pending[channel], ready)
	ps := b.ps
	b.mu.Unlock()
	if err := ps.Subscribe(ctx, channel); err != nil {
		b.forget(channel, ready)
		return nil, err
	}
	return ready, nil
}

// forget removes a waiter whose SUBSCRIBE was never sent.
func (b *redisBroker) forget(channel string, ready chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.pending[channel]
	for i, r := range q {
		if r == ready {
			q = append(q[:i:i], q[i+1:]...)
			break
		}
	}
	if len(q) == 0 {
		delete(b.pending, channel)
	} else {
		b.pending[channel] = q
	}
}

// unsubscribe sends UNSUBSCRIBE.
func (b *redisBroker) unsubscribe(ctx context.Context, channel string) error {
	b.mu.Lock()
	delete(b.channels, channel)
	ps := b.ps
	b.mu.Unlock()
	return ps.Unsubscribe(ctx, channel)
}

// up reports whether the connection is established and subscribed.
func (b *redisBroker) up() bool { return b.isUp.Load() }

// close closes the subscription connection and waits for the receive goroutine to return.
func (b *redisBroker) close() error {
	var err error
	b.closeOnce.Do(func() {
		b.cancel()
		b.mu.Lock()
		b.closed = true
		ps := b.ps
		b.mu.Unlock()
		err = ps.Close()
		<-b.stopped
		b.isUp.Store(false)
		b.metrics.redisUp.Set(0)
	})
	return err
}
