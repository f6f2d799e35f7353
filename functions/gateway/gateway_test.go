package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoenixotel/phoenix/shared/wsproto"
)

func TestHandshake_RefusesMissingOrInvalidToken(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		header http.Header
		want   int
	}{
		{"no token", http.Header{}, http.StatusUnauthorized},
		{"unknown bearer token", http.Header{"Authorization": {"Bearer nope"}}, http.StatusUnauthorized},
		{"not a bearer scheme", http.Header{"Authorization": {"Basic " + tokenA}}, http.StatusUnauthorized},
		{"empty bearer", http.Header{"Authorization": {"Bearer "}}, http.StatusUnauthorized},
		{"two authorization headers", http.Header{"Authorization": {"Bearer " + tokenA, "Bearer " + tokenB}}, http.StatusUnauthorized},
		{"unknown subprotocol token", http.Header{"Sec-WebSocket-Protocol": {Subprotocol + ", bearer.nope"}}, http.StatusUnauthorized},
		{"subprotocol without token", http.Header{"Sec-WebSocket-Protocol": {Subprotocol}}, http.StatusUnauthorized},
		{"bearer subprotocol without phoenix.v1", http.Header{"Sec-WebSocket-Protocol": {"bearer." + tokenA}}, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, resp, err := e.handshake(t, e.url, tt.header)
			if !errors.Is(err, websocket.ErrBadHandshake) {
				t.Fatalf("dial error %v, want ErrBadHandshake", err)
			}
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.want)
			}
			if resp.Header.Get("Upgrade") != "" {
				t.Fatalf("refused handshake carries Upgrade: %q", resp.Header.Get("Upgrade"))
			}
		})
	}
	if got := metric(t, e.reg, "phoenix_gateway_handshakes_refused_total", refusedUnauthorized); got != float64(len(tests)) {
		t.Fatalf("refused{unauthorized} = %v, want %d", got, len(tests))
	}
}

func TestHandshake_AcceptsTokenInSubprotocol(t *testing.T) {
	e := newEnv(t)
	for _, offer := range []string{Subprotocol + ", bearer." + tokenA, "bearer." + tokenA + ", " + Subprotocol} {
		c, resp, err := e.handshake(t, e.url, http.Header{"Sec-WebSocket-Protocol": {offer}})
		if err != nil {
			t.Fatalf("dial with %q: %v (response %v)", offer, err, status(resp))
		}
		if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != Subprotocol || c.Subprotocol() != Subprotocol {
			t.Fatalf("selected subprotocol %q, want %q", got, Subprotocol)
		}
		for name, values := range resp.Header {
			for _, v := range values {
				if strings.Contains(v, tokenA) {
					t.Fatalf("response header %s echoes the token: %q", name, v)
				}
			}
		}
		send(t, c, `{"type":"ping"}`)
		expect(t, c, wsproto.Pong, "")
	}
}

func TestHandshake_RefusesTokenInQueryString(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		query  string
		header http.Header
	}{
		{"access_token alone", "?access_token=" + tokenA, http.Header{}},
		{"token alone", "?token=" + tokenA, http.Header{}},
		{"query beside a valid header", "?access_token=" + tokenA, http.Header{"Authorization": {"Bearer " + tokenA}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, resp, err := e.handshake(t, e.url+tt.query, tt.header)
			if !errors.Is(err, websocket.ErrBadHandshake) || resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("dial error %v, status %v; want 401", err, status(resp))
			}
		})
	}
}

func TestHandshake_ChecksOrigin(t *testing.T) {
	tests := []struct {
		name    string
		allowed []string
		origin  string
		want    int
	}{
		{"no Origin header (CLI)", nil, "", http.StatusSwitchingProtocols},
		{"same origin by default", nil, "http://{host}", http.StatusSwitchingProtocols},
		{"other origin by default", nil, "https://evil.example", http.StatusForbidden},
		{"listed origin", []string{"https://app.example"}, "https://app.example", http.StatusSwitchingProtocols},
		{"listed origin, other case", []string{"https://App.Example"}, "https://app.example", http.StatusSwitchingProtocols},
		{"unlisted origin", []string{"https://app.example"}, "https://evil.example", http.StatusForbidden},
		{"same origin when a list is set", []string{"https://app.example"}, "http://{host}", http.StatusForbidden},
		{"wildcard", []string{"*"}, "https://anything.example", http.StatusSwitchingProtocols},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, withOptions(func(o *Options) { o.AllowedOrigins = tt.allowed }))
			// Origin is checked first: a forged page learns nothing about the token either.
			header := http.Header{"Authorization": {"Bearer nope"}}
			if tt.want == http.StatusSwitchingProtocols {
				header.Set("Authorization", "Bearer "+tokenA)
			}
			if tt.origin != "" {
				header.Set("Origin", strings.ReplaceAll(tt.origin, "{host}", strings.TrimPrefix(e.srv.URL, "http://")))
			}
			_, resp, err := e.handshake(t, e.url, header)
			if resp == nil {
				t.Fatalf("dial: %v", err)
			}
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d (error %v)", resp.StatusCode, tt.want, err)
			}
		})
	}
}

