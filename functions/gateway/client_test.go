package gateway

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
)

func TestSubscribe_TenantReceivesPublishedEvent(t *testing.T) {
	e := newEnv(t)
	c := e.dial(t, tokenA)
	subscribe(t, c, "tenant")

	payload := `{"specversion":"1.0","type":"experiment.started","data":{"n":1}}`
	e.publish(t, e.tenantA, uuid.New(), payload)
	expectEvent(t, c, "tenant", payload)
}

func TestSubscribe_ExperimentReceivesOnlyThatExperiment(t *testing.T) {
	e := newEnv(t)
	c := e.dial(t, tokenA)
	experiment := uuid.New()
	// Upper case is accepted; replies and events use the canonical form.
	send(t, c, `{"type":"subscribe","channel":"experiment:`+strings.ToUpper(experiment.String())+`"}`)
	expect(t, c, typeSubscribed, "experiment:"+experiment.String())

	e.publish(t, e.tenantA, uuid.New(), `{"n":1}`)
	e.publish(t, e.tenantA, experiment, `{"n":2}`)
	expectEvent(t, c, "experiment:"+experiment.String(), `{"n":2}`)
}

func TestSubscribe_TenantAndExperimentBothDeliver(t *testing.T) {
	e := newEnv(t)
	c := e.dial(t, tokenA)
	experiment := uuid.New()
	subscribe(t, c, "tenant")
	subscribe(t, c, "experiment:"+experiment.String())

	e.publish(t, e.tenantA, experiment, `{"n":1}`)
	expectEvent(t, c, "tenant", `{"n":1}`)
	expectEvent(t, c, "experiment:"+experiment.String(), `{"n":1}`)
}

func TestIsolation_TenantChannelNeverCarriesOtherTenantsEvents(t *testing.T) {
	e := newEnv(t)
	a := e.dial(t, tokenA)
	b := e.dial(t, tokenB)
	subscribe(t, a, "tenant")
	subscribe(t, b, "tenant")

	e.publish(t, e.tenantA, uuid.New(), `{"from":"a"}`)
	expectEvent(t, a, "tenant", `{"from":"a"}`)
	// Both events pass the gateway's one Redis connection in publish order,
	// so had A's reached B it would come first.
	e.publish(t, e.tenantB, uuid.New(), `{"from":"b"}`)
	expectEvent(t, b, "tenant", `{"from":"b"}`)
}

func TestIsolation_ExperimentChannelNeverCarriesOtherTenantsEvents(t *testing.T) {
	e := newEnv(t)
	a := e.dial(t, tokenA)
	b := e.dial(t, tokenB)
	experimentOfA := uuid.New()
	subscribe(t, a, "experiment:"+experimentOfA.String())
	// B knows A's experiment ID and asks for it: that names the experiment
	// within B's tenant, which has no such events.
	subscribe(t, b, "experiment:"+experimentOfA.String())

	e.publish(t, e.tenantA, experimentOfA, `{"from":"a"}`)
	expectEvent(t, a, "experiment:"+experimentOfA.String(), `{"from":"a"}`)
	e.publish(t, e.tenantB, experimentOfA, `{"from":"b"}`)
	expectEvent(t, b, "experiment:"+experimentOfA.String(), `{"from":"b"}`)
}

func TestUnsubscribe_StopsDelivery(t *testing.T) {
	e := newEnv(t)
	c := e.dial(t, tokenA)
	experiment := uuid.New()
	subscribe(t, c, "tenant")
	subscribe(t, c, "experiment:"+experiment.String())
	e.publish(t, e.tenantA, experiment, `{"n":1}`)
	expectEvent(t, c, "tenant", `{"n":1}`)
	expectEvent(t, c, "experiment:"+experiment.String(), `{"n":1}`)

	send(t, c, `{"type":"unsubscribe","channel":"tenant"}`)
	expect(t, c, typeUnsubscribed, "tenant")
	// The tenant copy is published before the experiment copy, so a tenant
	// event still delivered would arrive first.
	e.publish(t, e.tenantA, experiment, `{"n":2}`)
	expectEvent(t, c, "experiment:"+experiment.String(), `{"n":2}`)
}

