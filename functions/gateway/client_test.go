package gateway

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"github.com/phoenixotel/phoenix/shared/realtime"
	"github.com/phoenixotel/phoenix/shared/wsproto"
)

func TestSubscribe_TenantReceivesPublishedEventsInOrderWithoutGaps(t *testing.T) {
	e := newEnv(t)
	c := e.dial(t, tokenA)
	experiment := e.experiment(e.tenantA)
	// Events before the subscription count: subscribed names the latest.
	e.publish(t, e.tenantA, experiment, `{"before":1}`)
	e.publish(t, e.tenantA, experiment, `{"before":2}`)
	if seq := subscribe(t, c, "tenant"); seq != 2 {
		t.Fatalf("subscribed seq %d, want 2", seq)
	}
	for i := 3; i <= 40; i++ {
		e.publish(t, e.tenantA, experiment, fmt.Sprintf(`{"n":%d}`, i))
	}
	for i := 3; i <= 40; i++ {
		expectEvent(t, c, "tenant", uint64(i), fmt.Sprintf(`{"n":%d}`, i))
	}
}

func TestSubscribe_ExperimentReceivesOnlyThatExperiment(t *testing.T) {
	e := newEnv(t)
	c := e.dial(t, tokenA)
	experiment := e.experiment(e.tenantA)
	// Upper case is accepted; replies and events use the canonical form.
	send(t, c, `{"type":"subscribe","channel":"experiment:`+strings.ToUpper(experiment.String())+`"}`)
	if seq := subscribed(t, c, "experiment:"+experiment.String()); seq != 0 {
		t.Fatalf("subscribed seq %d of a new channel, want 0", seq)
	}
	e.publish(t, e.tenantA, e.experiment(e.tenantA), `{"n":1}`)
	e.publish(t, e.tenantA, experiment, `{"n":2}`)
	expectEvent(t, c, "experiment:"+experiment.String(), 1, `{"n":2}`)
}

func TestSubscribe_TenantAndExperimentNumberSeparately(t *testing.T) {
	e := newEnv(t)
	c := e.dial(t, tokenA)
	experiment := e.experiment(e.tenantA)
	e.publish(t, e.tenantA, e.experiment(e.tenantA), `{"other":true}`)
	subscribe(t, c, "tenant")
	subscribe(t, c, "experiment:"+experiment.String())
	e.publish(t, e.tenantA, experiment, `{"n":1}`)
	expectEvent(t, c, "tenant", 2, `{"n":1}`)
	expectEvent(t, c, "experiment:"+experiment.String(), 1, `{"n":1}`)
}

func TestSubscribe_RefusesExperimentsTheCallerCannotRead(t *testing.T) {
	e := newEnv(t)
	a := e.dial(t, tokenA)
	b := e.dial(t, tokenB)
	experimentOfA := e.experiment(e.tenantA)
	tests := []struct {
		name       string
		c          *websocket.Conn
		experiment uuid.UUID
	}{
		{"another tenant's experiment", b, experimentOfA},
		{"an experiment that does not exist", a, uuid.New()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			channel := "experiment:" + tt.experiment.String()
			send(t, tt.c, `{"type":"subscribe","channel":"`+channel+`"}`)
			expectError(t, tt.c, wsproto.CodeNotFound, channel)
		})
	}
	// A's own experiment works, and B received nothing of it in the meantime.
	subscribe(t, a, "experiment:"+experimentOfA.String())
	e.publish(t, e.tenantA, experimentOfA, `{"from":"a"}`)
	expectEvent(t, a, "experiment:"+experimentOfA.String(), 1, `{"from":"a"}`)
	send(t, b, `{"type":"ping"}`)
	expect(t, b, wsproto.Pong, "")
}

func TestSubscribe_UnavailableExperimentLookupIsReported(t *testing.T) {
	e := newEnv(t)
	c := e.dial(t, tokenA)
	e.experiments.mu.Lock()
	e.experiments.err = fmt.Errorf("database down")
	e.experiments.mu.Unlock()
	channel := "experiment:" + uuid.NewString()
	send(t, c, `{"type":"subscribe","channel":"`+channel+`"}`)
	expectError(t, c, wsproto.CodeUnavailable, channel)
}

