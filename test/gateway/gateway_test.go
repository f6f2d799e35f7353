package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"github.com/phoenixotel/phoenix/functions/gateway"
	"github.com/phoenixotel/phoenix/shared/auth"
	"github.com/phoenixotel/phoenix/shared/wsproto"
	"github.com/phoenixotel/phoenix/test/bintest"
)

func TestHandshake_RealTokens(t *testing.T) {
	w := newWorld(t, redisURL())
	r := w.start(t, nil)
	tenant := w.tenant(t)
	other := newWorld(t, redisURL()) // another key set: its tokens are forgeries here
	other.start(t, nil)
	tests := []struct {
		name   string
		header http.Header
		want   int
	}{
		{"viewer", bearer(w.viewer(t, tenant)), http.StatusSwitchingProtocols},
		{"viewer in the subprotocol", http.Header{"Sec-WebSocket-Protocol": {gateway.Subprotocol + ", bearer." + w.viewer(t, tenant)}}, http.StatusSwitchingProtocols},
		{"service account with experiment:read", bearer(w.token(t, auth.Grant{Tenant: tenant, SubjectType: auth.SubjectServiceAccount,
			Permissions: []string{"experiment:read"}})), http.StatusSwitchingProtocols},
		{"no token", http.Header{}, http.StatusUnauthorized},
		{"token signed by another key", bearer(other.viewer(t, tenant)), http.StatusUnauthorized},
		{"token in the query string", nil, http.StatusUnauthorized},
		{"platform administrator (cannot read experiments)", bearer(w.token(t, auth.Grant{Tenant: tenant, Roles: []string{"platform-admin"}})), http.StatusForbidden},
		{"service account without experiment:read", bearer(w.token(t, auth.Grant{Tenant: tenant, SubjectType: auth.SubjectServiceAccount,
			Permissions: []string{"experiment:create"}})), http.StatusForbidden},
		{"disallowed origin", http.Header{"Authorization": {"Bearer " + w.viewer(t, tenant)}, "Origin": {"https://evil.example"}}, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := r.url
			if tt.header == nil {
				url += "?access_token=" + w.viewer(t, tenant)
			}
			c, status, err := handshake(url, tt.header)
			if c != nil {
				_ = c.Close()
			}
			if tt.want == http.StatusSwitchingProtocols && err != nil {
				t.Fatalf("dial: %v (status %d)", err, status)
			}
			if status != tt.want {
				t.Fatalf("status %d, want %d", status, tt.want)
			}
		})
	}
}

