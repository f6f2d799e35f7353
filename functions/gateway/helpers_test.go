package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/phoenixotel/phoenix/shared/realtime"
)

// Fixed tokens of the test Authenticator.
const (
	tokenA = "token-of-tenant-a"
	tokenB = "token-of-tenant-b"
)

// waitTimeout bounds every wait for a frame or a signal; reaching it fails
// the test rather than hanging it.
const waitTimeout = 5 * time.Second

// tokenTable is the test Authenticator: fixed bearer tokens mapped to
// identities. The real JWT verifier is tested in its own package.
type tokenTable map[string]Identity

// Authenticate implements Authenticator the way the JWT adapter does: from
// the Authorization header only.
func (tt tokenTable) Authenticate(r *http.Request) (Identity, error) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return Identity{}, errors.New("no bearer token")
	}
	id, ok := tt[token]
	if !ok {
		return Identity{}, errors.New("unknown token")
	}
	return id, nil
}

// env is a Gateway behind an httptest server, with its own Redis channel
// prefix so that test suites can share one Redis.
type env struct {
	// gw is the gateway under test.
	gw *Gateway
	// srv serves gw on a free loopback port.
	srv *httptest.Server
	// url is the ws:// URL of /ws.
	url string
	// pub publishes with the gateway's prefix.
	pub *realtime.Publisher
	// rdb is the test's Redis client.
	rdb *redis.Client
	// reg holds the gateway's metrics.
	reg *prometheus.Registry
	// tenantA and tenantB are the tenants of tokenA and tokenB.
	tenantA, tenantB uuid.UUID
}

// envConfig collects envOptions.
type envConfig struct {
	// opts adjusts the gateway's options.
	opts func(*Options)
	// tokens are added to tokenA and tokenB.
	tokens tokenTable
	// smallSendBuffer shrinks the server's socket send buffers.
	smallSendBuffer bool
}

// envOption configures newEnv.
type envOption func(*envConfig)

// withOptions adjusts the gateway's options.
func withOptions(f func(*Options)) envOption { return func(c *envConfig) { c.opts = f } }

// withTokens adds tokens to the test Authenticator.
func withTokens(tt tokenTable) envOption { return func(c *envConfig) { c.tokens = tt } }

// withSmallSendBuffer makes server sockets fill up after a few kilobytes, so
// that a client that does not read blocks its writer quickly.
func withSmallSendBuffer() envOption { return func(c *envConfig) { c.smallSendBuffer = true } }

// redisAddr is the Redis the tests use.
func redisAddr() string {
	if a := os.Getenv("REDIS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// newRedis connects to the test Redis or fails the test.
func newRedis(t *testing.T) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr()})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis at %s: %v", redisAddr(), err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// newEnv starts a gateway on a random channel prefix; cleanup shuts it down.
func newEnv(t *testing.T, options ...envOption) *env {
	t.Helper()
	var cfg envConfig
	for _, o := range options {
		o(&cfg)
	}
	e := &env{rdb: newRedis(t), reg: prometheus.NewRegistry(), tenantA: uuid.New(), tenantB: uuid.New()}
	tokens := tokenTable{
		tokenA: {Tenant: e.tenantA, Subject: "alice"},
		tokenB: {Tenant: e.tenantB, Subject: "bob"},
	}
	for k, v := range cfg.tokens {
		tokens[k] = v
	}
	prefix := "phoenix-test-" + uuid.NewString()
	opts := Options{
		Redis:         e.rdb,
		ChannelPrefix: prefix,
		Authenticator: tokens,
		Registerer:    e.reg,
	}
	if cfg.opts != nil {
		cfg.opts(&opts)
	}
	gw, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.gw = gw
	e.pub = realtime.NewPublisher(e.rdb, prefix)
	e.srv = httptest.NewUnstartedServer(gw)
	if cfg.smallSendBuffer {
		e.srv.Listener = smallSendBufferListener{e.srv.Listener}
	}
	e.srv.Start()
	e.url = "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/ws"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := gw.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		e.srv.Close()
	})
	return e
}

// smallSendBufferListener shrinks the kernel send buffer of accepted
// connections.
type smallSendBufferListener struct {
	// Listener is the httptest server's listener.
	net.Listener
}