func TestUnsubscribe_NotSubscribedIsAcknowledged(t *testing.T) {
	e := newEnv(t)
	c := e.dial(t, tokenA)
	send(t, c, `{"type":"unsubscribe","channel":"tenant"}`)
	expect(t, c, typeUnsubscribed, "tenant")
}

func TestSubscribe_TwiceIsAcknowledgedAndDeliversOnce(t *testing.T) {
	e := newEnv(t)
	c := e.dial(t, tokenA)
	subscribe(t, c, "tenant")
	subscribe(t, c, "tenant")
	e.publish(t, e.tenantA, uuid.New(), `{"n":1}`)
	expectEvent(t, c, "tenant", `{"n":1}`)
	send(t, c, `{"type":"ping"}`)
	expect(t, c, typePong, "")
}

func TestPing_AnswersPong(t *testing.T) {
	e := newEnv(t)
	c := e.dial(t, tokenA)
	for range 3 {
		send(t, c, `{"type":"ping"}`)
		expect(t, c, typePong, "")
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
		{"not JSON", websocket.TextMessage, `{"type":`, codeBadRequest},
		{"JSON but not an object", websocket.TextMessage, `["subscribe"]`, codeBadRequest},
		{"no type", websocket.TextMessage, `{"channel":"tenant"}`, codeBadRequest},
		{"binary frame", websocket.BinaryMessage, `{"type":"ping"}`, codeBadRequest},
		{"unknown type", websocket.TextMessage, `{"type":"publish","channel":"tenant"}`, codeUnknownType},
		{"unknown channel", websocket.TextMessage, `{"type":"subscribe","channel":"tenants"}`, codeInvalidChannel},
		{"no channel", websocket.TextMessage, `{"type":"subscribe"}`, codeInvalidChannel},
		{"experiment without ID", websocket.TextMessage, `{"type":"subscribe","channel":"experiment:"}`, codeInvalidChannel},
		{"experiment with bad UUID", websocket.TextMessage, `{"type":"subscribe","channel":"experiment:not-a-uuid"}`, codeInvalidChannel},
		{"experiment with unhyphenated UUID", websocket.TextMessage, `{"type":"subscribe","channel":"experiment:` + strings.ReplaceAll(uuid.NewString(), "-", "") + `"}`, codeInvalidChannel},
		{"other tenant's raw channel", websocket.TextMessage, `{"type":"subscribe","channel":"tenant:` + e.tenantB.String() + `"}`, codeInvalidChannel},
		{"unsubscribe bad channel", websocket.TextMessage, `{"type":"unsubscribe","channel":"*"}`, codeInvalidChannel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_ = c.SetWriteDeadline(time.Now().Add(waitTimeout))
			if err := c.WriteMessage(tt.typ, []byte(tt.frame)); err != nil {
				t.Fatalf("send: %v", err)
			}
			f := expect(t, c, typeError, "")
			if f.Code != tt.wantCode || f.Message == "" {
				t.Fatalf("error frame %+v, want code %q and a message", f, tt.wantCode)
			}
			send(t, c, `{"type":"ping"}`)
			expect(t, c, typePong, "")
		})
	}
	subscribe(t, c, "tenant")
	e.publish(t, e.tenantA, uuid.New(), `{"still":"working"}`)
	expectEvent(t, c, "tenant", `{"still":"working"}`)
}

