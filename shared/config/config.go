// Package config reads a deployable's configuration from the environment, once, at start, and
// validates it with messages that say what to fix. It owns the variable names and their defaults
// (which work on a development machine with PostgreSQL and Redis on loopback); nothing else in
// Phoenix reads the environment.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

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
	GatewayURL         string              // PHOENIX_GATEWAY_URL: the WebSocket gateway as browsers reach it (ws:// or wss://…/ws), for the console
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
	CollectorBinary    string              // PHOENIX_COLLECTOR_BINARY: the collector the API checks tenants' own pipelines with
	Timeouts           experiment.Timeouts // PHOENIX_TIMEOUT_GENERATING, _DEPLOYING, _ANALYZING: phase limits, and _SILENCE: a running variant's longest silence
	KPIWindow          time.Duration       // PHOENIX_KPI_WINDOW: length of a KPI measurement window
	KPILateness        time.Duration       // PHOENIX_KPI_LATENESS: how late data may come and count in the window of its own time; 0: by arrival
	Prices             experiment.Prices   // PHOENIX_PRICE_PER_SERIES_MONTH, PHOENIX_PRICE_PER_MILLION_DATAPOINTS: the cost model
}

// Load reads the configuration through lookup (os.LookupEnv in production) and validates it. The
// error lists every problem at once, each naming the variable and what it expects.
func Load(lookup func(string) (string, bool)) (Config, error) {
	e := &env{lookup: lookup}
	c := Config{}
	e.connections(&c)
	e.tokens(&c)
	e.gateway(&c)
	e.measurement(&c)
	e.timeouts(&c)
	e.api(&c)
	return c, errors.Join(e.errs...)
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

// Features are the feature flags: new behaviour ships off and is switched on per deployment
// (deploy/base/features.env, overridden by overlays), read once at start like every setting.
type Features struct {
	// AutoPromote (PHOENIX_FEATURE_AUTO_PROMOTE) promotes a candidate as soon as its analysis
	// says promote, without waiting for a user's promote command.
	AutoPromote bool
}