func TestHandshake_Limits(t *testing.T) {
	tenant := uuid.New()
	tokens := tokenTable{
		"u1":       {Tenant: tenant, Subject: "u1", ReadExperiments: true},
		"u2":       {Tenant: tenant, Subject: "u2", ReadExperiments: true},
		"u3":       {Tenant: tenant, Subject: "u3", ReadExperiments: true},
		"other":    {Tenant: uuid.New(), Subject: "o", ReadExperiments: true},
		"readless": {Tenant: tenant, Subject: "r"},
	}
	tests := []struct {
		name   string
		opts   func(*Options)
		tokens []string // dialled in order; the last one is the one checked
		want   int
		reason string
	}{
		{"replica cap", func(o *Options) { o.MaxConnections = 2 }, []string{"u1", "other", "u2"}, http.StatusServiceUnavailable, refusedCapacity},
		{"tenant cap", func(o *Options) { o.MaxConnectionsPerTenant = 2 }, []string{"u1", "u2", "other", "u3"}, http.StatusTooManyRequests, refusedTenantLimit},
		{"user cap", func(o *Options) { o.MaxConnectionsPerUser = 2 }, []string{"u1", "u1", "u2", "u1"}, http.StatusTooManyRequests, refusedUserLimit},
		{"handshake rate", func(o *Options) { o.ConnectRate = 2 }, []string{"u1", "u2", "u3"}, http.StatusServiceUnavailable, refusedRate},
		{"token without experiment:read", nil, []string{"readless"}, http.StatusForbidden, refusedForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, withTokens(tokens), withOptions(tt.opts))
			for _, tok := range tt.tokens[:len(tt.tokens)-1] {
				e.dial(t, tok)
			}
			_, resp, err := e.handshake(t, e.url, http.Header{"Authorization": {"Bearer " + tt.tokens[len(tt.tokens)-1]}})
			if !errors.Is(err, websocket.ErrBadHandshake) || resp.StatusCode != tt.want {
				t.Fatalf("last dial: error %v, status %v; want %d", err, status(resp), tt.want)
			}
			if tt.want != http.StatusForbidden && resp.Header.Get("Retry-After") == "" {
				t.Fatalf("%d without Retry-After", tt.want)
			}
			if got := metric(t, e.reg, "phoenix_gateway_handshakes_refused_total", tt.reason); got != 1 {
				t.Fatalf("refused{%s} = %v, want 1", tt.reason, got)
			}
			if got := metric(t, e.reg, "phoenix_gateway_connections"); got != float64(len(tt.tokens)-1) {
				t.Fatalf("phoenix_gateway_connections = %v, want %d", got, len(tt.tokens)-1)
			}
		})
	}
}

func TestHandshake_CapsFreeUpWhenConnectionsEnd(t *testing.T) {
	e := newEnv(t, withOptions(func(o *Options) { o.MaxConnectionsPerUser = 1 }))
	c := e.dial(t, tokenA)
	_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(waitTimeout))
	expectClose(t, c, websocket.CloseNormalClosure)
	waitFor(t, "the connection to leave the hub", func() bool { return len(e.serverClients()) == 0 })
	e.dial(t, tokenA)
	if got := metric(t, e.reg, "phoenix_gateway_disconnects_total", disconnectClient); got != 1 {
		t.Fatalf("disconnects{client_closed} = %v, want 1", got)
	}
}

func TestHandshake_UnavailableAuthenticatorIs503(t *testing.T) {
	e := newEnv(t, withOptions(func(o *Options) { o.Authenticator = failingAuthenticator{} }))
	_, resp, err := e.handshake(t, e.url, http.Header{"Authorization": {"Bearer " + tokenA}})
	if !errors.Is(err, websocket.ErrBadHandshake) || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial: error %v, status %v; want 503", err, status(resp))
	}
}

// failingAuthenticator cannot reach its revocation store.
type failingAuthenticator struct{}