func TestIsolation_TenantChannelNeverCarriesOtherTenantsEvents(t *testing.T) {
	e := newEnv(t)
	a := e.dial(t, tokenA)
	b := e.dial(t, tokenB)
	subscribe(t, a, "tenant")
	subscribe(t, b, "tenant")

	e.publish(t, e.tenantA, uuid.New(), `{"from":"a"}`)
	expectEvent(t, a, "tenant", 1, `{"from":"a"}`)
	// Both events pass the gateway's one Redis connection in publish order, so had A's reached B
	// it would come first.
	e.publish(t, e.tenantB, uuid.New(), `{"from":"b"}`)
	expectEvent(t, b, "tenant", 1, `{"from":"b"}`)
}

func TestSince_ReplaysWhatAReconnectingClientMissed(t *testing.T) {
	e := newEnv(t)
	experiment := e.experiment(e.tenantA)
	channel := "experiment:" + experiment.String()
	first := e.dial(t, tokenA)
	subscribe(t, first, channel)
	for i := 1; i <= 3; i++ {
		e.publish(t, e.tenantA, experiment, fmt.Sprintf(`{"n":%d}`, i))
		expectEvent(t, first, channel, uint64(i), fmt.Sprintf(`{"n":%d}`, i))
	}
	_ = first.Close()
	for i := 4; i <= 8; i++ {
		e.publish(t, e.tenantA, experiment, fmt.Sprintf(`{"n":%d}`, i))
	}

	again := e.dial(t, tokenA)
	if seq := subscribeSince(t, again, channel, 3); seq != 8 {
		t.Fatalf("subscribed seq %d, want 8", seq)
	}
	for i := 4; i <= 8; i++ {
		expectEvent(t, again, channel, uint64(i), fmt.Sprintf(`{"n":%d}`, i))
	}
	e.publish(t, e.tenantA, experiment, `{"n":9}`)
	expectEvent(t, again, channel, 9, `{"n":9}`)
	if got := metric(t, e.reg, "phoenix_gateway_events_replayed_total"); got != 5 {
		t.Fatalf("replayed = %v, want 5", got)
	}
}

func TestSince_AtTheLatestOrAheadOfThisReplicaReplaysNothing(t *testing.T) {
	e := newEnv(t)
	experiment := e.experiment(e.tenantA)
	for i := 1; i <= 4; i++ {
		e.publish(t, e.tenantA, experiment, fmt.Sprintf(`{"n":%d}`, i))
	}
	c := e.dial(t, tokenA)
	if seq := subscribeSince(t, c, "tenant", 4); seq != 4 {
		t.Fatalf("subscribed seq %d, want 4", seq)
	}
	e.publish(t, e.tenantA, experiment, `{"n":5}`)
	expectEvent(t, c, "tenant", 5, `{"n":5}`)
}

func TestSince_ReplayAndLiveEventsNeitherOverlapNorLeaveGaps(t *testing.T) {
	const total = 400
	e := newEnv(t)
	experiment := e.experiment(e.tenantA)
	for i := 1; i <= 100; i++ {
		e.publish(t, e.tenantA, experiment, fmt.Sprintf(`{"n":%d}`, i))
	}
	// Publish the rest while a client catches up from 0: events arrive live while the history
	// is being replayed, and the client must see 1..total once each.
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 101; i <= total; i++ {
			if err := e.pub.Publish(context.Background(), e.tenantA, experiment, fmt.Appendf(nil, `{"n":%d}`, i)); err != nil {
				t.Errorf("publish: %v", err)
				return
			}
		}
	})
	c := e.dial(t, tokenA)
	subscribeSince(t, c, "tenant", 0)
	for i := 1; i <= total; i++ {
		expectEvent(t, c, "tenant", uint64(i), fmt.Sprintf(`{"n":%d}`, i))
	}
	wg.Wait()
}

