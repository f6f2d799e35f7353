package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/phoenixotel/phoenix/shared/realtime"
	"github.com/phoenixotel/phoenix/shared/wsproto"
)

// Fixed tokens of the test Authenticator.
const (
	tokenA = "token-of-tenant-a"
	tokenB = "token-of-tenant-b"
)

// waitTimeout bounds every wait for a frame or a signal; reaching it fails the test rather than
// hanging it.
const waitTimeout = 5 * time.Second

// tokenTable is the test Authenticator: fixed bearer tokens mapped to identities. The real JWT
// verifier is wired in service.go and tested in test/gateway.
type tokenTable map[string]Identity

// Authenticate implements Authenticator.
func (tt tokenTable) Authenticate(_ context.Context, token string) (Identity, error) {
	id, ok := tt[token]
	if !ok {
		return Identity{}, errors.New("unknown token")
	}
	return id, nil
}

// experimentTable is the test Experiments: the experiments each tenant has.
type experimentTable struct {
	// mu guards known.
	mu sync.Mutex
	// known holds (tenant, experiment) pairs that exist.
	known map[[2]uuid.UUID]bool
	// err, if set, is every answer's error.
	err error
}

// ExperimentExists implements Experiments.
func (x *experimentTable) ExperimentExists(_ context.Context, tenant, experiment uuid.UUID) (bool, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.known[[2]uuid.UUID{tenant, experiment}], x.err
}

// env is a Gateway behind an httptest server, with its own Redis channel prefix so that test
// suites can share one Redis.
type env struct {
	// gw is the gateway under test.
	gw *Gateway
	// srv serves gw on a free loopback port.
	srv *httptest.Server
	// url is the ws:// URL of /ws.
	url string
	// prefix is the channel prefix.
	prefix string
	// pub publishes with the gateway's prefix.
	pub *realtime.Publisher
	// rdb is the test's Redis client.
	rdb *redis.Client
	// reg holds the gateway's metrics.
	reg *prometheus.Registry
	// experiments is the gateway's experiment table.
	experiments *experimentTable
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
	// like shares the prefix, tenants and experiments of another env (a second replica).
	like *env
	// redis is the client the gateway uses, if not the test's.
	redis *redis.Client
	// publishOptions adjust the env's publisher.
	publishOptions []realtime.Option
}

// envOption configures newEnv.
type envOption func(*envConfig)

// withOptions adjusts the gateway's options.
func withOptions(f func(*Options)) envOption { return func(c *envConfig) { c.opts = f } }

// withTokens adds tokens to the test Authenticator.
func withTokens(tt tokenTable) envOption { return func(c *envConfig) { c.tokens = tt } }

// withSmallSendBuffer makes server sockets fill up after a few kilobytes, so that a client that
// does not read blocks its writer quickly.
func withSmallSendBuffer() envOption { return func(c *envConfig) { c.smallSendBuffer = true } }

// replicaOf makes the env a second gateway replica beside e: same channels, tenants and tokens.
func replicaOf(e *env) envOption { return func(c *envConfig) { c.like = e } }

// withRedis makes the gateway use rdb (a proxied connection, say) instead of the test's client.
func withRedis(rdb *redis.Client) envOption { return func(c *envConfig) { c.redis = rdb } }

// withPublisher adjusts the env's publisher.
func withPublisher(o ...realtime.Option) envOption {
	return func(c *envConfig) { c.publishOptions = o }
}

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
	return connectRedis(t, redisAddr())
}

