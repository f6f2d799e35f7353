// Package config reads a deployable's configuration from the environment, once, at start, and
// validates it with messages that say what to fix. It owns the variable names and their defaults
// (which work on a development machine with PostgreSQL and Redis on loopback); nothing else in
// Phoenix reads the environment.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/ratelimit"
)

// Defaults that work on this machine kind: PostgreSQL with trust auth and Redis on loopback.
const (
	DefaultDatabaseURL        = "postgres://phoenix_app@127.0.0.1:5432/phoenix?sslmode=disable"
	DefaultMigrateDatabaseURL = "postgres://postgres@127.0.0.1:5432/phoenix?sslmode=disable"
	DefaultRedisURL           = "redis://127.0.0.1:6379/0"
	DefaultJWTIssuer          = "phoenix"
	DefaultJWTAudience        = "phoenix"
)

// Config is everything a Phoenix deployable may be configured with. Each deployable reads the
// fields it uses; Load validates all of them so a typo fails fast wherever it is.
type Config struct {
	Port               int                 // PORT: where the function listens (Knative sets it)
	DatabaseURL        string              // PHOENIX_DATABASE_URL: the runtime role phoenix_app
	MigrateDatabaseURL string              // PHOENIX_MIGRATE_DATABASE_URL: the schema owner, for migrations
	RedisURL           string              // PHOENIX_REDIS_URL
	LogLevel           slog.Level          // PHOENIX_LOG_LEVEL: debug, info, warn or error (slog's names, any case)
	JWTKeysFile        string              // PHOENIX_JWT_KEYS_FILE: PEM with Ed25519 keys (first private key signs)
	JWTKeys            string              // PHOENIX_JWT_KEYS: the same PEM in the environment, when no file is given
	JWTIssuer          string              // PHOENIX_JWT_ISSUER: the iss claim issued and required
	JWTAudience        string              // PHOENIX_JWT_AUDIENCE: the aud claim issued and required
	JWTLeeway          time.Duration       // PHOENIX_JWT_LEEWAY: clock skew tolerated, e.g. 30s
	AllowedOrigins     []string            // PHOENIX_ALLOWED_ORIGINS: comma-separated browser origins for the gateway
	DrainTimeout       time.Duration       // PHOENIX_DRAIN_TIMEOUT: time for in-flight work after SIGTERM
	AccessTokenTTL     time.Duration       // PHOENIX_ACCESS_TOKEN_TTL: access-token lifetime (minutes, not hours)
	RefreshTokenTTL    time.Duration       // PHOENIX_REFRESH_TOKEN_TTL: refresh-token lifetime
	RateLoginIP        ratelimit.Limit     // PHOENIX_RATE_LOGIN_IP: login attempts per client IP
	RateLoginAccount   ratelimit.Limit     // PHOENIX_RATE_LOGIN_ACCOUNT: login attempts per tenant+email
	RateAPITenant      ratelimit.Limit     // PHOENIX_RATE_API_TENANT: authenticated API requests per tenant
	RateAPIToken       ratelimit.Limit     // PHOENIX_RATE_API_TOKEN: authenticated API requests per token
	TrustedProxies     int                 // PHOENIX_TRUSTED_PROXIES: proxies in front whose X-Forwarded-For entries are trusted
	InternalRoutes     bool                // PHOENIX_API_INTERNAL_ROUTES: serve /internal/* (the broker's dead-letter sink); only on the cluster-local API
	Features           Features            // PHOENIX_FEATURE_<NAME>: new behaviour, off unless switched on
	Sink               string              // K_SINK: the broker's ingress, where functions send events (Knative sets it)
	WSRecheck          time.Duration       // PHOENIX_WS_RECHECK_INTERVAL: how often open WebSockets re-check their token
	WS                 WebSocket           // PHOENIX_WS_*: the gateway's connection limits (see WebSocket)
	DeployTarget       string              // PHOENIX_DEPLOY_TARGET: kubernetes or local, how collectors read the host
	IngestURL          string              // PHOENIX_INGEST_URL: where rendered collectors send their output (OTLP/HTTP)
	CollectorImage     string              // PHOENIX_COLLECTOR_IMAGE: the collector image in rendered manifests
	Timeouts           experiment.Timeouts // PHOENIX_TIMEOUT_GENERATING, _DEPLOYING, _ANALYZING: phase limits, and _SILENCE: a running variant's longest silence
	KPIWindow          time.Duration       // PHOENIX_KPI_WINDOW: length of a KPI measurement window
	KPILateness        time.Duration       // PHOENIX_KPI_LATENESS: how late data may come and count in the window of its own time; 0: by arrival
	PriceSeriesMonth   float64             // PHOENIX_PRICE_PER_SERIES_MONTH: cost model, per active series per month
	PriceMillionPoints float64             // PHOENIX_PRICE_PER_MILLION_DATAPOINTS: cost model, per million datapoints
}