func TestSince_SaysSoWhenTheHistoryNoLongerReachesBack(t *testing.T) {
	tests := []struct {
		name  string
		since uint64
		setup func(t *testing.T, e *env, experiment uuid.UUID)
	}{
		{"trimmed", 1, func(t *testing.T, e *env, experiment uuid.UUID) {
			// Trimming is approximate (stream nodes of 100 entries), so publish well past it.
			for range 350 {
				e.publish(t, e.tenantA, experiment, `{}`)
			}
		}},
		{"a number the channel never had", 50, func(t *testing.T, e *env, experiment uuid.UUID) {
			e.publish(t, e.tenantA, experiment, `{}`)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, withPublisher(realtime.WithHistory(10, time.Hour)))
			experiment := e.experiment(e.tenantA)
			tt.setup(t, e, experiment)
			latest, err := realtime.NewHistory(e.rdb, e.prefix).Latest(context.Background(), realtime.Channel{Tenant: e.tenantA})
			if err != nil {
				t.Fatal(err)
			}
			c := e.dial(t, tokenA)
			send(t, c, fmt.Sprintf(`{"type":"subscribe","channel":"tenant","since":%d}`, tt.since))
			expectError(t, c, wsproto.CodeHistoryUnavailable, "tenant")
			if seq := subscribed(t, c, "tenant"); seq != latest {
				t.Fatalf("subscribed seq %d, want the latest %d", seq, latest)
			}
			e.publish(t, e.tenantA, experiment, `{"after":true}`)
			expectEvent(t, c, "tenant", latest+1, `{"after":true}`)
		})
	}
}

func TestSubscribe_TwiceIsRefusedAndDeliversOnce(t *testing.T) {
	e := newEnv(t)
	c := e.dial(t, tokenA)
	subscribe(t, c, "tenant")
	send(t, c, `{"type":"subscribe","channel":"tenant"}`)
	expectError(t, c, wsproto.CodeAlreadySubscribed, "tenant")
	e.publish(t, e.tenantA, uuid.New(), `{"n":1}`)
	expectEvent(t, c, "tenant", 1, `{"n":1}`)
	send(t, c, `{"type":"ping"}`)
	expect(t, c, wsproto.Pong, "")
}

func TestUnsubscribe_StopsDelivery(t *testing.T) {
	e := newEnv(t)
	c := e.dial(t, tokenA)
	experiment := e.experiment(e.tenantA)
	subscribe(t, c, "tenant")
	subscribe(t, c, "experiment:"+experiment.String())
	e.publish(t, e.tenantA, experiment, `{"n":1}`)
	expectEvent(t, c, "tenant", 1, `{"n":1}`)
	expectEvent(t, c, "experiment:"+experiment.String(), 1, `{"n":1}`)

	send(t, c, `{"type":"unsubscribe","channel":"tenant"}`)
	expect(t, c, wsproto.Unsubscribed, "tenant")
	// The tenant copy is published before the experiment copy, so a tenant event still
	// delivered would arrive first.
	e.publish(t, e.tenantA, experiment, `{"n":2}`)
	expectEvent(t, c, "experiment:"+experiment.String(), 2, `{"n":2}`)
	if got := metric(t, e.reg, "phoenix_gateway_subscriptions"); got != 1 {
		t.Fatalf("phoenix_gateway_subscriptions = %v, want 1", got)
	}
}

func TestUnsubscribe_NotSubscribedIsAcknowledged(t *testing.T) {
	e := newEnv(t)
	c := e.dial(t, tokenA)
	send(t, c, `{"type":"unsubscribe","channel":"tenant"}`)
	expect(t, c, wsproto.Unsubscribed, "tenant")
}

func TestPing_AnswersPong(t *testing.T) {
	e := newEnv(t)
	c := e.dial(t, tokenA)
	for range 3 {
		send(t, c, `{"type":"ping"}`)
		expect(t, c, wsproto.Pong, "")
	}
}

