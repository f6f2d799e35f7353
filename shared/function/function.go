// Package function is the runtime every Phoenix deployable runs in, in the shape of Knative
// Functions: a function provides a CloudEvent handler and/or an http.Handler; this package owns
// everything around them — listening on $PORT, decoding CloudEvents (binary and structured mode),
// mapping handler errors to the status codes Knative's delivery expects, liveness and readiness,
// /metrics, request-scoped structured logs, and graceful shutdown on SIGTERM.
//
// It must not make network calls before it listens: Knative counts cold-start time from exec to
// ready, so dependency checks run after the listener is up and gate readiness instead.
package function

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/phoenixotel/phoenix/shared/logging"
)

// Handler handles one CloudEvent. It returns the reply event (or nil) and an error; wrap an
// error with Invalid when retrying cannot help.
type Handler interface {
	Handle(ctx context.Context, e event.Event) (*event.Event, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, e event.Event) (*event.Event, error)

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, e event.Event) (*event.Event, error) {
	return f(ctx, e)
}

// Service is one deployable as the runtime sees it.
type Service struct {
	Name     string                          // function name, in logs and metric labels
	Events   Handler                         // CloudEvents POSTed to "/"; nil for HTTP-only functions
	HTTP     http.Handler                    // every other route; nil for event-only functions
	Start    func(ctx context.Context) error // runs once after listening (e.g. verify the DB role); an error stops the function
	Ready    func(ctx context.Context) error // readiness check on every probe (e.g. ping the DB); nil means always ready
	Stop     func(ctx context.Context) error // drains what the HTTP server cannot (hijacked WebSockets); runs with the server's drain
	Registry *prometheus.Registry            // where the function's own metrics live; nil creates one
}

// Options are the runtime's knobs; the zero value is production-ready.
type Options struct {
	Addr         string        // listen address; default ":$PORT" resolved by the caller, else ":8080"
	MaxEventSize int64         // bytes accepted per event; default 1 MiB
	DrainTimeout time.Duration // how long in-flight requests may finish after SIGTERM; default 20 s
	Logger       *slog.Logger  // default discards
	// Listening, if set, receives the bound address once the listener is up (tests, phoenix dev).
	Listening func(addr net.Addr)
	// Listener, if set, is served instead of listening on Addr: phoenix dev binds every
	// function's port first, so each knows the others' addresses before any starts.
	Listener net.Listener
	// Started, if set, is called once Start has succeeded and readiness can pass.
	Started func()
}

// Error carries the HTTP status an event handler's failure should produce.
type Error struct {
	Status int   // HTTP status answered to the sender
	Err    error // the cause, logged, shown to the sender only for 4xx
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Invalid marks err as the sender's fault: 400, which Knative does not retry.
func Invalid(err error) error { return &Error{Status: http.StatusBadRequest, Err: err} }

// Serve runs svc until ctx is cancelled, then drains. It returns nil after a clean shutdown.
func Serve(ctx context.Context, svc Service, opts Options) error {
	if opts.Addr == "" {
		opts.Addr = ":8080"
	}
	if opts.MaxEventSize <= 0 {
		opts.MaxEventSize = 1 << 20
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = 20 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if svc.Registry == nil {
		svc.Registry = prometheus.NewRegistry()
	}
	rt := newRuntime(svc, opts)

	ln := opts.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", opts.Addr); err != nil {
			return fmt.Errorf("listen on %s: %w", opts.Addr, err)
		}
	}
	srv := &http.Server{
		Handler:           rt.routes(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return logging.WithContext(context.Background(), opts.Logger) },
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	opts.Logger.Info("listening", "addr", ln.Addr().String())
	if opts.Listening != nil {
		opts.Listening(ln.Addr())
	}

	started := make(chan error, 1)
	go func() {
		if svc.Start == nil {
			started <- nil
			return
		}
		started <- svc.Start(ctx)
	}()

	var runErr error
	for done := false; !done; {
		select {
		case err := <-started:
			started = nil
			if err != nil {
				if ctx.Err() == nil { // not merely interrupted by shutdown
					runErr = fmt.Errorf("%s refused to start: %w", svc.Name, err)
				}
				done = true
				break
			}
			rt.started.Store(true)
			opts.Logger.Info("ready")
			if opts.Started != nil {
				opts.Started()
			}
		case err := <-served:
			return fmt.Errorf("serve: %w", err)
		case <-ctx.Done():
			done = true
		}
	}

	// Fail readiness first so the load balancer stops sending, then drain what is in flight.
	rt.draining.Store(true)
	drainCtx, cancel := context.WithTimeout(context.Background(), opts.DrainTimeout)
	defer cancel()
	stopped := make(chan error, 1)
	go func() {
		if svc.Stop == nil {
			stopped <- nil
			return
		}
		stopped <- svc.Stop(drainCtx)
	}()
	if err := errors.Join(srv.Shutdown(drainCtx), <-stopped); err != nil {
		return errors.Join(runErr, fmt.Errorf("drain: %w", err))
	}
	opts.Logger.Info("stopped")
	return runErr
}

// runtime holds one running function's routes and state.
type runtime struct {
	svc      Service
	opts     Options
	started  atomic.Bool // Start succeeded; readiness may pass
	draining atomic.Bool // shutdown began; readiness fails
	metrics  *metrics    // RED metrics of requests and events
}

func newRuntime(svc Service, opts Options) *runtime {
	return &runtime{svc: svc, opts: opts, metrics: newMetrics(svc.Registry, svc.Name)}
}

func (rt *runtime) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", rt.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(rt.svc.Registry, promhttp.HandlerOpts{Registry: rt.svc.Registry}))
	if rt.svc.Events != nil {
		mux.Handle("POST /{$}", rt.instrument("event", http.HandlerFunc(rt.serveEvent)))
	}
	if rt.svc.HTTP != nil {
		mux.Handle("/", rt.instrument("http", rt.svc.HTTP))
	}
	return withRequestLog(mux)
}

func (rt *runtime) readyz(w http.ResponseWriter, r *http.Request) {
	switch {
	case rt.draining.Load():
		rt.metrics.ready.Set(0)
		http.Error(w, "draining", http.StatusServiceUnavailable)
		return
	case !rt.started.Load():
		rt.metrics.ready.Set(0)
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	if rt.svc.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := rt.svc.Ready(ctx); err != nil {
			rt.metrics.ready.Set(0)
			logging.FromContext(r.Context()).Warn("not ready", "err", err)
			http.Error(w, "dependency unavailable", http.StatusServiceUnavailable)
			return
		}
	}
	rt.metrics.ready.Set(1)
	_, _ = w.Write([]byte("ok\n"))
}

// logRequest logs one answered request with its status and duration.
func logRequest(r *http.Request, status int, elapsed time.Duration) {
	logging.FromContext(r.Context()).Info("request", "method", r.Method, "path", r.URL.Path,
		"status", status, "duration_ms", float64(elapsed.Microseconds())/1000)
}

// statusWriter remembers the status code written through it.
type statusWriter struct {
	http.ResponseWriter
	status int // the status sent, 200 if WriteHeader was never called
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack hands the connection to a WebSocket upgrader; gorilla/websocket asserts http.Hijacker
// directly rather than going through http.ResponseController.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.status = http.StatusSwitchingProtocols
	return http.NewResponseController(w.ResponseWriter).Hijack()
}