// connectRedis connects to the Redis at addr or fails the test.
func connectRedis(t *testing.T, addr string) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis at %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// newEnv starts a gateway on a random channel prefix; cleanup shuts it down and deletes the
// prefix's keys.
func newEnv(t *testing.T, options ...envOption) *env {
	t.Helper()
	var cfg envConfig
	for _, o := range options {
		o(&cfg)
	}
	e := &env{rdb: newRedis(t), reg: prometheus.NewRegistry()}
	if cfg.like != nil {
		e.prefix, e.tenantA, e.tenantB, e.experiments = cfg.like.prefix, cfg.like.tenantA, cfg.like.tenantB, cfg.like.experiments
	} else {
		e.prefix, e.tenantA, e.tenantB = "phoenix-test-"+uuid.NewString(), uuid.New(), uuid.New()
		e.experiments = &experimentTable{known: map[[2]uuid.UUID]bool{}}
		t.Cleanup(func() { deleteKeys(e.rdb, e.prefix) })
	}
	tokens := tokenTable{
		tokenA: {Tenant: e.tenantA, Subject: "alice", ReadExperiments: true},
		tokenB: {Tenant: e.tenantB, Subject: "bob", ReadExperiments: true},
	}
	for k, v := range cfg.tokens {
		tokens[k] = v
	}
	rdb := e.rdb
	if cfg.redis != nil {
		rdb = cfg.redis
	}
	opts := Options{
		Redis:         rdb,
		ChannelPrefix: e.prefix,
		Authenticator: tokens,
		Experiments:   e.experiments,
		Registerer:    e.reg,
		// Tests connect and send faster than any client should.
		ConnectRate: -1,
		MessageRate: -1,
	}
	if cfg.opts != nil {
		cfg.opts(&opts)
	}
	gw, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.gw = gw
	e.pub = realtime.NewPublisher(e.rdb, e.prefix, cfg.publishOptions...)
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
	waitFor(t, "the gateway's pub/sub connection", func() bool { return gw.Ready(context.Background()) == nil })
	return e
}

// deleteKeys removes a test prefix's counters and histories.
func deleteKeys(rdb *redis.Client, prefix string) {
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, prefix+":*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if len(keys) > 0 {
		rdb.Del(ctx, keys...)
	}
}

// experiment registers a new experiment of tenant and returns its id.
func (e *env) experiment(tenant uuid.UUID) uuid.UUID {
	id := uuid.New()
	e.experiments.mu.Lock()
	e.experiments.known[[2]uuid.UUID{tenant, id}] = true
	e.experiments.mu.Unlock()
	return id
}

// waitFor polls cond until it holds, failing the test after waitTimeout. It is for state that
// changes asynchronously (a connection being re-established), bounded by the deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// smallSendBufferListener shrinks the kernel send buffer of accepted connections.
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

// handshake dials /ws with header and returns the connection or the error and the response.
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

