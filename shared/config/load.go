package config

import (
	"errors"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/phoenixotel/phoenix/shared/experiment"
)

// connections reads where the function listens, its database and Redis, and its log level.
func (e *env) connections(c *Config) {
	port, err := strconv.Atoi(e.get("PORT", "8080"))
	if err != nil || port < 0 || port > 65535 {
		e.fail("PORT=%q: want a TCP port number between 1 and 65535 (0 picks a free one)", e.get("PORT", ""))
	}
	c.Port = port
	c.DatabaseURL = e.get("PHOENIX_DATABASE_URL", DefaultDatabaseURL)
	c.MigrateDatabaseURL = e.get("PHOENIX_MIGRATE_DATABASE_URL", DefaultMigrateDatabaseURL)
	for _, v := range []struct{ name, url string }{
		{"PHOENIX_DATABASE_URL", c.DatabaseURL}, {"PHOENIX_MIGRATE_DATABASE_URL", c.MigrateDatabaseURL},
	} {
		if err := checkPostgresURL(v.url); err != nil {
			e.fail("%s: %w", v.name, err)
		}
	}
	c.RedisURL = e.get("PHOENIX_REDIS_URL", DefaultRedisURL)
	if _, err := redis.ParseURL(c.RedisURL); err != nil {
		e.fail("PHOENIX_REDIS_URL: want redis://[user:password@]host:port/db, e.g. %s", DefaultRedisURL)
	}
	if level := e.get("PHOENIX_LOG_LEVEL", "info"); c.LogLevel.UnmarshalText([]byte(level)) != nil {
		e.fail("PHOENIX_LOG_LEVEL=%q: want debug, info, warn or error", level)
	}
	c.DrainTimeout = e.duration("PHOENIX_DRAIN_TIMEOUT", "20s", time.Second, 10*time.Minute)
	c.Sink = e.url("K_SINK", "", "the broker's http(s) URL", "http", "https")
}

// tokens reads the signing keys, the tokens' claims and lifetimes, and the API's rate limits.
func (e *env) tokens(c *Config) {
	c.JWTKeysFile = e.get("PHOENIX_JWT_KEYS_FILE", "")
	c.JWTKeys = e.get("PHOENIX_JWT_KEYS", "")
	c.JWTIssuer = e.get("PHOENIX_JWT_ISSUER", DefaultJWTIssuer)
	c.JWTAudience = e.get("PHOENIX_JWT_AUDIENCE", DefaultJWTAudience)
	c.JWTLeeway = e.duration("PHOENIX_JWT_LEEWAY", "30s", 0, 5*time.Minute)
	c.AccessTokenTTL = e.duration("PHOENIX_ACCESS_TOKEN_TTL", "10m", time.Minute, time.Hour)
	c.RefreshTokenTTL = e.duration("PHOENIX_REFRESH_TOKEN_TTL", "336h", time.Hour, 90*24*time.Hour)
	c.RateLoginIP = e.rate("PHOENIX_RATE_LOGIN_IP", "30/m")
	c.RateLoginAccount = e.rate("PHOENIX_RATE_LOGIN_ACCOUNT", "10/m")
	c.RateAPITenant = e.rate("PHOENIX_RATE_API_TENANT", "200/s")
	c.RateAPIToken = e.rate("PHOENIX_RATE_API_TOKEN", "50/s")
}

// gateway reads the PHOENIX_WS_* variables.
func (e *env) gateway(c *Config) {
	c.WSRecheck = e.duration("PHOENIX_WS_RECHECK_INTERVAL", "1s", 100*time.Millisecond, 10*time.Minute)
	w := &c.WS
	w.MaxConnections = e.whole("PHOENIX_WS_MAX_CONNECTIONS", "10000", 1, 1_000_000)
	w.MaxPerTenant = e.whole("PHOENIX_WS_MAX_CONNECTIONS_PER_TENANT", "2000", 1, 1_000_000)
	w.MaxPerUser = e.whole("PHOENIX_WS_MAX_CONNECTIONS_PER_USER", "50", 1, 1_000_000)
	w.MaxSubscriptions = e.whole("PHOENIX_WS_MAX_SUBSCRIPTIONS", "100", 1, 10_000)
	w.SendQueue = e.whole("PHOENIX_WS_SEND_QUEUE", "256", 2, 100_000)
	w.ConnectRate = e.rate("PHOENIX_WS_CONNECT_RATE", "1000/s")
	w.MessageRate = e.rate("PHOENIX_WS_MESSAGE_RATE", "20/s")
	w.DrainWindow = e.duration("PHOENIX_WS_DRAIN_WINDOW", "10s", 0, 10*time.Minute)
}

