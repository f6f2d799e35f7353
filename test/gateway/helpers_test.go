// Package gateway_test runs the WebSocket gateway as it is deployed — gateway.Service in the
// function runtime, real access tokens, PostgreSQL with row-level security, Redis — and checks the
// protocol contract of docs/websocket.md from a real client: authentication, tenant isolation,
// recovery, revocation, replicas, a Redis restart and SIGTERM.
package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/phoenixotel/phoenix/functions/gateway"
	"github.com/phoenixotel/phoenix/shared/auth"
	"github.com/phoenixotel/phoenix/shared/bootstrap"
	"github.com/phoenixotel/phoenix/shared/config"
	"github.com/phoenixotel/phoenix/shared/function"
	"github.com/phoenixotel/phoenix/shared/realtime"
	"github.com/phoenixotel/phoenix/shared/wsproto"
	"github.com/phoenixotel/phoenix/test/pgtest"
)

// waitTimeout bounds every wait; reaching it fails the test rather than hanging it.
const waitTimeout = 10 * time.Second

// redisURL is the shared test Redis.
func redisURL() string {
	if a := os.Getenv("REDIS_ADDR"); a != "" {
		return "redis://" + a + "/0"
	}
	return config.DefaultRedisURL
}

// world is what the gateways of one test share: a database, a key set and Redis.
type world struct {
	// db is the test's own database.
	db *pgtest.DB
	// keysFile holds the signing keys every gateway verifies with.
	keysFile string
	// redisURL is the Redis the gateways and the publisher use.
	redisURL string
	// res are the resources of the first gateway, used to seed and to revoke.
	res *bootstrap.Resources
	// issuer signs access tokens as the API does.
	issuer *auth.Issuer
	// pub publishes events as the controller does.
	pub *realtime.Publisher
}

// newWorld prepares a migrated database and a key set on redisURL.
func newWorld(t *testing.T, redisURL string) *world {
	t.Helper()
	w := &world{db: pgtest.Migrated(t), keysFile: filepath.Join(t.TempDir(), "keys.pem"), redisURL: redisURL}
	if _, err := auth.EnsureDevKeyFile(w.keysFile); err != nil {
		t.Fatal(err)
	}
	return w
}

// replica is one running gateway.
type replica struct {
	// base is its http:// address.
	base string
	// url is its ws:// /ws address.
	url string
	// stop ends it and returns what the runtime returned.
	stop func() error
}

// start runs a gateway replica with extra environment, until the test ends.
func (w *world) start(t *testing.T, env map[string]string) *replica {
	t.Helper()
	vars := map[string]string{
		"PHOENIX_DATABASE_URL":  w.db.AppURL,
		"PHOENIX_REDIS_URL":     w.redisURL,
		"PHOENIX_JWT_KEYS_FILE": w.keysFile,
		"PHOENIX_DRAIN_TIMEOUT": "5s",
	}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	res, err := bootstrap.Open(cfg, slog.New(slog.DiscardHandler), gateway.Needs())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(res.Close)
	if w.res == nil {
		w.res = res
		w.issuer, err = auth.NewIssuer(auth.IssuerConfig{Keys: res.Keys, Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience})
		if err != nil {
			t.Fatal(err)
		}
		w.pub = realtime.NewPublisher(res.Redis, gateway.ChannelPrefix)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan net.Addr, 1)
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- bootstrap.Run(ctx, res, gateway.Service, function.Options{
			Addr:      "127.0.0.1:0",
			Listening: func(a net.Addr) { addr <- a },
			Started:   func() { close(started) },
		})
	}()
	var r replica
	select {
	case a := <-addr:
		r.base = "http://" + a.String()
		r.url = "ws://" + a.String() + "/ws"
	case err := <-done:
		t.Fatalf("gateway did not start: %v", err)
	}
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("gateway did not start: %v", err)
	case <-time.After(waitTimeout):
		t.Fatal("gateway did not start in time")
	}
	stopped := false
	r.stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() { _ = r.stop() })
	waitFor(t, "readiness", func() bool { return readyz(r.base) == http.StatusOK })
	return &r
}

