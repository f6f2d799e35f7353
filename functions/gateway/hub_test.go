package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/phoenixotel/phoenix/shared/realtime"
	"github.com/phoenixotel/phoenix/shared/wsproto"
)

func TestHub_SharesOneRedisSubscriptionPerChannel(t *testing.T) {
	e := newEnv(t)
	first := e.dial(t, tokenA)
	second := e.dial(t, tokenA)
	subscribe(t, first, "tenant")
	subscribe(t, second, "tenant")

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	channel := realtime.TenantChannel(e.prefix, e.tenantA)
	n, err := e.rdb.PubSubNumSub(ctx, channel).Result()
	if err != nil {
		t.Fatalf("PUBSUB NUMSUB: %v", err)
	}
	if n[channel] != 1 {
		t.Fatalf("Redis counts %d subscribers of %s for two clients, want 1", n[channel], channel)
	}

	// The first unsubscribe keeps the shared subscription for the second.
	send(t, first, `{"type":"unsubscribe","channel":"tenant"}`)
	expect(t, first, wsproto.Unsubscribed, "tenant")
	e.publish(t, e.tenantA, uuid.New(), `{"n":1}`)
	expectEvent(t, second, "tenant", 1, `{"n":1}`)

	send(t, second, `{"type":"unsubscribe","channel":"tenant"}`)
	expect(t, second, wsproto.Unsubscribed, "tenant")
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
	subscribe(t, c, "experiment:"+e.experiment(e.tenantA).String())

	// A clean close from the client is echoed; the server side then ends.
	_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(waitTimeout))
	expectClose(t, c, websocket.CloseNormalClosure)

	// Shutdown waits for the client's goroutines, which release everything before they end.
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
	for _, name := range []string{"phoenix_gateway_connections", "phoenix_gateway_subscriptions", "phoenix_gateway_channels"} {
		if got := metric(t, e.reg, name); got != 0 {
			t.Fatalf("%s = %v, want 0", name, got)
		}
	}
}

func TestReplicas_BothDeliverAnEventPublishedOnce(t *testing.T) {
	one := newEnv(t)
	two := newEnv(t, replicaOf(one))
	a, b := one.dial(t, tokenA), two.dial(t, tokenA)
	subscribe(t, a, "tenant")
	subscribe(t, b, "tenant")
	one.publish(t, one.tenantA, uuid.New(), `{"once":true}`)
	expectEvent(t, a, "tenant", 1, `{"once":true}`)
	expectEvent(t, b, "tenant", 1, `{"once":true}`)
	// A client moving to the other replica resumes where it was.
	one.publish(t, one.tenantA, uuid.New(), `{"n":2}`)
	expectEvent(t, a, "tenant", 2, `{"n":2}`)
	_ = a.Close()
	one.publish(t, one.tenantA, uuid.New(), `{"n":3}`)
	moved := two.dial(t, tokenA)
	subscribeSince(t, moved, "tenant", 2)
	expectEvent(t, moved, "tenant", 3, `{"n":3}`)
}

// cuttable is a gateway whose Redis connection runs through a proxy the test can cut, checking
// Redis's health every 100 ms, and a client subscribed to one experiment's channel.
func cuttable(t *testing.T) (p *proxy, e *env, experiment uuid.UUID, channel string, c *websocket.Conn) {
	t.Helper()
	p = newProxy(t, redisAddr())
	viaProxy := connectRedis(t, p.addr())
	e = newEnv(t, withRedis(viaProxy), withOptions(func(o *Options) { o.RedisHealthInterval = 100 * time.Millisecond }))
	experiment = e.experiment(e.tenantA)
	channel = "experiment:" + experiment.String()
	c = e.dial(t, tokenA)
	subscribe(t, c, channel)
	return p, e, experiment, channel, c
}