// Load reads the configuration through lookup (os.LookupEnv in production) and validates it. The
// error lists every problem at once, each naming the variable and what it expects.
func Load(lookup func(string) (string, bool)) (Config, error) {
	get := func(name, def string) string {
		if v, ok := lookup(name); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
		return def
	}
	var errs []error
	c := Config{
		DatabaseURL:        get("PHOENIX_DATABASE_URL", DefaultDatabaseURL),
		MigrateDatabaseURL: get("PHOENIX_MIGRATE_DATABASE_URL", DefaultMigrateDatabaseURL),
		RedisURL:           get("PHOENIX_REDIS_URL", DefaultRedisURL),
		JWTKeysFile:        get("PHOENIX_JWT_KEYS_FILE", ""),
		JWTKeys:            get("PHOENIX_JWT_KEYS", ""),
		JWTIssuer:          get("PHOENIX_JWT_ISSUER", DefaultJWTIssuer),
		JWTAudience:        get("PHOENIX_JWT_AUDIENCE", DefaultJWTAudience),
	}
	port, err := strconv.Atoi(get("PORT", "8080"))
	if err != nil || port < 0 || port > 65535 {
		errs = append(errs, fmt.Errorf("PORT=%q: want a TCP port number between 1 and 65535 (0 picks a free one)", get("PORT", "")))
	}
	c.Port = port
	for name, v := range map[string]string{
		"PHOENIX_DATABASE_URL":         c.DatabaseURL,
		"PHOENIX_MIGRATE_DATABASE_URL": c.MigrateDatabaseURL,
	} {
		if err := checkPostgresURL(v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	if _, err := redis.ParseURL(c.RedisURL); err != nil {
		errs = append(errs, errors.New("PHOENIX_REDIS_URL: want redis://[user:password@]host:port/db, e.g. "+DefaultRedisURL))
	}
	if level := get("PHOENIX_LOG_LEVEL", "info"); c.LogLevel.UnmarshalText([]byte(level)) != nil {
		errs = append(errs, fmt.Errorf("PHOENIX_LOG_LEVEL=%q: want debug, info, warn or error", level))
	}
	c.JWTLeeway, err = duration(get("PHOENIX_JWT_LEEWAY", "30s"), 0, 5*time.Minute)
	if err != nil {
		errs = append(errs, fmt.Errorf("PHOENIX_JWT_LEEWAY: %w", err))
	}
	c.DrainTimeout, err = duration(get("PHOENIX_DRAIN_TIMEOUT", "20s"), time.Second, 10*time.Minute)
	if err != nil {
		errs = append(errs, fmt.Errorf("PHOENIX_DRAIN_TIMEOUT: %w", err))
	}
	c.AccessTokenTTL, err = duration(get("PHOENIX_ACCESS_TOKEN_TTL", "10m"), time.Minute, time.Hour)
	if err != nil {
		errs = append(errs, fmt.Errorf("PHOENIX_ACCESS_TOKEN_TTL: %w", err))
	}
	c.RefreshTokenTTL, err = duration(get("PHOENIX_REFRESH_TOKEN_TTL", "336h"), time.Hour, 90*24*time.Hour)
	if err != nil {
		errs = append(errs, fmt.Errorf("PHOENIX_REFRESH_TOKEN_TTL: %w", err))
	}
	for _, r := range []struct {
		name, def string
		dst       *ratelimit.Limit
	}{
		{"PHOENIX_RATE_LOGIN_IP", "30/m", &c.RateLoginIP},
		{"PHOENIX_RATE_LOGIN_ACCOUNT", "10/m", &c.RateLoginAccount},
		{"PHOENIX_RATE_API_TENANT", "200/s", &c.RateAPITenant},
		{"PHOENIX_RATE_API_TOKEN", "50/s", &c.RateAPIToken},
	} {
		if *r.dst, err = ratelimit.Parse(get(r.name, r.def)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.name, err))
		}
	}
	if c.Sink = get("K_SINK", ""); c.Sink != "" {
		if u, err := url.Parse(c.Sink); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, errors.New("K_SINK: want the broker's http(s) URL"))
		}
	}
	c.WSRecheck, err = duration(get("PHOENIX_WS_RECHECK_INTERVAL", "1s"), 100*time.Millisecond, 10*time.Minute)
	if err != nil {
		errs = append(errs, fmt.Errorf("PHOENIX_WS_RECHECK_INTERVAL: %w", err))
	}
	errs = append(errs, c.WS.load(get)...)
	c.DeployTarget = get("PHOENIX_DEPLOY_TARGET", "kubernetes")
	if c.DeployTarget != "kubernetes" && c.DeployTarget != "local" {
		errs = append(errs, fmt.Errorf("PHOENIX_DEPLOY_TARGET=%q: want kubernetes or local", c.DeployTarget))
	}
	c.IngestURL = get("PHOENIX_INGEST_URL", "http://phoenix-ingest.phoenix.svc.cluster.local")
	if u, err := url.Parse(c.IngestURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, errors.New("PHOENIX_INGEST_URL: want the ingest function's http(s) URL"))
	}
	c.CollectorImage = get("PHOENIX_COLLECTOR_IMAGE", "ghcr.io/phoenixotel/phoenix-collector:0.160.0-phoenix")
	c.KPIWindow, err = duration(get("PHOENIX_KPI_WINDOW", "15s"), 5*time.Second, 5*time.Minute)
	if err != nil {
		errs = append(errs, fmt.Errorf("PHOENIX_KPI_WINDOW: %w", err))
	}
	// One window by default: a collector's retries after a short outage (its exporter backs off
	// 5 s, then 10 s) still count where they were scraped, and the live view lags one window.
	c.KPILateness, err = duration(get("PHOENIX_KPI_LATENESS", c.KPIWindow.String()), 0, 5*time.Minute)
	if err != nil {
		errs = append(errs, fmt.Errorf("PHOENIX_KPI_LATENESS: %w", err))
	}
	for _, p := range []struct {
		name, def string
		dst       *float64
	}{
		{"PHOENIX_PRICE_PER_SERIES_MONTH", "0.008", &c.PriceSeriesMonth},
		{"PHOENIX_PRICE_PER_MILLION_DATAPOINTS", "0", &c.PriceMillionPoints},
	} {
		v, perr := strconv.ParseFloat(get(p.name, p.def), 64)
		if perr != nil || math.IsNaN(v) || v < 0 || v > 1e6 {
			errs = append(errs, fmt.Errorf("%s: want a price between 0 and 1000000, e.g. %s", p.name, p.def))
		}
		*p.dst = v
	}
	def := experiment.DefaultTimeouts()
	for _, d := range []struct {
		name string
		dst  *time.Duration
		def  time.Duration
	}{
		{"PHOENIX_TIMEOUT_GENERATING", &c.Timeouts.Generating, def.Generating},
		{"PHOENIX_TIMEOUT_DEPLOYING", &c.Timeouts.Deploying, def.Deploying},
		{"PHOENIX_TIMEOUT_ANALYZING", &c.Timeouts.Analyzing, def.Analyzing},
		// Four windows without a delivery beyond the lateness bound, and at least a minute: a
		// window is stored only once the lateness bound after its end has passed, so a healthy
		// variant's newest stored window is up to two windows and that bound old.
		{"PHOENIX_TIMEOUT_SILENCE", &c.Timeouts.Silence, max(4*c.KPIWindow+c.KPILateness, def.Silence)},
	} {
		if *d.dst, err = duration(get(d.name, d.def.String()), time.Second, 24*time.Hour); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d.name, err))
		}
	}
	if least := 2*c.KPIWindow + c.KPILateness; c.Timeouts.Silence < least {
		errs = append(errs, fmt.Errorf("PHOENIX_TIMEOUT_SILENCE: %s would fail healthy runs: a variant's newest stored window is up to "+
			"two windows and the lateness bound old; want at least %s", c.Timeouts.Silence, least))
	}
	if c.Features.AutoPromote, err = strconv.ParseBool(get("PHOENIX_FEATURE_AUTO_PROMOTE", "false")); err != nil {
		errs = append(errs, errors.New("PHOENIX_FEATURE_AUTO_PROMOTE: want true or false"))
	}
	if c.InternalRoutes, err = strconv.ParseBool(get("PHOENIX_API_INTERNAL_ROUTES", "false")); err != nil {
		errs = append(errs, errors.New("PHOENIX_API_INTERNAL_ROUTES: want true or false"))
	}
	c.TrustedProxies, err = strconv.Atoi(get("PHOENIX_TRUSTED_PROXIES", "0"))
	if err != nil || c.TrustedProxies < 0 || c.TrustedProxies > 10 {
		errs = append(errs, errors.New("PHOENIX_TRUSTED_PROXIES: want the number of proxies in front of Phoenix, 0-10"))
	}
	for _, o := range strings.Split(get("PHOENIX_ALLOWED_ORIGINS", ""), ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		if u, err := url.Parse(o); o != "*" && (err != nil || u.Scheme == "" || u.Host == "" || u.Path != "") {
			errs = append(errs, fmt.Errorf("PHOENIX_ALLOWED_ORIGINS: %q is not an origin like https://app.example.com", o))
			continue
		}
		c.AllowedOrigins = append(c.AllowedOrigins, o)
	}
	return c, errors.Join(errs...)
}