func TestBadFrames_GetErrorFrameAndConnectionKeepsWorking(t *testing.T) {
	e := newEnv(t)
	c := e.dial(t, tokenA)
	tests := []struct {
		name     string
		typ      int
		frame    string
		wantCode string
	}{
		{"not JSON", websocket.TextMessage, `{"type":`, wsproto.CodeBadRequest},
		{"JSON but not an object", websocket.TextMessage, `["subscribe"]`, wsproto.CodeBadRequest},
		{"no type", websocket.TextMessage, `{"channel":"tenant"}`, wsproto.CodeBadRequest},
		{"negative since", websocket.TextMessage, `{"type":"subscribe","channel":"tenant","since":-1}`, wsproto.CodeBadRequest},
		{"fractional since", websocket.TextMessage, `{"type":"subscribe","channel":"tenant","since":1.5}`, wsproto.CodeBadRequest},
		{"binary frame", websocket.BinaryMessage, `{"type":"ping"}`, wsproto.CodeBadRequest},
		{"unknown type", websocket.TextMessage, `{"type":"publish","channel":"tenant"}`, wsproto.CodeUnknownType},
		{"unknown channel", websocket.TextMessage, `{"type":"subscribe","channel":"tenants"}`, wsproto.CodeInvalidChannel},
		{"no channel", websocket.TextMessage, `{"type":"subscribe"}`, wsproto.CodeInvalidChannel},
		{"experiment without ID", websocket.TextMessage, `{"type":"subscribe","channel":"experiment:"}`, wsproto.CodeInvalidChannel},
		{"experiment with bad UUID", websocket.TextMessage, `{"type":"subscribe","channel":"experiment:not-a-uuid"}`, wsproto.CodeInvalidChannel},
		{"experiment with unhyphenated UUID", websocket.TextMessage, `{"type":"subscribe","channel":"experiment:` + strings.ReplaceAll(uuid.NewString(), "-", "") + `"}`, wsproto.CodeInvalidChannel},
		{"other tenant's raw channel", websocket.TextMessage, `{"type":"subscribe","channel":"tenant:` + e.tenantB.String() + `"}`, wsproto.CodeInvalidChannel},
		{"raw Redis channel name", websocket.TextMessage, `{"type":"subscribe","channel":"` + realtime.TenantChannel(e.prefix, e.tenantB) + `"}`, wsproto.CodeInvalidChannel},
		{"unsubscribe bad channel", websocket.TextMessage, `{"type":"unsubscribe","channel":"*"}`, wsproto.CodeInvalidChannel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_ = c.SetWriteDeadline(time.Now().Add(waitTimeout))
			if err := c.WriteMessage(tt.typ, []byte(tt.frame)); err != nil {
				t.Fatalf("send: %v", err)
			}
			f := recv(t, c)
			if f.Type != wsproto.Error || f.Code != tt.wantCode || f.Message == "" {
				t.Fatalf("frame %+v, want an error with code %q and a message", f, tt.wantCode)
			}
			send(t, c, `{"type":"ping"}`)
			expect(t, c, wsproto.Pong, "")
		})
	}
	subscribe(t, c, "tenant")
	e.publish(t, e.tenantA, uuid.New(), `{"still":"working"}`)
	expectEvent(t, c, "tenant", 1, `{"still":"working"}`)
}

func TestMessageRate_RefusesFramesOverTheLimit(t *testing.T) {
	e := newEnv(t, withOptions(func(o *Options) { o.MessageRate = 5 }))
	c := e.dial(t, tokenA) // one ping used
	for range 4 {
		send(t, c, `{"type":"ping"}`)
		expect(t, c, wsproto.Pong, "")
	}
	send(t, c, `{"type":"ping"}`)
	expectError(t, c, wsproto.CodeRateLimited, "")
	if got := metric(t, e.reg, "phoenix_gateway_dropped_total", droppedRateLimited); got != 1 {
		t.Fatalf("dropped{rate_limited} = %v, want 1", got)
	}
}

