package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"github.com/phoenixotel/phoenix/shared/realtime"
)

func TestHub_SharesOneRedisSubscriptionPerChannel(t *testing.T) {
	e := newEnv(t)
	first := e.dial(t, tokenA)
	second := e.dial(t, tokenA)
	subscribe(t, first, "tenant")
	subscribe(t, second, "tenant")

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	channel := realtime.TenantChannel(e.gw.opts.ChannelPrefix, e.tenantA)
	n, err := e.rdb.PubSubNumSub(ctx, channel).Result()
	if err != nil {
		t.Fatalf("PUBSUB NUMSUB: %v", err)
	}
	if n[channel] != 1 {
		t.Fatalf("Redis counts %d subscribers of %s for two clients, want 1", n[channel], channel)
	}

	// The first unsubscribe keeps the shared subscription for the second.
	send(t, first, `{"type":"unsubscribe","channel":"tenant"}`)
	expect(t, first, typeUnsubscribed, "tenant")
	e.publish(t, e.tenantA, uuid.New(), `{"n":1}`)
	expectEvent(t, second, "tenant", `{"n":1}`)

	send(t, second, `{"type":"unsubscribe","channel":"tenant"}`)
	expect(t, second, typeUnsubscribed, "tenant")
	e.gw.hub.subMu.RLock()
	left := len(e.gw.hub.subs)
	e.gw.hub.subMu.RUnlock()
	if left != 0 {
		t.Fatalf("hub holds %d subscriptions after the last unsubscribe, want 0", left)
	}
}

func TestHub_DisconnectReleasesSubscriptions(t *testing.T) {
	e := newEnv(t)
	c := e.dial(t, tokenA)
	subscribe(t, c, "tenant")
	subscribe(t, c, "experiment:"+uuid.NewString())

	// A clean close from the client is echoed; the server side then ends.
	_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(waitTimeout))
	expectClose(t, c, websocket.CloseNormalClosure)

	// Shutdown waits for the client's goroutines, which release everything
	// before they end.
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := e.gw.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	e.gw.hub.subMu.RLock()
	left := len(e.gw.hub.subs)
	e.gw.hub.subMu.RUnlock()
	if left != 0 {
		t.Fatalf("hub holds %d subscriptions after the client left, want 0", left)
	}
	if got := metric(t, e.reg, "phoenix_gateway_connections"); got != 0 {
		t.Fatalf("phoenix_gateway_connections = %v, want 0", got)
	}
}

func TestRedisBroker_ConfirmsSubscriptionsAndDeliversInOrder(t *testing.T) {
	rdb := newRedis(t)
	type message struct{ channel, payload string }
	got := make(chan message, 16)
	b := newRedisBroker(rdb, func(channel, payload string) { got <- message{channel, payload} })
	t.Cleanup(func() { _ = b.close() })
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	channel := "gateway-test-" + uuid.NewString()

	subscribeAndWait := func() {
		t.Helper()
		ready, err := b.subscribe(ctx, channel)
		if err != nil {
			t.Fatalf("subscribe: %v", err)
		}
		select {
		case <-ready:
		case <-ctx.Done():
			t.Fatal("subscription not confirmed")
		}
	}
	expectMessage := func(payload string) {
		t.Helper()
		select {
		case m := <-got:
			if m != (message{channel, payload}) {
				t.Fatalf("got %+v, want %q on %q", m, payload, channel)
			}
		case <-ctx.Done():
			t.Fatalf("no message %q", payload)
		}
	}

	subscribeAndWait()
	for _, p := range []string{"1", "2", "3"} {
		if err := rdb.Publish(ctx, channel, p).Err(); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
	expectMessage("1")
	expectMessage("2")
	expectMessage("3")

	// Unsubscribe then subscribe again: the second confirmation belongs to
	// the second call, after which publishing is delivered again.
	if err := b.unsubscribe(ctx, channel); err != nil {
		t.Fatalf("unsubscribe: %v", err)
	}
	subscribeAndWait()
	if err := rdb.Publish(ctx, channel, "4").Err(); err != nil {
		t.Fatalf("publish: %v", err)
	}
	expectMessage("4")

	if err := b.close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := b.close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}