// bearer is an Authorization header for token.
func bearer(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

func TestIsolation_ExperimentsOfTheCallersTenantOnly(t *testing.T) {
	w := newWorld(t, redisURL())
	r := w.start(t, nil)
	acme, globex := w.tenant(t), w.tenant(t)
	own := w.experiment(t, acme)
	a, g := dial(t, r.url, w.viewer(t, acme)), dial(t, r.url, w.viewer(t, globex))

	subscribe(t, a, "experiment:"+own.String(), nil)
	subscribe(t, a, "tenant", nil)
	subscribe(t, g, "tenant", nil)
	for _, id := range []uuid.UUID{own, uuid.New()} {
		// Globex names Acme's experiment, and one that exists nowhere: both refused alike.
		send(t, g, `{"type":"subscribe","channel":"experiment:`+id.String()+`"}`)
		if f := recv(t, g); f.Type != "error" || f.Code != "not_found" || f.Channel != "experiment:"+id.String() {
			t.Fatalf("subscribe to experiment %s from another tenant: %+v", id, f)
		}
	}
	w.publish(t, acme, own, `{"of":"acme"}`)
	expectEvent(t, a, "tenant", 1, `{"of":"acme"}`)
	expectEvent(t, a, "experiment:"+own.String(), 1, `{"of":"acme"}`)
	w.publish(t, globex, uuid.New(), `{"of":"globex"}`)
	// Had Acme's event reached Globex it would come first.
	expectEvent(t, g, "tenant", 1, `{"of":"globex"}`)
}

func TestRecovery_AReconnectingClientGetsWhatItMissed(t *testing.T) {
	w := newWorld(t, redisURL())
	r := w.start(t, nil)
	tenant := w.tenant(t)
	exp := w.experiment(t, tenant)
	channel := "experiment:" + exp.String()
	token := w.viewer(t, tenant)
	c := dial(t, r.url, token)
	subscribe(t, c, channel, nil)
	w.publish(t, tenant, exp, `{"n":1}`)
	expectEvent(t, c, channel, 1, `{"n":1}`)
	_ = c.Close()
	for i := 2; i <= 5; i++ {
		w.publish(t, tenant, exp, fmt.Sprintf(`{"n":%d}`, i))
	}
	again := dial(t, r.url, token)
	if seq := subscribe(t, again, channel, ptr(1)); seq != 5 {
		t.Fatalf("subscribed seq %d, want 5", seq)
	}
	for i := 2; i <= 5; i++ {
		expectEvent(t, again, channel, uint64(i), fmt.Sprintf(`{"n":%d}`, i))
	}
}

func TestRevocation_ClosesLiveSocketsWithinTwoSeconds(t *testing.T) {
	w := newWorld(t, redisURL())
	r := w.start(t, nil)
	tests := []struct {
		name   string
		revoke func(ctx context.Context, tenant uuid.UUID, p auth.Principal) error
	}{
		{"tenant suspended", func(ctx context.Context, tenant uuid.UUID, _ auth.Principal) error {
			return w.res.Revocation.RevokeTenantBefore(ctx, tenant, time.Now())
		}},
		{"user disabled", func(ctx context.Context, tenant uuid.UUID, p auth.Principal) error {
			return w.res.Revocation.RevokeSubjectBefore(ctx, tenant, p.Subject, time.Now())
		}},
		{"logout", func(ctx context.Context, _ uuid.UUID, p auth.Principal) error {
			return w.res.Revocation.RevokeToken(ctx, p.TokenID, p.ExpiresAt)
		}},
		{"session ended", func(ctx context.Context, tenant uuid.UUID, p auth.Principal) error {
			return w.res.Revocation.RevokeSession(ctx, tenant, p.SessionID)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tenant := w.tenant(t)
			token := w.viewer(t, tenant)
			p, err := w.res.Verifier.Verify(context.Background(), token)
			if err != nil {
				t.Fatal(err)
			}
			c := dial(t, r.url, token)
			subscribe(t, c, "tenant", nil)
			bystander := dial(t, r.url, w.viewer(t, w.tenant(t)))
			// "Valid after" markers compare in milliseconds with the token's issue time.
			time.Sleep(5 * time.Millisecond)
			start := time.Now()
			if err := tt.revoke(context.Background(), tenant, p); err != nil {
				t.Fatal(err)
			}
			if code := expectClose(t, c, 3*time.Second); code != wsproto.CloseTokenRevoked {
				t.Fatalf("close code %d, want %d", code, wsproto.CloseTokenRevoked)
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Fatalf("closed %v after the revocation, want within 2 s", took)
			}
			send(t, bystander, `{"type":"ping"}`)
			if f := recv(t, bystander); f.Type != "pong" {
				t.Fatalf("bystander got %+v", f)
			}
		})
	}
}

func TestReplicas_BothDeliverAnEventPublishedOnce(t *testing.T) {
	w := newWorld(t, redisURL())
	one, two := w.start(t, nil), w.start(t, nil)
	tenant := w.tenant(t)
	a, b := dial(t, one.url, w.viewer(t, tenant)), dial(t, two.url, w.viewer(t, tenant))
	subscribe(t, a, "tenant", nil)
	subscribe(t, b, "tenant", nil)
	w.publish(t, tenant, uuid.New(), `{"once":true}`)
	expectEvent(t, a, "tenant", 1, `{"once":true}`)
	expectEvent(t, b, "tenant", 1, `{"once":true}`)
}

// TestRedisRestart_MidStream restarts the gateways' Redis under a connected client: with its
// append-only file the stream goes on without a gap; without persistence (Redis comes back
// empty) the client is told history_unavailable, then receives what follows — never silence.
func TestRedisRestart_MidStream(t *testing.T) {
	for _, persistent := range []bool{true, false} {
		t.Run(map[bool]string{true: "with its append-only file", false: "without persistence"}[persistent], func(t *testing.T) {
			rs := startRedis(t, persistent)
			w := newWorld(t, rs.url)
			r := w.start(t, map[string]string{"PHOENIX_WS_RECHECK_INTERVAL": "200ms"})
			tenant := w.tenant(t)
			exp := w.experiment(t, tenant)
			channel := "experiment:" + exp.String()
			token := w.viewer(t, tenant)
			live := dial(t, r.url, token)
			subscribe(t, live, channel, nil)
			for i := 1; i <= 3; i++ {
				w.publish(t, tenant, exp, fmt.Sprintf(`{"n":%d}`, i))
				expectEvent(t, live, channel, uint64(i), fmt.Sprintf(`{"n":%d}`, i))
			}

			// A logout before the restart: PostgreSQL keeps it, so it holds through a Redis that
			// comes back empty (before, such a token was accepted again).
			loggedOut := w.viewer(t, tenant)
			lp, err := w.res.Verifier.Verify(context.Background(), loggedOut)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.res.Revocation.RevokeToken(context.Background(), lp.TokenID, lp.ExpiresAt); err != nil {
				t.Fatal(err)
			}

			rs.stop(t)
			waitFor(t, "readiness to fail while Redis is down", func() bool { return readyz(r.base) == http.StatusServiceUnavailable })
			rs.restart(t)
			waitFor(t, "readiness to return", func() bool { return readyz(r.base) == http.StatusOK })
			if c, status, err := handshake(r.url, http.Header{"Authorization": {"Bearer " + loggedOut}}); err == nil || status != http.StatusUnauthorized {
				if c != nil {
					_ = c.Close()
				}
				t.Fatalf("a logged-out token after the restart: status %d, %v; want 401", status, err)
			}

			if persistent {
				// The socket stayed open (failed revocation checks keep it) and the stream goes on.
				for i := 4; i <= 6; i++ {
					w.publish(t, tenant, exp, fmt.Sprintf(`{"n":%d}`, i))
				}
				for i := 4; i <= 6; i++ {
					expectEvent(t, live, channel, uint64(i), fmt.Sprintf(`{"n":%d}`, i))
				}
				// A client that lost its connection too recovers with since.
				again := dial(t, r.url, token)
				subscribe(t, again, channel, ptr(2))
				for i := 3; i <= 6; i++ {
					expectEvent(t, again, channel, uint64(i), fmt.Sprintf(`{"n":%d}`, i))
				}
				return
			}
			// Redis came back empty: the client connected throughout is told at once.
			if f := recv(t, live); f.Type != "error" || f.Code != "history_unavailable" || f.Channel != channel {
				t.Fatalf("after Redis lost its memory got %+v, want history_unavailable on %s", f, channel)
			}
			// What the publisher sends next is numbered above everything before, and arrives.
			if err := w.pub.Publish(context.Background(), tenant, exp, []byte(`{"n":"after"}`)); err != nil {
				t.Fatal(err)
			}
			f := recv(t, live)
			if f.Type != "event" || f.Seq == nil || *f.Seq <= 3 || string(f.Data) != `{"n":"after"}` {
				t.Fatalf("got %+v data %s, want the new event numbered above 3", f, f.Data)
			}
			// A client that reconnects with a number from before is told too, not replayed the
			// new numbering as if it followed.
			again := dial(t, r.url, token)
			send(t, again, fmt.Sprintf(`{"type":"subscribe","channel":%q,"since":2}`, channel))
			if g := recv(t, again); g.Type != "error" || g.Code != "history_unavailable" {
				t.Fatalf("since 2 after the loss got %+v, want history_unavailable", g)
			}
			if g := recv(t, again); g.Type != "subscribed" || g.Seq == nil || *g.Seq != *f.Seq {
				t.Fatalf("got %+v, want subscribed at the new latest %d", g, *f.Seq)
			}
		})
	}
}

// redisServer is a private redis-server, so a test can restart it without disturbing anyone.
type redisServer struct {
	// url reaches it.
	url string
	// args start it.
	args []string
	// cmd is the running process.
	cmd *exec.Cmd
}

// startRedis starts a private redis-server on a free port, with an append-only file when
// persistent (a restart keeps its data), else with no persistence at all (a restart loses it).
func startRedis(t *testing.T, persistent bool) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is needed to restart Redis mid-stream: %v", err)
	}
	port := freePort(t)
	rs := &redisServer{url: "redis://127.0.0.1:" + port + "/0",
		args: []string{bin, "--port", port, "--bind", "127.0.0.1", "--dir", t.TempDir(), "--appendonly", map[bool]string{true: "yes", false: "no"}[persistent],
			"--appendfsync", "always", "--save", ""}}
	rs.restart(t)
	t.Cleanup(func() {
		if rs.cmd != nil {
			_ = rs.cmd.Process.Kill()
			_ = rs.cmd.Wait()
		}
	})
	return rs
}