// dial connects with token in the Authorization header or fails the test. A ping round trip
// makes sure the server side is running, not just upgraded.
func (e *env) dial(t *testing.T, token string) *websocket.Conn {
	t.Helper()
	c, resp, err := e.handshake(t, e.url, http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		t.Fatalf("dial: %v (response %v)", err, status(resp))
	}
	send(t, c, `{"type":"ping"}`)
	expect(t, c, wsproto.Pong, "")
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
type frame = wsproto.ServerFrame

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

// expectError reads the next frame and checks that it is an error with code about channel.
func expectError(t *testing.T, c *websocket.Conn, code, channel string) frame {
	t.Helper()
	f := expect(t, c, wsproto.Error, channel)
	if f.Code != code || f.Message == "" {
		t.Fatalf("error frame %+v, want code %q and a message", f, code)
	}
	return f
}

// subscribe subscribes c to channel, waits for the acknowledgement and returns its seq.
func subscribe(t *testing.T, c *websocket.Conn, channel string) uint64 {
	t.Helper()
	send(t, c, `{"type":"subscribe","channel":"`+channel+`"}`)
	return subscribed(t, c, channel)
}

// subscribeSince subscribes c to channel with since and returns the acknowledged seq.
func subscribeSince(t *testing.T, c *websocket.Conn, channel string, since uint64) uint64 {
	t.Helper()
	send(t, c, fmt.Sprintf(`{"type":"subscribe","channel":%q,"since":%d}`, channel, since))
	return subscribed(t, c, channel)
}

// subscribed reads the acknowledgement of channel and returns its seq.
func subscribed(t *testing.T, c *websocket.Conn, channel string) uint64 {
	t.Helper()
	f := expect(t, c, wsproto.Subscribed, channel)
	if f.Seq == nil {
		t.Fatalf("subscribed frame without seq: %+v", f)
	}
	return *f.Seq
}

// expectEvent reads the next frame and checks that it is payload on channel with seq.
func expectEvent(t *testing.T, c *websocket.Conn, channel string, seq uint64, payload string) {
	t.Helper()
	f := expect(t, c, wsproto.Event, channel)
	if f.Seq == nil || *f.Seq != seq || string(f.Data) != payload {
		t.Fatalf("event seq %v data %s, want seq %d data %s", f.Seq, f.Data, seq, payload)
	}
}

// publish publishes payload for tenant and experiment. A channel that has no counter yet gets
// one at 0 first, so its events are numbered 1, 2, 3 and the tests can name them: a channel whose
// counter exists goes on from it. A new numbering's start (Redis's clock, so that numbers never
// repeat after Redis loses its memory) is shared/realtime's test, and TestRedisMemoryLoss's here.
func (e *env) publish(t *testing.T, tenant, experiment uuid.UUID, payload string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	for _, ch := range []realtime.Channel{{Tenant: tenant}, {Tenant: tenant, Experiment: experiment}} {
		if err := e.rdb.SetNX(ctx, ch.CounterKey(e.prefix), 0, time.Hour).Err(); err != nil {
			t.Fatalf("number the channel from 1: %v", err)
		}
	}
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

// metric returns the value of the gauge, counter or histogram count name (with label values, if
// any) in reg.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if !hasLabels(m, labels) {
				continue
			}
			switch {
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount())
			default:
				return m.GetCounter().GetValue()
			}
		}
		t.Fatalf("metric %s has no series %v", name, labels)
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

// hasLabels reports whether m carries every value in values.
func hasLabels(m *dto.Metric, values []string) bool {
	for _, v := range values {
		found := false
		for _, l := range m.GetLabel() {
			found = found || l.GetValue() == v
		}
		if !found {
			return false
		}
	}
	return true
}

// serverClients returns the gateway's connected clients.
func (e *env) serverClients() []*client { return e.gw.hub.conns.list(uuid.Nil) }

// smallReadBufferDial dials with a shrunken kernel receive buffer, for a client that should stop
// accepting data after a few kilobytes.
func smallReadBufferDial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4 << 10)
	}
	return c, err
}

// proxy is a TCP proxy in front of Redis that a test can cut, to break the gateway's connection
// while Redis itself stays up for everyone else.
type proxy struct {
	// ln accepts the gateway's connections.
	ln net.Listener
	// target is Redis's address.
	target string
	// mu guards conns and cut.
	mu sync.Mutex
	// conns are the open connections, both sides.
	conns []net.Conn
	// cut makes the proxy refuse connections.
	cut bool
}

// newProxy listens on a free loopback port and forwards to target until the test ends.
func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	t.Cleanup(func() {
		_ = ln.Close()
		p.sever()
	})
	go p.serve()
	return p
}

// addr is where the proxy listens.
func (p *proxy) addr() string { return p.ln.Addr().String() }

// serve accepts and forwards.
func (p *proxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			_ = in.Close()
			continue
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			_ = in.Close()
			continue
		}
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(out, in); _ = out.Close() }()
		go func() { _, _ = io.Copy(in, out); _ = in.Close() }()
	}
}

// setCut closes every connection and refuses new ones (true), or accepts again (false).
func (p *proxy) setCut(cut bool) {
	p.mu.Lock()
	p.cut = cut
	p.mu.Unlock()
	if cut {
		p.sever()
	}
}

// sever closes every open connection.
func (p *proxy) sever() {
	p.mu.Lock()
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}