func TestRedisConnectionLoss_IsRecoveredWithoutGaps(t *testing.T) {
	p, e, experiment, channel, c := cuttable(t)
	e.publish(t, e.tenantA, experiment, `{"n":1}`)
	expectEvent(t, c, channel, 1, `{"n":1}`)

	p.setCut(true)
	waitFor(t, "readiness to fail", func() bool { return e.gw.Ready(context.Background()) != nil })
	// Published while the gateway cannot hear: only the history has these.
	for i := 2; i <= 4; i++ {
		e.publish(t, e.tenantA, experiment, fmt.Sprintf(`{"n":%d}`, i))
	}
	p.setCut(false)
	waitFor(t, "readiness to return", func() bool { return e.gw.Ready(context.Background()) == nil })
	e.publish(t, e.tenantA, experiment, `{"n":5}`)
	for i := 2; i <= 5; i++ {
		expectEvent(t, c, channel, uint64(i), fmt.Sprintf(`{"n":%d}`, i))
	}
	if got := metric(t, e.reg, "phoenix_gateway_redis_reconnects_total"); got < 1 {
		t.Fatalf("redis reconnects = %v, want at least 1", got)
	}
}

// TestRedisMemoryLoss_IsAnnouncedNotSwallowed is a Redis restart without persistence while a
// client is connected: counters and histories are gone when the gateway reconnects. Before, the
// new numbering restarted at 1 and the gateway dropped every event numbered at or below the last
// it had passed on as a duplicate: the client missed them without a word. Now the client is told
// history_unavailable as soon as the gateway is back, and then receives what follows — a test
// connected on another replica, subscribing with the old number, is told likewise.
func TestRedisMemoryLoss_IsAnnouncedNotSwallowed(t *testing.T) {
	p, e, experiment, channel, c := cuttable(t)
	for i := 1; i <= 30; i++ {
		e.publish(t, e.tenantA, experiment, fmt.Sprintf(`{"n":%d}`, i))
		expectEvent(t, c, channel, uint64(i), fmt.Sprintf(`{"n":%d}`, i))
	}

	p.setCut(true)
	waitFor(t, "readiness to fail", func() bool { return e.gw.Ready(context.Background()) != nil })
	deleteKeys(e.rdb, e.prefix) // Redis restarted empty
	p.setCut(false)
	waitFor(t, "readiness to return", func() bool { return e.gw.Ready(context.Background()) == nil })
	f := expectError(t, c, wsproto.CodeHistoryUnavailable, channel)
	t.Log(f.Message)

	// The publisher's next event (not numbered by the test) starts the new numbering.
	if err := e.pub.Publish(context.Background(), e.tenantA, experiment, []byte(`{"after":true}`)); err != nil {
		t.Fatal(err)
	}
	ev := expect(t, c, wsproto.Event, channel)
	if ev.Seq == nil || *ev.Seq <= 30 || string(ev.Data) != `{"after":true}` {
		t.Fatalf("after the loss got event %v %s, want the new event above every old number", ev.Seq, ev.Data)
	}
	// A client that reconnects with the last number it had is told too, not replayed the new
	// numbering's events as if they followed it.
	other := e.dial(t, tokenA)
	send(t, other, fmt.Sprintf(`{"type":"subscribe","channel":%q,"since":30}`, channel))
	expectError(t, other, wsproto.CodeHistoryUnavailable, channel)
	if seq := subscribed(t, other, channel); seq != *ev.Seq {
		t.Fatalf("subscribed at %d, want the new latest %d", seq, *ev.Seq)
	}
	if got := metric(t, e.reg, "phoenix_gateway_dropped_total", droppedDuplicate); got != 0 {
		t.Fatalf("dropped{duplicate} = %v, want 0", got)
	}
}

