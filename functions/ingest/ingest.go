// Package ingest is the HTTP function through which Phoenix measures both pipelines itself: every
// variant's collector sends its output and its own telemetry here over OTLP/HTTP (POST
// /v1/metrics, authenticated by the variant's ingest token, see shared/ingesttoken), and the
// function counts, per variant and per KPI window, the distinct series, datapoints, payload bytes,
// critical-process coverage and the collectors' CPU and memory. It trusts neither pipeline's own
// claims: what arrives is what is measured.
//
// It is stateless: the open windows live in Redis, where every replica adds to them atomically,
// and any replica closes a window once Redis time has passed its end — storing it in PostgreSQL
// (kpi_windows, and kpi_samples for the analyzer) and publishing it for the gateway. Windows are
// closed by a loop in every replica (every CloseEvery) and on PingSource ticks delivered as
// CloudEvents, so a replica dying at any point loses nothing: another one closes the window, and
// closing twice has one effect.
package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/phoenixotel/phoenix/shared/bootstrap"
	"github.com/phoenixotel/phoenix/shared/emit"
	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/function"
	"github.com/phoenixotel/phoenix/shared/logging"
	"github.com/phoenixotel/phoenix/shared/realtime"
	"github.com/phoenixotel/phoenix/shared/store"
)

// Needs are the resources the ingest function uses.
func Needs() bootstrap.Needs { return bootstrap.Needs{Store: true, Redis: true} }

// Publisher fans closed windows out to the gateway (shared/realtime).
type Publisher interface {
	Publish(ctx context.Context, tenant, experiment uuid.UUID, payload []byte) error
}

// Sender sends closed windows to the broker, for the analyzer's live looks.
type Sender interface {
	Send(ctx context.Context, e event.Event) error
}