func TestRetryAfter_SaysWhenTheNextEventIsAdmittedAtLeastASecond(t *testing.T) {
	now := time.Unix(1000, 0)
	slow, fast := newLimiter(0.25), newLimiter(10)
	slow.AllowN(now, 1)
	for range 10 {
		fast.AllowN(now, 1)
	}
	if got := retryAfter(slow, now); got != 4*time.Second {
		t.Errorf("one every 4 s, just taken: retry after %s, want 4s", got)
	}
	if got := retryAfter(fast, now); got != time.Second {
		t.Errorf("ten a second, burst taken: retry after %s, want the 1 s floor", got)
	}
	if !slow.AllowN(now.Add(4*time.Second), 1) {
		t.Error("asking when reserved a token")
	}
}

func TestLimiter(t *testing.T) {
	start := time.Unix(1000, 0)
	tests := []struct {
		name  string
		rate  float64
		steps []time.Duration // offsets from start of each attempt
		want  []bool
	}{
		{"burst of one second's worth", 3, []time.Duration{0, 0, 0, 0}, []bool{true, true, true, false}},
		{"refills at the rate", 2, []time.Duration{0, 0, 0, 500 * time.Millisecond, 500 * time.Millisecond}, []bool{true, true, false, true, false}},
		{"refills no more than the burst", 2, []time.Duration{0, 0, time.Hour, time.Hour, time.Hour}, []bool{true, true, true, true, false}},
		{"a rate below one still admits one", 0.5, []time.Duration{0, 0, 2 * time.Second}, []bool{true, false, true}},
		{"negative is unlimited", -1, []time.Duration{0, 0, 0, 0, 0}, []bool{true, true, true, true, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newLimiter(tt.rate)
			for i, d := range tt.steps {
				if got := b.AllowN(start.Add(d), 1); got != tt.want[i] {
					t.Fatalf("attempt %d at +%v: %v, want %v", i, d, got, tt.want[i])
				}
			}
		})
	}
}

func TestSubscribe_LimitGetsErrorFrame(t *testing.T) {
	e := newEnv(t, withOptions(func(o *Options) { o.MaxSubscriptions = 2 }))
	c := e.dial(t, tokenA)
	subscribe(t, c, "tenant")
	subscribe(t, c, "experiment:"+e.experiment(e.tenantA).String())
	third := "experiment:" + e.experiment(e.tenantA).String()
	send(t, c, `{"type":"subscribe","channel":"`+third+`"}`)
	expectError(t, c, wsproto.CodeTooManySubscriptions, third)
	send(t, c, `{"type":"unsubscribe","channel":"tenant"}`)
	expect(t, c, wsproto.Unsubscribed, "tenant")
	subscribe(t, c, third)
}

func TestReadLimit_ClosesWithMessageTooBig(t *testing.T) {
	e := newEnv(t)
	c := e.dial(t, tokenA)
	send(t, c, `{"type":"ping","pad":"`+strings.Repeat("x", DefaultMaxMessageSize)+`"}`)
	expectClose(t, c, websocket.CloseMessageTooBig)
}