func TestSubscribe_LimitGetsErrorFrame(t *testing.T) {
	e := newEnv(t, withOptions(func(o *Options) { o.MaxSubscriptions = 2 }))
	c := e.dial(t, tokenA)
	subscribe(t, c, "tenant")
	subscribe(t, c, "experiment:"+uuid.NewString())
	send(t, c, `{"type":"subscribe","channel":"experiment:`+uuid.NewString()+`"}`)
	if f := expect(t, c, typeError, ""); f.Code != codeTooManySubscriptions {
		t.Fatalf("error code %q, want %q", f.Code, codeTooManySubscriptions)
	}
	send(t, c, `{"type":"unsubscribe","channel":"tenant"}`)
	expect(t, c, typeUnsubscribed, "tenant")
	subscribe(t, c, "experiment:"+uuid.NewString())
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
	// The pings are read by a reader that has nothing else to read until the
	// final ping frame's pong.
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
}

func TestSlowConsumer_IsDisconnectedWithoutBlockingOthers(t *testing.T) {
	e := newEnv(t, withSmallSendBuffer(), withOptions(func(o *Options) { o.SendBuffer = 4 }))
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
		if sc.identity.Tenant == e.tenantA {
			server = sc
		}
	}
	if server == nil {
		t.Fatal("server side of the slow client not found")
	}

	// slow reads nothing: the sockets fill, then its send buffer, and the
	// hub drops it. 200 × 16 KiB is far beyond what the shrunken buffers hold.
	payload := `{"pad":"` + strings.Repeat("x", 16<<10) + `"}`
	for i := 0; i < 200; i++ {
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
		t.Fatal("slow consumer was not disconnected")
	}
	if server.closeCode != websocket.ClosePolicyViolation {
		t.Fatalf("server close code %d, want %d", server.closeCode, websocket.ClosePolicyViolation)
	}
	expectClose(t, slow, websocket.ClosePolicyViolation)
	if got := metric(t, e.reg, "phoenix_gateway_slow_consumers_total"); got != 1 {
		t.Fatalf("phoenix_gateway_slow_consumers_total = %v, want 1", got)
	}

	// Other tenants' clients never waited for it.
	e.publish(t, e.tenantB, uuid.New(), `{"n":1}`)
	expectEvent(t, fast, "tenant", `{"n":1}`)
}

func TestMetrics_CountMessagesSent(t *testing.T) {
	e := newEnv(t)
	c := e.dial(t, tokenA) // pong
	subscribe(t, c, "tenant")
	e.publish(t, e.tenantA, uuid.New(), `{"n":1}`)
	expectEvent(t, c, "tenant", `{"n":1}`)
	// The writer counts a frame after writing it; the next pong proves the
	// event's count has happened.
	send(t, c, `{"type":"ping"}`)
	expect(t, c, typePong, "")
	if got := metric(t, e.reg, "phoenix_gateway_messages_sent_total"); got < 3 {
		t.Fatalf("phoenix_gateway_messages_sent_total = %v, want at least 3", got)
	}
	if got := metric(t, e.reg, "phoenix_gateway_connections"); got != 1 {
		t.Fatalf("phoenix_gateway_connections = %v, want 1", got)
	}
}

// fanOutTenants spreads the fan-out test's connections over this many
// tenants, so that each has its own Redis channel shared by many clients.
const fanOutTenants = 20

func TestFanOut_ThousandConnectionsEachReceiveTheirEvent(t *testing.T) {
	const conns = 1000
	const workers = 50
	tenants := make([]uuid.UUID, fanOutTenants)
	tokens := tokenTable{}
	for i := range tenants {
		tenants[i] = uuid.New()
		tokens[fmt.Sprintf("fan-%d", i)] = Identity{Tenant: tenants[i], Subject: "fan"}
	}
	e := newEnv(t, withTokens(tokens))

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
		return readFrame(c, `{"type":"subscribed","channel":"tenant"}`)
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

	for i, tenant := range tenants {
		e.publish(t, tenant, uuid.New(), fmt.Sprintf(`{"tenant":%d}`, i))
	}
	forEach(t, conns, workers, func(i int) error {
		return readFrame(clients[i], fmt.Sprintf(`{"type":"event","channel":"tenant","data":{"tenant":%d}}`, i%fanOutTenants))
	})
}

// forEach runs f for 0..n-1 on a bounded number of workers and fails the
// test with the first error.
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