// restart starts the server again on the same port and data.
func (rs *redisServer) restart(t *testing.T) {
	t.Helper()
	rs.cmd = exec.Command(rs.args[0], rs.args[1:]...)
	if err := rs.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "redis-server to answer", func() bool { return pingRedis(rs.url) })
}

// stop shuts the server down the way an operator's restart does (SIGTERM: flush and exit).
func (rs *redisServer) stop(t *testing.T) {
	t.Helper()
	_ = rs.cmd.Process.Signal(syscall.SIGTERM)
	_ = rs.cmd.Wait()
	rs.cmd = nil
}

func TestSIGTERM_StopsAcceptingAndClosesConnectionsOverTheDrainWindow(t *testing.T) {
	w := newWorld(t, redisURL())
	w.start(t, nil) // for tokens and seeding
	bin := filepath.Join(t.TempDir(), "gateway")
	if err := bintest.Build(bin, "functions/gateway/cmd"); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(bintest.Env(), "PORT=0", "PHOENIX_DATABASE_URL="+w.db.AppURL, "PHOENIX_REDIS_URL="+redisURL(),
		"PHOENIX_JWT_KEYS_FILE="+w.keysFile, "PHOENIX_DRAIN_TIMEOUT=6s", "PHOENIX_WS_DRAIN_WINDOW=1s")
	a, exited := bintest.Start(t, cmd, waitTimeout)
	base := "http://" + a
	waitFor(t, "readiness", func() bool { return readyz(base) == http.StatusOK })

	const clients = 6
	tenant := w.tenant(t)
	url := strings.Replace(base, "http://", "ws://", 1) + "/ws"
	conns := make([]*websocket.Conn, clients)
	for i := range conns {
		conns[i] = dial(t, url, w.viewer(t, tenant))
		subscribe(t, conns[i], "tenant", nil)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	closed := make(chan time.Time, clients)
	codes := make(chan int, clients)
	for _, c := range conns {
		go func() {
			_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					code := 0
					if ce, ok := err.(*websocket.CloseError); ok {
						code = ce.Code
					}
					codes <- code
					closed <- time.Now()
					return
				}
			}
		}()
	}
	var first, last time.Time
	for range clients {
		if code := <-codes; code != websocket.CloseGoingAway {
			t.Fatalf("close code %d, want 1001", code)
		}
		at := <-closed
		if first.IsZero() || at.Before(first) {
			first = at
		}
		if at.After(last) {
			last = at
		}
		if _, status, err := handshake(url, bearer(w.viewer(t, tenant))); err == nil {
			t.Fatal("a new connection was accepted while draining")
		} else if status != 0 && status != http.StatusServiceUnavailable {
			t.Fatalf("a new connection while draining got %d, want refused or 503", status)
		}
	}
	if spread := last.Sub(first); spread < 400*time.Millisecond {
		t.Fatalf("connections closed within %v, want spread over the 1 s drain window", spread)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("the gateway exited with %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("the gateway did not exit after draining")
	}
}