// Authenticate implements Authenticator.
func (failingAuthenticator) Authenticate(context.Context, string) (Identity, error) {
	return Identity{}, fmt.Errorf("%w: redis down", ErrUnavailable)
}

func TestServeHTTP_OnlyServesGetWS(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/", http.StatusNotFound},
		{http.MethodGet, "/other", http.StatusNotFound},
		{http.MethodPost, "/ws", http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		req, err := http.NewRequest(tt.method, e.srv.URL+tt.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tokenA)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tt.method, tt.path, err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s %s: status %d, want %d", tt.method, tt.path, resp.StatusCode, tt.want)
		}
	}
}

func TestShutdown_ClosesClientsWithGoingAwaySpreadOverTheDrainWindow(t *testing.T) {
	const clients, window = 8, 800 * time.Millisecond
	e := newEnv(t, withOptions(func(o *Options) { o.DrainWindow = window }))
	conns := make([]*websocket.Conn, clients)
	for i := range conns {
		conns[i] = e.dial(t, tokenA)
	}
	subscribe(t, conns[0], "tenant")

	shutdown := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shutdown <- e.gw.Shutdown(ctx)
	}()
	// Reading lets the clients answer the close frame, which Shutdown awaits.
	closedAt := make(chan time.Time, clients)
	for _, c := range conns {
		go func() {
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					var ce *websocket.CloseError
					if errors.As(err, &ce) && ce.Code == websocket.CloseGoingAway {
						closedAt <- time.Now()
					} else {
						closedAt <- time.Time{}
					}
					return
				}
			}
		}()
	}
	var first, last time.Time
	for range clients {
		at := <-closedAt
		if at.IsZero() {
			t.Fatal("a client ended without close code 1001")
		}
		if first.IsZero() || at.Before(first) {
			first = at
		}
		if at.After(last) {
			last = at
		}
	}
	if err := <-shutdown; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	// Closes are spaced window/clients apart: the last comes (clients-1)/clients of the window
	// after the first.
	if spread := last.Sub(first); spread < window/2 {
		t.Fatalf("closes spread over %v, want about %v", spread, window*(clients-1)/clients)
	}
	if got := metric(t, e.reg, "phoenix_gateway_connections"); got != 0 {
		t.Fatalf("phoenix_gateway_connections = %v after Shutdown, want 0", got)
	}
	if got := metric(t, e.reg, "phoenix_gateway_disconnects_total", disconnectShutdown); got != clients {
		t.Fatalf("disconnects{shutdown} = %v, want %d", got, clients)
	}
	_, resp, err := e.handshake(t, e.url, http.Header{"Authorization": {"Bearer " + tokenA}})
	if !errors.Is(err, websocket.ErrBadHandshake) || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial after Shutdown: error %v, status %v; want 503", err, status(resp))
	}
	if e.gw.Ready(context.Background()) == nil {
		t.Fatal("Ready after Shutdown, want an error")
	}
}

func TestShutdown_DropsUnresponsiveClientsWhenContextExpires(t *testing.T) {
	e := newEnv(t)
	e.dial(t, tokenA) // never reads, so never answers the close frame
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.gw.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown with a done context = %v, want context.Canceled", err)
	}
}

func TestNew_RequiresItsDependencies(t *testing.T) {
	rdb := newRedis(t)
	x := &experimentTable{}
	tests := []struct {
		name string
		opts Options
	}{
		{"no Redis", Options{Authenticator: tokenTable{}, Experiments: x}},
		{"no Authenticator", Options{Redis: rdb, Experiments: x}},
		{"no Experiments", Options{Redis: rdb, Authenticator: tokenTable{}}},
		{"ping not shorter than pong wait", Options{Redis: rdb, Authenticator: tokenTable{}, Experiments: x, PingInterval: 2, PongWait: 1}},
		{"send queue of one", Options{Redis: rdb, Authenticator: tokenTable{}, Experiments: x, SendQueue: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.opts); err == nil {
				t.Fatal("New succeeded, want an error")
			}
		})
	}
}

func TestNew_FailsWhenMetricsAreAlreadyRegistered(t *testing.T) {
	rdb := newRedis(t)
	reg := prometheus.NewRegistry()
	opts := Options{Redis: rdb, Authenticator: tokenTable{}, Experiments: &experimentTable{}, Registerer: reg}
	gw, err := New(opts)
	if err != nil {
		t.Fatalf("first New: %v", err)
	}
	t.Cleanup(func() { _ = gw.Shutdown(context.Background()) })
	if _, err := New(opts); err == nil {
		t.Fatal("second New on the same registry succeeded, want an error")
	}
}