// Options configure the function; zero values take the defaults named.
type Options struct {
	Window time.Duration // KPI window length; default 15 s (config PHOENIX_KPI_WINDOW)
	// Lateness is how late data may arrive and still count in the window of its own time (the
	// scrape's); a window closes this long after its end. 0 assigns data by arrival (config
	// PHOENIX_KPI_LATENESS, by default one window).
	Lateness    time.Duration
	Prices      experiment.Prices // the cost model (config PHOENIX_PRICE_PER_*)
	MaxBody     int64             // bytes a request body may have on the wire; default 4 MiB
	MaxDecoded  int64             // bytes a gzip body may inflate to; default 16 MiB
	ReadTimeout time.Duration     // time a request body may take to arrive; default 10 s
	MaxInFlight int               // requests read and decoded at once; default 2 × GOMAXPROCS, at least 4
	QueueWait   time.Duration     // how long a request waits for a slot before 503; default 2 s
	RetryAfter  time.Duration     // Retry-After of a 503; default 1 s
	ScopeTTL    time.Duration     // how long what a token grants is cached; default 2 s
	CloseEvery  time.Duration     // how often each replica closes due windows; default 1 s
	CloseLease  time.Duration     // how long one replica may take to close a window before another may; default 30 s
	Keep        time.Duration     // how long an unclosed window's data lives in Redis; default 24 h
	Dedupe      time.Duration     // how long a request is remembered so a retry of it counts nothing; default 5 min
	Prefix      string            // Redis key prefix; default "phoenix:ingest"
	Deployment  string            // names this deployment's pending windows in Redis (see DeploymentID); "" for one deployment per Redis
	Sender      Sender            // where closed windows go for the analyzer's live looks; nil sends nowhere
	Now         func() time.Time  // clock for token expiry; nil means time.Now
}

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Window, 15*time.Second)
	def(&o.ReadTimeout, 10*time.Second)
	def(&o.QueueWait, 2*time.Second)
	def(&o.RetryAfter, time.Second)
	def(&o.ScopeTTL, 2*time.Second)
	def(&o.CloseEvery, time.Second)
	def(&o.CloseLease, 30*time.Second)
	def(&o.Keep, 24*time.Hour)
	def(&o.Dedupe, 5*time.Minute)
	if o.MaxBody <= 0 {
		o.MaxBody = 4 << 20
	}
	if o.MaxDecoded <= 0 {
		o.MaxDecoded = 16 << 20
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = max(4, 2*runtime.GOMAXPROCS(0))
	}
	if o.Prefix == "" {
		o.Prefix = "phoenix:ingest"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Ingest receives collectors' OTLP and closes KPI windows.
type Ingest struct {
	o         Options       // settings, defaults applied
	store     *store.Store  // tokens in, closed windows out
	windows   *windows      // open windows in Redis
	scopes    *scopes       // what tokens grant, cached briefly
	publisher Publisher     // closed windows to the gateway; nil publishes nothing
	sender    Sender        // closed windows to the broker (the analyzer); nil sends nothing
	slots     chan struct{} // one per request being read and decoded
	scratch   sync.Pool     // *scratch for measure
	bufs      sync.Pool     // *bytes.Buffer for bodies
	gzips     sync.Pool     // *gzip.Reader
	metrics   *metrics      // datapoints, bytes, refusals and closed windows
}

// New wires the function.
func New(st *store.Store, rdb *redis.Client, pub Publisher, o Options) *Ingest {
	o = o.withDefaults()
	in := &Ingest{o: o, store: st, publisher: pub, sender: o.Sender, slots: make(chan struct{}, o.MaxInFlight), metrics: newMetrics(),
		windows: &windows{rdb: rdb, prefix: o.Prefix, length: o.Window, late: o.Lateness, keep: o.Keep, dedupe: o.Dedupe, deployment: o.Deployment},
		scopes:  &scopes{store: st, ttl: o.ScopeTTL, max: 10000, now: o.Now, byKey: map[string]*cachedGrant{}}}
	in.scratch.New = func() any { return newScratch() }
	in.bufs.New = func() any { return new(bytes.Buffer) }
	return in
}

// Service is the ingest function as a deployable.
func Service(res *bootstrap.Resources) (function.Service, error) {
	c := res.Config
	o := Options{Window: c.KPIWindow, Lateness: c.KPILateness, Prices: c.Prices,
		Deployment: DeploymentID(c.DatabaseURL)}
	if c.Sink != "" {
		sender, err := emit.New(c.Sink)
		if err != nil {
			return function.Service{}, err
		}
		o.Sender = sender
	}
	in := New(res.Store, res.Redis, realtime.NewPublisher(res.Redis, realtime.DefaultPrefix), o)
	reg := prometheus.NewRegistry()
	if err := in.metrics.register(reg); err != nil {
		return function.Service{}, err
	}
	return function.Service{Name: "ingest", HTTP: in.Routes(), Events: in, Registry: reg, Start: func(ctx context.Context) error {
		if err := res.Start(ctx); err != nil {
			return err
		}
		go in.Run(ctx)
		return nil
	}}, nil
}

// DeploymentID names a Phoenix deployment by its database (host, port and database name, never
// the credentials): every replica of a deployment reads the same URL, and two deployments that
// share a Redis — several `phoenix dev` instances or test runs on one machine — differ.
func DeploymentID(databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256([]byte(u.Host + "/" + strings.Trim(u.Path, "/")))
	return hex.EncodeToString(sum[:6])
}

// Routes is the function's HTTP surface (besides the runtime's probes and metrics).
func (in *Ingest) Routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/metrics", in.serveMetrics)
	return mux
}

// Handle answers a CloudEvent: a PingSource tick closes every due window.
func (in *Ingest) Handle(ctx context.Context, e event.Event) (*event.Event, error) {
	if e.Type() != events.PingTick {
		return nil, function.Invalid(fmt.Errorf("the ingest function does not consume %q", e.Type()))
	}
	n, err := in.closeDue(ctx)
	if err != nil {
		return nil, err // 500: the broker retries the tick
	}
	logging.FromContext(ctx).Debug("tick closed KPI windows", "closed", n)
	return nil, nil
}

// Run closes due windows every CloseEvery until ctx ends. Every replica runs it; leases keep two
// replicas from closing the same window at once.
func (in *Ingest) Run(ctx context.Context) {
	t := time.NewTicker(in.o.CloseEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := in.closeDue(ctx); err != nil && ctx.Err() == nil {
			logging.FromContext(ctx).Error("close KPI windows", "err", err)
		}
	}
}

// CloseDue closes every window that is over now and returns how many it closed; ticks and Run do
// this on their own, tests and tools call it to close at a chosen moment.
func (in *Ingest) CloseDue(ctx context.Context) (int, error) { return in.closeDue(ctx) }