// checkPostgresURL accepts postgres:// and postgresql:// URLs with a host and database. The value
// is never echoed: it may hold a password.
func checkPostgresURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return errors.New("want postgres://user@host:port/database (value not shown: it may hold a password)")
	}
	if strings.Trim(u.Path, "/") == "" {
		return errors.New("the URL names no database; add one, e.g. /phoenix")
	}
	return nil
}

func duration(v string, lo, hi time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration like 30s or 2m", v)
	}
	if d < lo || d > hi {
		return 0, fmt.Errorf("%s is out of range [%s, %s]", d, lo, hi)
	}
	return d, nil
}

// Addr is the listen address for the configured port.
func (c Config) Addr() string { return ":" + strconv.Itoa(c.Port) }

// WebSocket is the gateway's connection limits, all per gateway replica (PHOENIX_WS_*).
type WebSocket struct {
	MaxConnections   int             // PHOENIX_WS_MAX_CONNECTIONS: connections of one replica (503 beyond)
	MaxPerTenant     int             // PHOENIX_WS_MAX_CONNECTIONS_PER_TENANT: one tenant's connections (429 beyond)
	MaxPerUser       int             // PHOENIX_WS_MAX_CONNECTIONS_PER_USER: one user's or service account's (429 beyond)
	ConnectRate      ratelimit.Limit // PHOENIX_WS_CONNECT_RATE: new connections admitted (503 beyond); off = unlimited
	MessageRate      ratelimit.Limit // PHOENIX_WS_MESSAGE_RATE: frames one connection may send; off = unlimited
	MaxSubscriptions int             // PHOENIX_WS_MAX_SUBSCRIPTIONS: channels one connection may hold
	SendQueue        int             // PHOENIX_WS_SEND_QUEUE: frames queued for one connection before it is a slow reader
	DrainWindow      time.Duration   // PHOENIX_WS_DRAIN_WINDOW: time over which SIGTERM spreads closing connections
}