func TestHeartbeat_KeepsAnsweringClientAlive(t *testing.T) {
	const pongWait = 200 * time.Millisecond
	e := newEnv(t, withOptions(func(o *Options) {
		o.PingInterval = 20 * time.Millisecond
		o.PongWait = pongWait
	}))
	c := e.dial(t, tokenA)
	pinged := make(chan struct{}, 1)
	c.SetPingHandler(func(data string) error {
		select {
		case pinged <- struct{}{}:
		default:
		}
		return c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(waitTimeout))
	})
	// The pings are read by a reader that has nothing else to read until the final ping frame's
	// pong.
	readErr := make(chan error, 1)
	go func() {
		_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
		_, _, err := c.ReadMessage()
		readErr <- err
	}()
	start := time.Now()
	pings := 0
	for time.Since(start) < 2*pongWait {
		select {
		case <-pinged:
			pings++
		case err := <-readErr:
			t.Fatalf("connection ended after %d pings: %v", pings, err)
		case <-time.After(waitTimeout):
			t.Fatalf("no ping within %v", waitTimeout)
		}
	}
	_ = c.SetWriteDeadline(time.Now().Add(waitTimeout))
	if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`)); err != nil {
		t.Fatalf("send ping after %d server pings: %v", pings, err)
	}
	if err := <-readErr; err != nil {
		t.Fatalf("no pong after %d server pings: %v", pings, err)
	}
}

func TestHeartbeat_ClosesClientThatDoesNotAnswerPings(t *testing.T) {
	e := newEnv(t, withOptions(func(o *Options) {
		o.PingInterval = 20 * time.Millisecond
		o.PongWait = 100 * time.Millisecond
	}))
	c := e.dial(t, tokenA)
	c.SetPingHandler(func(string) error { return nil }) // swallow pings
	_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	_, _, err := c.ReadMessage()
	if err == nil {
		t.Fatal("read a frame, want the connection to end")
	}
	if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
		t.Fatalf("client read timed out after %v; the server kept a silent connection", waitTimeout)
	}
	waitFor(t, "the disconnect to be counted", func() bool {
		return metric(t, e.reg, "phoenix_gateway_disconnects_total", disconnectLost) == 1
	})
}

func TestSlowReader_IsDisconnectedWithoutBlockingOthers(t *testing.T) {
	e := newEnv(t, withSmallSendBuffer(), withOptions(func(o *Options) { o.SendQueue = 4 }))
	fast := e.dial(t, tokenB)
	subscribe(t, fast, "tenant")

	slow, resp, err := (&websocket.Dialer{
		HandshakeTimeout: waitTimeout,
		NetDialContext:   smallReadBufferDial,
	}).Dial(e.url, map[string][]string{"Authorization": {"Bearer " + tokenA}})
	if err != nil {
		t.Fatalf("dial: %v (response %v)", err, status(resp))
	}
	t.Cleanup(func() { _ = slow.Close() })
	subscribe(t, slow, "tenant")
	var server *client
	for _, sc := range e.serverClients() {
		if sc.owner.tenant == e.tenantA {
			server = sc
		}
	}
	if server == nil {
		t.Fatal("server side of the slow client not found")
	}

	// slow reads nothing: the sockets fill, then its queue, and the hub drops it. 200 × 16 KiB
	// is far beyond what the shrunken buffers hold.
	payload := `{"pad":"` + strings.Repeat("x", 16<<10) + `"}`
	for range 200 {
		select {
		case <-server.done:
		default:
			e.publish(t, e.tenantA, uuid.New(), payload)
			continue
		}
		break
	}
	select {
	case <-server.done:
	case <-time.After(waitTimeout):
		t.Fatal("slow reader was not disconnected")
	}
	if server.closeCode != wsproto.CloseSlowReader {
		t.Fatalf("server close code %d, want %d", server.closeCode, wsproto.CloseSlowReader)
	}
	expectClose(t, slow, wsproto.CloseSlowReader)
	waitFor(t, "the disconnect to be counted", func() bool {
		return metric(t, e.reg, "phoenix_gateway_disconnects_total", disconnectSlowReader) == 1
	})

	// Other tenants' clients never waited for it.
	e.publish(t, e.tenantB, uuid.New(), `{"n":1}`)
	expectEvent(t, fast, "tenant", 1, `{"n":1}`)
}

func TestMetrics_CountMessagesAndFanOut(t *testing.T) {
	e := newEnv(t)
	c := e.dial(t, tokenA) // ping, pong
	subscribe(t, c, "tenant")
	e.publish(t, e.tenantA, uuid.New(), `{"n":1}`)
	expectEvent(t, c, "tenant", 1, `{"n":1}`)
	// The writer counts a frame after writing it; the next pong proves the event's count has
	// happened.
	send(t, c, `{"type":"ping"}`)
	expect(t, c, wsproto.Pong, "")
	checks := []struct {
		name string
		want float64
	}{
		{"phoenix_gateway_messages_received_total", 3},
		{"phoenix_gateway_messages_sent_total", 4},
		{"phoenix_gateway_events_received_total", 1},
		{"phoenix_gateway_fanout_seconds", 1},
		{"phoenix_gateway_connections", 1},
		{"phoenix_gateway_subscriptions", 1},
		{"phoenix_gateway_channels", 1},
		{"phoenix_gateway_redis_up", 1},
	}
	// The writer counts a frame after its write returns, which can be just after the client
	// read it: wait (bounded) for the counters to settle, with the same expectations.
	deadline := time.Now().Add(2 * time.Second)
	for _, ck := range checks {
		got := metric(t, e.reg, ck.name)
		for got != ck.want && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
			got = metric(t, e.reg, ck.name)
		}
		if got != ck.want {
			t.Errorf("%s = %v, want %v", ck.name, got, ck.want)
		}
	}
}

// fanOutTenants spreads the fan-out test's connections over this many tenants, so that each has
// its own Redis channel shared by many clients.
const fanOutTenants = 20

func TestFanOut_MoreThanAThousandConnectionsEachReceiveTheirEvents(t *testing.T) {
	const conns = 1200
	const workers = 50
	tenants := make([]uuid.UUID, fanOutTenants)
	tokens := tokenTable{}
	for i := range tenants {
		tenants[i] = uuid.New()
		tokens[fmt.Sprintf("fan-%d", i)] = Identity{Tenant: tenants[i], Subject: "fan", ReadExperiments: true}
	}
	e := newEnv(t, withTokens(tokens), withOptions(func(o *Options) { o.MaxConnectionsPerUser = conns }))

	clients := make([]*websocket.Conn, conns)
	forEach(t, conns, workers, func(i int) error {
		c, resp, err := (&websocket.Dialer{HandshakeTimeout: waitTimeout}).Dial(e.url,
			map[string][]string{"Authorization": {fmt.Sprintf("Bearer fan-%d", i%fanOutTenants)}})
		if err != nil {
			return fmt.Errorf("dial %d: %v (response %v)", i, err, status(resp))
		}
		clients[i] = c
		_ = c.SetWriteDeadline(time.Now().Add(waitTimeout))
		if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"subscribe","channel":"tenant"}`)); err != nil {
			return err
		}
		return readFrame(c, `{"type":"subscribed","channel":"tenant","seq":0}`)
	})
	t.Cleanup(func() {
		for _, c := range clients {
			if c != nil {
				_ = c.Close()
			}
		}
	})
	if got := metric(t, e.reg, "phoenix_gateway_connections"); got != conns {
		t.Fatalf("phoenix_gateway_connections = %v, want %d", got, conns)
	}
	e.gw.hub.subMu.RLock()
	channels := len(e.gw.hub.subs)
	e.gw.hub.subMu.RUnlock()
	if channels != fanOutTenants {
		t.Fatalf("hub holds %d Redis subscriptions, want one per tenant (%d)", channels, fanOutTenants)
	}

	for round := 1; round <= 3; round++ {
		for i, tenant := range tenants {
			e.publish(t, tenant, uuid.New(), fmt.Sprintf(`{"tenant":%d,"round":%d}`, i, round))
		}
		forEach(t, conns, workers, func(i int) error {
			return readFrame(clients[i], fmt.Sprintf(`{"type":"event","channel":"tenant","seq":%d,"data":{"tenant":%d,"round":%d}}`,
				round, i%fanOutTenants, round))
		})
	}
}

// forEach runs f for 0..n-1 on a bounded number of workers and fails the test with the first
// error.
func forEach(t *testing.T, n, workers int, f func(i int) error) {
	t.Helper()
	next := make(chan int)
	errs := make(chan error, workers)
	for range workers {
		go func() {
			var err error
			for i := range next {
				if err == nil {
					err = f(i)
				}
			}
			errs <- err
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	for range workers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// readFrame reads the next frame of c and compares it with want exactly.
func readFrame(c *websocket.Conn, want string) error {
	_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	_, data, err := c.ReadMessage()
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if string(data) != want {
		return fmt.Errorf("frame %s, want %s", data, want)
	}
	return nil
}