func TestDispatch_FillsASkippedNumberFromTheHistory(t *testing.T) {
	p := newProxy(t, redisAddr())
	viaProxy := connectRedis(t, p.addr())
	e := newEnv(t, withRedis(viaProxy), withOptions(func(o *Options) { o.RedisHealthInterval = time.Hour }))
	c := e.dial(t, tokenA)
	subscribe(t, c, "tenant")
	e.publish(t, e.tenantA, uuid.New(), `{"n":1}`)
	expectEvent(t, c, "tenant", 1, `{"n":1}`)

	// Events 2 and 3 never reach the gateway's pub/sub connection; event 4 arrives as if live.
	// The pub/sub connection is cut but the history is read through the test's own client.
	e.gw.hub.history = realtime.NewHistory(e.rdb, e.prefix)
	p.setCut(true)
	for i := 2; i <= 4; i++ {
		e.publish(t, e.tenantA, uuid.New(), fmt.Sprintf(`{"n":%d}`, i))
	}
	e.gw.hub.dispatch(realtime.TenantChannel(e.prefix, e.tenantA), `4 {"n":4}`)
	for i := 2; i <= 4; i++ {
		expectEvent(t, c, "tenant", uint64(i), fmt.Sprintf(`{"n":%d}`, i))
	}
	// A repeat of a number already passed on is dropped.
	e.gw.hub.dispatch(realtime.TenantChannel(e.prefix, e.tenantA), `3 {"n":3}`)
	e.gw.hub.dispatch(realtime.TenantChannel(e.prefix, e.tenantA), `not a message`)
	if got := metric(t, e.reg, "phoenix_gateway_dropped_total", droppedDuplicate); got != 1 {
		t.Fatalf("dropped{duplicate} = %v, want 1", got)
	}
	if got := metric(t, e.reg, "phoenix_gateway_dropped_total", droppedInvalidEvent); got != 1 {
		t.Fatalf("dropped{invalid_event} = %v, want 1", got)
	}
}

func TestDispatch_ToldHoldersWhenTheHistoryLostEvents(t *testing.T) {
	e := newEnv(t)
	c := e.dial(t, tokenA)
	subscribe(t, c, "tenant")
	// Seq 7 arrives after 0, but the channel's history has nothing: 1..6 are gone.
	e.gw.hub.dispatch(realtime.TenantChannel(e.prefix, e.tenantA), `7 {"n":7}`)
	f := expectError(t, c, wsproto.CodeHistoryUnavailable, "tenant")
	t.Log(f.Message)
	expectEvent(t, c, "tenant", 7, `{"n":7}`)
	if got := metric(t, e.reg, "phoenix_gateway_dropped_total", droppedHistoryGap); got != 6 {
		t.Fatalf("dropped{history_gap} = %v, want 6", got)
	}
}

func TestRedisBroker_ConfirmsSubscriptionsAndDeliversInOrder(t *testing.T) {
	rdb := newRedis(t)
	type message struct{ channel, payload string }
	got := make(chan message, 16)
	m, err := newMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	control := "gateway-test-control-" + uuid.NewString()
	controls := make(chan string, 1)
	b := newRedisBroker(rdb, control, redisHandlers{
		message:      func(channel, payload string) { got <- message{channel, payload} },
		control:      func(payload string) { controls <- payload },
		resubscribed: func(string) {},
	}, time.Second, m, slog.New(slog.DiscardHandler))
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

	// Unsubscribe then subscribe again: the second confirmation belongs to the second call,
	// after which publishing is delivered again.
	if err := b.unsubscribe(ctx, channel); err != nil {
		t.Fatalf("unsubscribe: %v", err)
	}
	subscribeAndWait()
	if err := rdb.Publish(ctx, channel, "4").Err(); err != nil {
		t.Fatalf("publish: %v", err)
	}
	expectMessage("4")

	// The control channel goes to its own handler.
	if err := rdb.Publish(ctx, control, "notice").Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-controls:
		if p != "notice" {
			t.Fatalf("control payload %q", p)
		}
	case <-ctx.Done():
		t.Fatal("no control message")
	}

	if err := b.close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := b.close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if b.up() {
		t.Fatal("up after close")
	}
}

func TestRedisBroker_UnreachableRedisIsNotUp(t *testing.T) {
	p := newProxy(t, redisAddr())
	p.setCut(true)
	m, err := newMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: p.addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	b := newRedisBroker(rdb, "gateway-test-control-"+uuid.NewString(), redisHandlers{
		message: func(string, string) {}, control: func(string) {}, resubscribed: func(string) {},
	}, 50*time.Millisecond, m, slog.New(slog.DiscardHandler))
	t.Cleanup(func() { _ = b.close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := b.subscribe(ctx, "gateway-test-"+uuid.NewString()); err == nil {
		t.Fatal("subscribe through a cut connection succeeded")
	}
	if b.up() {
		t.Fatal("up while Redis is unreachable")
	}
	p.setCut(false)
	waitFor(t, "the broker to come up", b.up)
}