// readyz returns the status of GET /readyz, 0 if it cannot be reached.
func readyz(base string) int {
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// tenant creates a tenant.
func (w *world) tenant(t *testing.T) uuid.UUID {
	t.Helper()
	return pgtest.Tenant(t, w.res.Store, "t-"+uuid.NewString()[:8])
}

// experiment creates an experiment of tenant.
func (w *world) experiment(t *testing.T, tenant uuid.UUID) uuid.UUID {
	t.Helper()
	return pgtest.Experiment(t, w.res.Store, tenant)
}

// token issues an access token as the API does.
func (w *world) token(t *testing.T, g auth.Grant) string {
	t.Helper()
	if g.Subject == "" {
		g.Subject = uuid.NewString()
	}
	if g.SubjectType == "" && g.SessionID == "" {
		g.SessionID = uuid.NewString()
	}
	tok, _, err := w.issuer.Issue(g)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// viewer issues a viewer's token in tenant.
func (w *world) viewer(t *testing.T, tenant uuid.UUID) string {
	t.Helper()
	return w.token(t, auth.Grant{Tenant: tenant, Roles: []string{"viewer"}})
}

// publish publishes payload as the controller does.
//
// A channel without a counter gets one at 0 first, so the test can name its events 1, 2, 3: a
// channel whose counter exists goes on from it (a new numbering starts at Redis's clock, see
// shared/realtime; TestRedisRestart_MidStream publishes without this after Redis lost its memory).
func (w *world) publish(t *testing.T, tenant, experiment uuid.UUID, payload string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	for _, ch := range []realtime.Channel{{Tenant: tenant}, {Tenant: tenant, Experiment: experiment}} {
		if err := w.res.Redis.SetNX(ctx, ch.CounterKey(gateway.ChannelPrefix), 0, time.Hour).Err(); err != nil {
			t.Fatalf("number the channel from 1: %v", err)
		}
	}
	if err := w.pub.Publish(ctx, tenant, experiment, []byte(payload)); err != nil {
		t.Fatalf("publish: %v", err)
	}
}

// dial connects to url with token or fails the test.
func dial(t *testing.T, url, token string) *websocket.Conn {
	t.Helper()
	c, resp, err := handshake(url, http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		t.Fatalf("dial: %v (status %d)", err, resp)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// handshake dials url and returns the connection or the error with the response status.
func handshake(url string, header http.Header) (*websocket.Conn, int, error) {
	c, resp, err := (&websocket.Dialer{HandshakeTimeout: waitTimeout}).Dial(url, header)
	status := 0
	if resp != nil {
		status = resp.StatusCode
		_ = resp.Body.Close()
	}
	return c, status, err
}

// frame is any server frame as a client sees it.
type frame = wsproto.ServerFrame

// send writes a text frame.
func send(t *testing.T, c *websocket.Conn, text string) {
	t.Helper()
	_ = c.SetWriteDeadline(time.Now().Add(waitTimeout))
	if err := c.WriteMessage(websocket.TextMessage, []byte(text)); err != nil {
		t.Fatalf("send: %v", err)
	}
}

// recv reads the next frame.
func recv(t *testing.T, c *websocket.Conn) frame {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	_, data, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("frame %s: %v", data, err)
	}
	return f
}

// subscribe subscribes c to channel (with since if not nil) and returns the subscribed seq.
func subscribe(t *testing.T, c *websocket.Conn, channel string, since *uint64) uint64 {
	t.Helper()
	if since == nil {
		send(t, c, fmt.Sprintf(`{"type":"subscribe","channel":%q}`, channel))
	} else {
		send(t, c, fmt.Sprintf(`{"type":"subscribe","channel":%q,"since":%d}`, channel, *since))
	}
	f := recv(t, c)
	if f.Type != "subscribed" || f.Channel != channel || f.Seq == nil {
		t.Fatalf("subscribe %s: got %+v", channel, f)
	}
	return *f.Seq
}

// expectEvent reads the next frame and checks it is payload with seq on channel.
func expectEvent(t *testing.T, c *websocket.Conn, channel string, seq uint64, payload string) {
	t.Helper()
	f := recv(t, c)
	if f.Type != "event" || f.Channel != channel || f.Seq == nil || *f.Seq != seq || string(f.Data) != payload {
		t.Fatalf("got %+v data %s, want event %d on %s with %s", f, f.Data, seq, channel, payload)
	}
}

// expectClose reads until the connection ends and returns the close code.
func expectClose(t *testing.T, c *websocket.Conn, within time.Duration) int {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(within))
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) {
				t.Fatalf("connection ended without a close frame: %v", err)
			}
			return ce.Code
		}
	}
}

// waitFor polls cond until it holds, failing after waitTimeout. It is for state that changes
// asynchronously (readiness), bounded by the deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ptr returns a pointer to v.
func ptr(v uint64) *uint64 { return &v }

// freePort returns a loopback port nobody listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strings.TrimPrefix(ln.Addr().String(), "127.0.0.1:")
}

// pingRedis reports whether the Redis at url answers.
func pingRedis(url string) bool {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return false
	}
	opts.MaxRetries = -1
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return rdb.Ping(ctx).Err() == nil
}
