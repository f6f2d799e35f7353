package gateway

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
)

// Gateway is the WebSocket gateway of one process: it serves GET /ws and
// owns the hub and its Redis subscription. Mount it as an http.Handler and
// call Shutdown when the process stops; http.Server.Shutdown does not reach
// upgraded connections.
type Gateway struct {
	// opts are the resolved options.
	opts Options
	// hub tracks clients and subscriptions.
	hub *hub
	// origins decides which browser origins may connect.
	origins originPolicy
	// upgrader performs the handshake once serveWS has admitted it.
	upgrader websocket.Upgrader
	// mux routes GET /ws.
	mux *http.ServeMux
}

// New returns a Gateway ready to serve. It opens the shared Redis
// subscription, which lives until Shutdown.
func New(opts Options) (*Gateway, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	h := newHub(opts.MaxConnections, m, opts.Logger)
	h.broker = newRedisBroker(opts.Redis, h.dispatch)
	g := &Gateway{
		opts:    opts,
		hub:     h,
		origins: newOriginPolicy(opts.AllowedOrigins),
		upgrader: websocket.Upgrader{
			HandshakeTimeout: opts.WriteTimeout,
			Subprotocols:     []string{Subprotocol},
			// serveWS has checked the origin before authenticating.
			CheckOrigin: func(*http.Request) bool { return true },
			// Idle connections hold no write buffer.
			WriteBufferPool: &sync.Pool{},
		},
		mux: http.NewServeMux(),
	}
	g.mux.HandleFunc("GET /ws", g.serveWS)
	return g, nil
}

// ServeHTTP serves GET /ws; every other route is 404, other methods 405.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mux.ServeHTTP(w, r)
}

// serveWS admits a handshake, cheapest refusal first, upgrades it and
// serves the connection until it ends: 403 for a disallowed Origin, 401
// without a valid token (400 for a bearer subprotocol without phoenix.v1),
// 503 at the connection limit or during shutdown.
func (g *Gateway) serveWS(w http.ResponseWriter, r *http.Request) {
	log := g.opts.Logger.With("remote", r.RemoteAddr)
	if err := g.origins.check(r); err != nil {
		log.Info("gateway: refused handshake", "origin", r.Header.Get("Origin"), "error", err)
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	id, err := authenticate(g.opts.Authenticator, r)
	if err != nil {
		// The error may come from the verifier but never contains the token.
		log.Info("gateway: refused handshake", "error", err)
		if errors.Is(err, errNoSubprotocol) {
			http.Error(w, "the bearer subprotocol requires "+Subprotocol, http.StatusBadRequest)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="phoenix"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if err := g.hub.reserve(); err != nil {
		log.Warn("gateway: refused handshake", "error", err)
		w.Header().Set("Retry-After", "5")
		http.Error(w, "gateway unavailable", http.StatusServiceUnavailable)
		return
	}
	conn, err := g.upgrader.Upgrade(w, r, nil)
	if err != nil {
		// Upgrade has answered the request.
		g.hub.release()
		log.Info("gateway: upgrade failed", "error", err)
		return
	}
	c := newClient(uuid.NewString(), id, conn, g.hub, &g.opts)
	if err := g.hub.add(c); err != nil {
		// Shutdown began during the upgrade; no writer exists yet.
		c.cancel()
		msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down")
		_ = conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(g.opts.WriteTimeout))
		_ = conn.Close()
		return
	}
	c.log.Debug("gateway: connected")
	c.run()
	c.log.Debug("gateway: disconnected", "code", c.closeCode)
}

// Shutdown stops accepting connections (503), sends every client a close
// frame with 1001 (going away) and waits until their writers have finished
// or ctx is done, when it drops the remaining connections and returns
// ctx.Err(). Then it closes the Redis subscription. It does not close
// Options.Redis.
func (g *Gateway) Shutdown(ctx context.Context) error {
	return g.hub.shutdown(ctx)
}
