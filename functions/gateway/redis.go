package gateway

import (
	"context"
	"sync"

	"github.com/redis/go-redis/v9"
)

// redisBroker is the broker on Redis pub/sub: one connection per gateway
// process, shared by all subscriptions, which go-redis re-establishes and
// resubscribes after network errors. Messages published while it is down
// are lost, as pub/sub promises no more.
type redisBroker struct {
	// pubsub is the shared subscription connection.
	pubsub *redis.PubSub
	// onMessage receives every message, in the order Redis sent them, on
	// the receive goroutine. It must not block.
	onMessage func(channel, payload string)

	// mu guards pending.
	mu sync.Mutex
	// pending holds, per channel, the ready channels of subscribe calls in
	// the order their SUBSCRIBE was sent; Redis confirms in that order.
	pending map[string][]chan struct{}

	// closeOnce makes close idempotent.
	closeOnce sync.Once
	// stopped is closed when the receive goroutine has returned.
	stopped chan struct{}
}

// newRedisBroker opens the shared subscription on rdb and starts delivering
// its messages to onMessage until close.
func newRedisBroker(rdb *redis.Client, onMessage func(channel, payload string)) *redisBroker {
	b := &redisBroker{
		pubsub:    rdb.Subscribe(context.Background()),
		onMessage: onMessage,
		pending:   make(map[string][]chan struct{}),
		stopped:   make(chan struct{}),
	}
	go b.receive(b.pubsub.ChannelWithSubscriptions(redis.WithChannelSize(1024)))
	return b
}

// receive routes confirmations to waiting subscribe calls and messages to
// onMessage.
func (b *redisBroker) receive(in <-chan any) {
	defer close(b.stopped)
	for m := range in {
		switch m := m.(type) {
		case *redis.Message:
			b.onMessage(m.Channel, m.Payload)
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				b.confirm(m.Channel)
			}
		}
	}
}

// confirm wakes the oldest subscribe call waiting for channel. A
// confirmation nobody waits for comes from a resubscription after a
// reconnect.
func (b *redisBroker) confirm(channel string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.pending[channel]
	if len(q) == 0 {
		return
	}
	close(q[0])
	if len(q) == 1 {
		delete(b.pending, channel)
	} else {
		b.pending[channel] = q[1:]
	}
}

// subscribe sends SUBSCRIBE; the returned channel is closed when Redis
// confirms it.
func (b *redisBroker) subscribe(ctx context.Context, channel string) (<-chan struct{}, error) {
	ready := make(chan struct{})
	b.mu.Lock()
	b.pending[channel] = append(b.pending[channel], ready)
	b.mu.Unlock()
	if err := b.pubsub.Subscribe(ctx, channel); err != nil {
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
	return b.pubsub.Unsubscribe(ctx, channel)
}

// close closes the subscription connection and waits for the receive
// goroutine to return.
func (b *redisBroker) close() error {
	var err error
	b.closeOnce.Do(func() {
		err = b.pubsub.Close()
		<-b.stopped
	})
	return err
}