// load reads the PHOENIX_WS_* variables through get and returns their problems.
func (w *WebSocket) load(get func(name, def string) string) []error {
	var errs []error
	for _, n := range []struct {
		name, def string
		lo, hi    int
		dst       *int
	}{
		{"PHOENIX_WS_MAX_CONNECTIONS", "10000", 1, 1_000_000, &w.MaxConnections},
		{"PHOENIX_WS_MAX_CONNECTIONS_PER_TENANT", "2000", 1, 1_000_000, &w.MaxPerTenant},
		{"PHOENIX_WS_MAX_CONNECTIONS_PER_USER", "50", 1, 1_000_000, &w.MaxPerUser},
		{"PHOENIX_WS_MAX_SUBSCRIPTIONS", "100", 1, 10_000, &w.MaxSubscriptions},
		{"PHOENIX_WS_SEND_QUEUE", "256", 2, 100_000, &w.SendQueue},
	} {
		v, err := strconv.Atoi(get(n.name, n.def))
		if err != nil || v < n.lo || v > n.hi {
			errs = append(errs, fmt.Errorf("%s: want a whole number from %d to %d", n.name, n.lo, n.hi))
		}
		*n.dst = v
	}
	var err error
	if w.ConnectRate, err = ratelimit.Parse(get("PHOENIX_WS_CONNECT_RATE", "1000/s")); err != nil {
		errs = append(errs, fmt.Errorf("PHOENIX_WS_CONNECT_RATE: %w", err))
	}
	if w.MessageRate, err = ratelimit.Parse(get("PHOENIX_WS_MESSAGE_RATE", "20/s")); err != nil {
		errs = append(errs, fmt.Errorf("PHOENIX_WS_MESSAGE_RATE: %w", err))
	}
	if w.DrainWindow, err = duration(get("PHOENIX_WS_DRAIN_WINDOW", "10s"), 0, 10*time.Minute); err != nil {
		errs = append(errs, fmt.Errorf("PHOENIX_WS_DRAIN_WINDOW: %w", err))
	}
	return errs
}

// Features are the feature flags: new behaviour ships off and is switched on per deployment
// (deploy/base/features.env, overridden by overlays), read once at start like every setting.
type Features struct {
	// AutoPromote (PHOENIX_FEATURE_AUTO_PROMOTE) promotes a candidate as soon as its analysis
	// says promote, without waiting for a user's promote command.
	AutoPromote bool
}
