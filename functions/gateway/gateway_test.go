package gateway

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
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
}

func TestHandshake_AcceptsTokenInSubprotocol(t *testing.T) {
	e := newEnv(t)
	header := http.Header{"Sec-WebSocket-Protocol": {Subprotocol + ", bearer." + tokenA}}
	c, resp, err := e.handshake(t, e.url, header)
	if err != nil {
		t.Fatalf("dial: %v (response %v)", err, status(resp))
	}
	if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != Subprotocol {
		t.Fatalf("selected subprotocol header %q, want %q", got, Subprotocol)
	}
	if c.Subprotocol() != Subprotocol {
		t.Fatalf("Subprotocol() = %q, want %q", c.Subprotocol(), Subprotocol)
	}
	for name, values := range resp.Header {
		for _, v := range values {
			if strings.Contains(v, tokenA) {
				t.Fatalf("response header %s echoes the token: %q", name, v)
			}
		}
	}
	send(t, c, `{"type":"ping"}`)
	expect(t, c, typePong, "")
}

func TestHandshake_AcceptsTokenInSubprotocolInEitherOrder(t *testing.T) {
	e := newEnv(t)
	header := http.Header{"Sec-WebSocket-Protocol": {"bearer." + tokenA + ", " + Subprotocol}}
	c, resp, err := e.handshake(t, e.url, header)
	if err != nil {
		t.Fatalf("dial: %v (response %v)", err, status(resp))
	}
	if c.Subprotocol() != Subprotocol {
		t.Fatalf("Subprotocol() = %q, want %q", c.Subprotocol(), Subprotocol)
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
			header := http.Header{"Authorization": {"Bearer " + tokenA}}
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

func TestHandshake_RefusesBeyondMaxConnections(t *testing.T) {
	e := newEnv(t, withOptions(func(o *Options) { o.MaxConnections = 2 }))
	e.dial(t, tokenA)
	e.dial(t, tokenB)
	_, resp, err := e.handshake(t, e.url, http.Header{"Authorization": {"Bearer " + tokenA}})
	if !errors.Is(err, websocket.ErrBadHandshake) || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("third dial: error %v, status %v; want 503", err, status(resp))
	}
	if got := metric(t, e.reg, "phoenix_gateway_connections"); got != 2 {
		t.Fatalf("phoenix_gateway_connections = %v, want 2", got)
	}
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

func TestShutdown_ClosesClientsWithGoingAway(t *testing.T) {
	e := newEnv(t)
	a := e.dial(t, tokenA)
	b := e.dial(t, tokenB)
	subscribe(t, a, "tenant")

	shutdown := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		shutdown <- e.gw.Shutdown(ctx)
	}()
	// Reading lets the clients answer the close frame, which Shutdown awaits.
	expectClose(t, a, websocket.CloseGoingAway)
	expectClose(t, b, websocket.CloseGoingAway)
	if err := <-shutdown; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if got := metric(t, e.reg, "phoenix_gateway_connections"); got != 0 {
		t.Fatalf("phoenix_gateway_connections = %v after Shutdown, want 0", got)
	}
	_, resp, err := e.handshake(t, e.url, http.Header{"Authorization": {"Bearer " + tokenA}})
	if !errors.Is(err, websocket.ErrBadHandshake) || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial after Shutdown: error %v, status %v; want 503", err, status(resp))
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

func TestNew_RequiresRedisAndAuthenticator(t *testing.T) {
	rdb := newRedis(t)
	tests := []struct {
		name string
		opts Options
	}{
		{"no Redis", Options{Authenticator: tokenTable{}}},
		{"no Authenticator", Options{Redis: rdb}},
		{"ping not shorter than pong wait", Options{Redis: rdb, Authenticator: tokenTable{}, PingInterval: 2, PongWait: 1}},
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
	gw, err := New(Options{Redis: rdb, Authenticator: tokenTable{}, Registerer: reg})
	if err != nil {
		t.Fatalf("first New: %v", err)
	}
	t.Cleanup(func() { _ = gw.Shutdown(context.Background()) })
	if _, err := New(Options{Redis: rdb, Authenticator: tokenTable{}, Registerer: reg}); err == nil {
		t.Fatal("second New on the same registry succeeded, want an error")
	}
}