// Accept implements net.Listener.
func (l smallSendBufferListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4 << 10)
	}
	return c, err
}

// handshake dials /ws with header and returns the connection or the error
// and the response.
func (e *env) handshake(t *testing.T, url string, header http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: waitTimeout}
	c, resp, err := d.Dial(url, header)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if c != nil {
		t.Cleanup(func() { _ = c.Close() })
	}
	return c, resp, err
}

// dial connects with token in the Authorization header or fails the test.
// A ping round trip makes sure the server side is running, not just upgraded.
func (e *env) dial(t *testing.T, token string) *websocket.Conn {
	t.Helper()
	c, resp, err := e.handshake(t, e.url, http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		t.Fatalf("dial: %v (response %v)", err, status(resp))
	}
	send(t, c, `{"type":"ping"}`)
	expect(t, c, typePong, "")
	return c
}

// status renders a handshake response's status for failure messages.
func status(resp *http.Response) any {
	if resp == nil {
		return "none"
	}
	return resp.StatusCode
}

// frame is any server frame as a client sees it.
type frame struct {
	Type    string          `json:"type"`
	Channel string          `json:"channel"`
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

// send writes a text frame.
func send(t *testing.T, c *websocket.Conn, text string) {
	t.Helper()
	_ = c.SetWriteDeadline(time.Now().Add(waitTimeout))
	if err := c.WriteMessage(websocket.TextMessage, []byte(text)); err != nil {
		t.Fatalf("send %s: %v", text, err)
	}
}

// recv reads the next server frame, failing after waitTimeout.
func recv(t *testing.T, c *websocket.Conn) frame {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	typ, data, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read frame: %v", err)
	}
	if typ != websocket.TextMessage {
		t.Fatalf("frame type %d, want text", typ)
	}
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("frame %s is not JSON: %v", data, err)
	}
	return f
}

// expect reads the next frame and checks its type and channel.
func expect(t *testing.T, c *websocket.Conn, typ, channel string) frame {
	t.Helper()
	f := recv(t, c)
	if f.Type != typ || f.Channel != channel {
		t.Fatalf("got frame %+v (data %s), want type %q channel %q", f, f.Data, typ, channel)
	}
	return f
}

// subscribe subscribes c to channel and waits for the acknowledgement.
func subscribe(t *testing.T, c *websocket.Conn, channel string) {
	t.Helper()
	send(t, c, `{"type":"subscribe","channel":"`+channel+`"}`)
	expect(t, c, typeSubscribed, channel)
}

// expectEvent reads the next frame and checks that it is payload on channel.
func expectEvent(t *testing.T, c *websocket.Conn, channel, payload string) {
	t.Helper()
	f := expect(t, c, typeEvent, channel)
	if string(f.Data) != payload {
		t.Fatalf("event data %s, want %s", f.Data, payload)
	}
}

// publish publishes payload for tenant and experiment.
func (e *env) publish(t *testing.T, tenant, experiment uuid.UUID, payload string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := e.pub.Publish(ctx, tenant, experiment, []byte(payload)); err != nil {
		t.Fatalf("publish: %v", err)
	}
}

// expectClose reads until the connection ends and checks the close code.
func expectClose(t *testing.T, c *websocket.Conn, code int) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != code {
			t.Fatalf("connection ended with %v, want close code %d", err, code)
		}
		return
	}
}

// metric returns the value of the gauge or counter name in reg.
func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		m := f.GetMetric()[0]
		if g := m.GetGauge(); g != nil {
			return g.GetValue()
		}
		return m.GetCounter().GetValue()
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

// serverClients returns the gateway's connected clients.
func (e *env) serverClients() []*client {
	e.gw.hub.connMu.Lock()
	defer e.gw.hub.connMu.Unlock()
	cs := make([]*client, 0, len(e.gw.hub.clients))
	for c := range e.gw.hub.clients {
		cs = append(cs, c)
	}
	return cs
}

// smallReadBufferDial dials with a shrunken kernel receive buffer, for a
// client that should stop accepting data after a few kilobytes.
func smallReadBufferDial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4 << 10)
	}
	return c, err
}
