package gateway

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/phoenixotel/phoenix/shared/realtime"
)

// readBufferSize is the per-connection read buffer. Client frames are small (at most
// MaxMessageSize, read through it in pieces; gorilla/websocket needs at least 125 bytes for a
// control frame), and every idle connection holds one.
const readBufferSize = 256

// Gateway is the WebSocket gateway of one process: it serves GET /ws and owns the hub and its
// Redis subscription. Mount it as an http.Handler and call Shutdown when the process stops;
// http.Server.Shutdown does not reach upgraded connections.
type Gateway struct {
	// opts are the resolved options.
	opts Options
	// hub tracks clients and subscriptions.
	hub *hub
	// origins decides which browser origins may connect.
	origins originPolicy
	// connects limits the rate of handshakes.
	connects *rate.Limiter
	// upgrader performs the handshake once serveWS has admitted it.
	upgrader websocket.Upgrader
	// ids numbers connections for logs.
	ids atomic.Uint64
	// mux routes GET /ws.
	mux *http.ServeMux
}

// New returns a Gateway ready to serve. It opens the shared Redis subscription, which lives
// until Shutdown, and starts re-checking credentials.
func New(opts Options) (*Gateway, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	m.capacity(opts.MaxConnections) // the configured cap, defaults filled in
	g := &Gateway{
		opts:     opts,
		origins:  newOriginPolicy(opts.AllowedOrigins),
		connects: newLimiter(opts.ConnectRate),
		mux:      http.NewServeMux(),
	}
	g.hub = newHub(&g.opts, m)
	g.hub.broker = newRedisBroker(opts.Redis, realtime.RevocationChannel(opts.ChannelPrefix), redisHandlers{
		message:      g.hub.dispatch,
		control:      g.hub.sweeper.notice,
		resubscribed: g.hub.resubscribed,
	}, opts.RedisHealthInterval, m, opts.Logger)
	go g.hub.sweeper.loop()
	g.upgrader = websocket.Upgrader{
		HandshakeTimeout: opts.WriteTimeout,
		ReadBufferSize:   readBufferSize,
		Subprotocols:     []string{Subprotocol},
		// serveWS has checked the origin before authenticating.
		CheckOrigin: func(*http.Request) bool { return true },
		// Idle connections hold no write buffer.
		WriteBufferPool: &sync.Pool{},
	}
	g.mux.HandleFunc("GET /ws", g.serveWS)
	return g, nil
}

// ServeHTTP serves GET /ws; every other route is 404, other methods 405.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mux.ServeHTTP(w, r)
}

// Ready reports whether the gateway can deliver events: its Redis pub/sub connection is
// subscribed. While it is being re-established, readiness fails so that new clients go elsewhere.
func (g *Gateway) Ready(context.Context) error {
	if !g.hub.broker.up() {
		return errors.New("redis pub/sub is not subscribed")
	}
	return nil
}

// serveWS admits a handshake, cheapest refusal first, then upgrades it and hands the connection
// to its two goroutines: 403 for a disallowed Origin, 503 over the handshake rate or while
// shutting down, 401 without a valid token (400 for a bearer subprotocol without phoenix.v1),
// 403 for a token that may not read experiments, 503 at the replica's connection cap and 429 at
// the tenant's or the user's.
func (g *Gateway) serveWS(w http.ResponseWriter, r *http.Request) {
	log := g.opts.Logger.With("remote", r.RemoteAddr)
	refuse := func(reason string, status int, text string, retryAfter time.Duration) {
		g.hub.metrics.refused.WithLabelValues(reason).Inc()
		if retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(retryAfter.Round(time.Second)/time.Second)))
		}
		http.Error(w, text, status)
	}
	if err := g.origins.check(r); err != nil {
		log.Info("gateway: refused handshake", "origin", r.Header.Get("Origin"), "error", err)
		refuse(refusedOrigin, http.StatusForbidden, "origin not allowed", 0)
		return
	}
	if now := time.Now(); !g.connects.AllowN(now, 1) {
		refuse(refusedRate, http.StatusServiceUnavailable, "too many new connections, retry shortly", retryAfter(g.connects, now))
		return
	}
	token, err := bearerToken(r)
	var id Identity
	if err == nil {
		id, err = authenticate(r.Context(), g.opts.Authenticator, token)
	}
	switch {
	case errors.Is(err, errNoSubprotocol):
		refuse(refusedUnauthorized, http.StatusBadRequest, "the bearer subprotocol requires "+Subprotocol, 0)
		return
	case errors.Is(err, ErrUnavailable):
		log.Warn("gateway: cannot check credentials", "error", err)
		refuse(refusedUnavailable, http.StatusServiceUnavailable, "cannot check credentials now, retry shortly", 5*time.Second)
		return
	case err != nil:
		// The error may come from the verifier but never contains the token.
		log.Info("gateway: refused handshake", "error", err)
		w.Header().Set("WWW-Authenticate", `Bearer realm="phoenix"`)
		refuse(refusedUnauthorized, http.StatusUnauthorized, "unauthorized", 0)
		return
	case !id.ReadExperiments:
		refuse(refusedForbidden, http.StatusForbidden, "the token may not read experiments", 0)
		return
	}
	if err := g.hub.conns.reserve(id); err != nil {
		switch {
		case errors.Is(err, errTenantLimit):
			refuse(refusedTenantLimit, http.StatusTooManyRequests, err.Error(), 5*time.Second)
		case errors.Is(err, errUserLimit):
			refuse(refusedUserLimit, http.StatusTooManyRequests, err.Error(), 5*time.Second)
		case errors.Is(err, errShuttingDown):
			refuse(refusedShuttingDown, http.StatusServiceUnavailable, "shutting down", time.Second)
		default:
			log.Warn("gateway: refused handshake", "error", err)
			refuse(refusedCapacity, http.StatusServiceUnavailable, "gateway at capacity", 5*time.Second)
		}
		return
	}
	conn, err := g.upgrader.Upgrade(w, r, nil)
	if err != nil {
		// Upgrade has answered the request.
		g.hub.conns.release(id)
		log.Info("gateway: upgrade failed", "error", err)
		return
	}
	c := newClient(g.ids.Add(1), id, conn, g.hub)
	if err := g.hub.conns.add(c); err != nil {
		// Shutdown began during the upgrade.
		c.refuse(websocket.CloseGoingAway, "server shutting down", disconnectShutdown)
		return
	}
	c.start()
}

// Shutdown stops accepting connections (503), closes every client with 1001 (going away) spread
// over the drain window, and waits until their writers have finished or ctx is done, when it
// drops the remaining connections and returns ctx.Err(). Then it closes the Redis subscription.
// It does not close Options.Redis.
func (g *Gateway) Shutdown(ctx context.Context) error {
	return g.hub.shutdown(ctx)
}