// measurement reads where collectors run and send, the KPI windows and the cost model.
func (e *env) measurement(c *Config) {
	c.DeployTarget = e.get("PHOENIX_DEPLOY_TARGET", "kubernetes")
	if c.DeployTarget != "kubernetes" && c.DeployTarget != "local" {
		e.fail("PHOENIX_DEPLOY_TARGET=%q: want kubernetes or local", c.DeployTarget)
	}
	c.IngestURL = e.url("PHOENIX_INGEST_URL", "http://phoenix-ingest.phoenix.svc.cluster.local", "the ingest function's http(s) URL", "http", "https")
	c.CollectorImage = e.get("PHOENIX_COLLECTOR_IMAGE", "ghcr.io/phoenixotel/phoenix-collector:0.160.0-phoenix")
	c.CollectorBinary = e.get("PHOENIX_COLLECTOR_BINARY", "")
	c.KPIWindow = e.duration("PHOENIX_KPI_WINDOW", "15s", 5*time.Second, 5*time.Minute)
	// One window by default: a collector's retries after a short outage (its exporter backs off
	// 5 s, then 10 s) still count where they were scraped, and the live view lags one window.
	c.KPILateness = e.duration("PHOENIX_KPI_LATENESS", c.KPIWindow.String(), 0, 5*time.Minute)
	c.Prices.SeriesMonth = e.price("PHOENIX_PRICE_PER_SERIES_MONTH", "0.008")
	c.Prices.MillionDatapoints = e.price("PHOENIX_PRICE_PER_MILLION_DATAPOINTS", "0")
}

// price reads name (default def) as a price between 0 and a million.
func (e *env) price(name, def string) float64 {
	v, err := strconv.ParseFloat(e.get(name, def), 64)
	if err != nil || math.IsNaN(v) || v < 0 || v > 1e6 {
		e.fail("%s: want a price between 0 and 1000000, e.g. %s", name, def)
	}
	return v
}

// timeouts reads the phases' limits and the running variants' longest silence.
func (e *env) timeouts(c *Config) {
	def := experiment.DefaultTimeouts()
	limit := func(name string, d time.Duration) time.Duration {
		return e.duration(name, d.String(), time.Second, 24*time.Hour)
	}
	c.Timeouts.Generating = limit("PHOENIX_TIMEOUT_GENERATING", def.Generating)
	c.Timeouts.Deploying = limit("PHOENIX_TIMEOUT_DEPLOYING", def.Deploying)
	c.Timeouts.Analyzing = limit("PHOENIX_TIMEOUT_ANALYZING", def.Analyzing)
	// Four windows without a delivery beyond the lateness bound, and at least a minute: a window
	// is stored only once the lateness bound after its end has passed, so a healthy variant's
	// newest stored window is up to two windows and that bound old.
	c.Timeouts.Silence = limit("PHOENIX_TIMEOUT_SILENCE", max(4*c.KPIWindow+c.KPILateness, def.Silence))
	if least := 2*c.KPIWindow + c.KPILateness; c.Timeouts.Silence < least {
		e.fail("PHOENIX_TIMEOUT_SILENCE: %s would fail healthy runs: a variant's newest stored window is up to "+
			"two windows and the lateness bound old; want at least %s", c.Timeouts.Silence, least)
	}
}

// api reads the feature flags, the API's internal routes, the proxies in front of Phoenix and
// the browser origins the gateway admits.
func (e *env) api(c *Config) {
	c.Features.AutoPromote = e.flag("PHOENIX_FEATURE_AUTO_PROMOTE")
	c.InternalRoutes = e.flag("PHOENIX_API_INTERNAL_ROUTES")
	c.TrustedProxies = e.whole("PHOENIX_TRUSTED_PROXIES", "0", 0, 10)
	c.GatewayURL = e.url("PHOENIX_GATEWAY_URL", "", "the gateway's ws:// or wss:// URL, e.g. wss://phoenix.example.com/ws", "ws", "wss")
	for _, o := range strings.Split(e.get("PHOENIX_ALLOWED_ORIGINS", ""), ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		if u, err := url.Parse(o); o != "*" && (err != nil || u.Scheme == "" || u.Host == "" || u.Path != "") {
			e.errs = append(e.errs, errors.New("PHOENIX_ALLOWED_ORIGINS: "+strconv.Quote(o)+" is not an origin like https://app.example.com"))
			continue
		}
		c.AllowedOrigins = append(c.AllowedOrigins, o)
	}
}
