// Package bootstrap turns configuration into the resources a deployable needs — the store, Redis,
// the token key set — and runs it in the function runtime. It owns the order of start-up (listen
// first, then verify dependencies) so every function main stays a few lines long and every
// function starts the same way, alone on Knative or together in `phoenix dev`.
package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"knative.dev/pkg/signals"

	"github.com/phoenixotel/phoenix/shared/auth"
	"github.com/phoenixotel/phoenix/shared/config"
	"github.com/phoenixotel/phoenix/shared/function"
	"github.com/phoenixotel/phoenix/shared/logging"
	"github.com/phoenixotel/phoenix/shared/realtime"
	"github.com/phoenixotel/phoenix/shared/revocation"
	"github.com/phoenixotel/phoenix/shared/store"
)

// Needs says which resources a deployable uses; only those are opened and checked.
type Needs struct {
	Store bool // PostgreSQL as phoenix_app
	Redis bool // Redis for pub/sub and revocation
	Keys  bool // the JWT key set, to issue or verify access tokens
}

// Resources are a deployable's opened dependencies. None of them has touched the network yet.
type Resources struct {
	Config   config.Config  // the validated configuration
	Logger   *slog.Logger   // the deployable's structured logger
	Store    *store.Store   // nil unless Needs.Store
	Redis    *redis.Client  // nil unless Needs.Redis
	Keys     *auth.KeySet   // nil unless Needs.Keys
	Verifier *auth.Verifier // access-token verifier over Keys; nil unless Needs.Keys
	// Revocation is the revocation list (PostgreSQL, cached in Redis); with Keys it is wired
	// into Verifier, so every verifier checks it. Nil unless Needs.Redis.
	Revocation *revocation.Store
}

// Open prepares what needs asks for. It reads local files (the key set) but makes no network call.
func Open(cfg config.Config, logger *slog.Logger, needs Needs) (*Resources, error) {
	r := &Resources{Config: cfg, Logger: logger}
	if needs.Store {
		st, err := store.Open(cfg.DatabaseURL, store.Options{})
		if err != nil {
			return nil, fmt.Errorf("PHOENIX_DATABASE_URL: %w", err)
		}
		r.Store = st
	}
	if needs.Redis {
		opts, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("PHOENIX_REDIS_URL: %w", err)
		}
		r.Redis = redis.NewClient(opts)
		// Revocations also tell the gateways, which close the tenant's revoked sockets at once.
		// PostgreSQL (when opened) is the revocations' record; Redis their cache.
		r.Revocation = revocation.New(r.Redis, revocation.Options{Store: r.Store,
			Notify: realtime.NewPublisher(r.Redis, realtime.DefaultPrefix).PublishRevocation})
	}
	if needs.Keys {
		var keys *auth.KeySet
		var err error
		switch {
		case cfg.JWTKeysFile != "":
			if keys, err = auth.LoadKeySetFile(cfg.JWTKeysFile); err != nil {
				err = fmt.Errorf("PHOENIX_JWT_KEYS_FILE: %w", err)
			}
		case cfg.JWTKeys != "":
			if keys, err = auth.LoadKeySet(strings.NewReader(cfg.JWTKeys)); err != nil {
				err = fmt.Errorf("PHOENIX_JWT_KEYS: %w", err)
			}
		default:
			err = errors.New("no token keys: set PHOENIX_JWT_KEYS_FILE to a PEM file of Ed25519 keys, or " +
				"PHOENIX_JWT_KEYS to its contents (`phoenix dev` creates one for development)")
		}
		if err != nil {
			r.Close()
			return nil, err
		}
		vc := auth.VerifierConfig{Keys: keys, Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, Leeway: cfg.JWTLeeway}
		if r.Revocation != nil {
			vc.Revocation = r.Revocation
		}
		v, err := auth.NewVerifier(vc)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("token verifier: %w", err)
		}
		r.Keys, r.Verifier = keys, v
	}
	return r, nil
}

// Close releases every opened resource.
func (r *Resources) Close() {
	if r.Store != nil {
		r.Store.Close()
	}
	if r.Redis != nil {
		_ = r.Redis.Close()
	}
}

// Start runs once the function listens: it refuses a database role that could bypass row-level
// security, so a misconfigured deployment stops instead of serving without isolation. A database
// that cannot be reached yet (a failover, a slow start) is not a misconfiguration: Start keeps
// trying, and the function stays unready, until it answers or ctx ends.
func (r *Resources) Start(ctx context.Context) error {
	if r.Store == nil {
		return nil
	}
	return r.Retry(ctx, "verify the database role", r.Store.VerifyRuntimeRole)
}

// Retry runs fn until it succeeds, fails permanently (a *store.RoleProblem), or ctx ends, waiting
// 100 ms, then twice as long each time up to 5 s, between attempts.
func (r *Resources) Retry(ctx context.Context, what string, fn func(context.Context) error) error {
	wait := 100 * time.Millisecond
	for {
		err := fn(ctx)
		var permanent *store.RoleProblem
		if err == nil || errors.As(err, &permanent) {
			return err
		}
		r.Logger.Warn("dependency not ready; will retry", "step", what, "err", err, "retry_in", wait.String())
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// Ready checks the dependencies on every readiness probe.
func (r *Resources) Ready(ctx context.Context) error {
	if r.Store != nil {
		if err := r.Store.Ping(ctx); err != nil {
			return err
		}
	}
	if r.Redis != nil {
		if err := r.Redis.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("ping redis: %w", err)
		}
	}
	return nil
}

// Builder makes a deployable's service from its resources.
type Builder func(*Resources) (function.Service, error)

// Run builds and serves one deployable until ctx ends. Start and Ready default to the resources';
// the deployable's registry (created when it brings none) also exports its pools and
// dependencies (Instrument).
func Run(ctx context.Context, res *Resources, build Builder, opts function.Options) error {
	svc, err := build(res)
	if err != nil {
		return err
	}
	if svc.Registry == nil {
		svc.Registry = prometheus.NewRegistry()
	}
	if err := res.Instrument(svc.Name, svc.Registry); err != nil {
		return err
	}
	if svc.Start == nil {
		svc.Start = res.Start
	}
	if svc.Ready == nil {
		svc.Ready = res.Ready
	}
	if opts.Logger == nil {
		opts.Logger = res.Logger
	}
	if opts.DrainTimeout == 0 {
		opts.DrainTimeout = res.Config.DrainTimeout
	}
	return function.Serve(logging.WithContext(ctx, res.Logger), svc, opts)
}

// Main is a whole function main: configuration from the environment, resources, serve on $PORT
// until SIGTERM. It exits the process with status 1 and a message saying what to fix on failure.
func Main(name string, needs Needs, build Builder) {
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: invalid configuration:\n%v\n", name, err)
		os.Exit(1)
	}
	logger := logging.New(os.Stderr, name, cfg.LogLevel)
	RouteRedisLogs(logger) // process-wide: this is the process's entry point (see RouteRedisLogs)
	res, err := Open(cfg, logger, needs)
	if err != nil {
		logger.Error("cannot start", "err", err)
		os.Exit(1)
	}
	defer res.Close()
	if err := Run(signals.NewContext(), res, build, function.Options{Addr: cfg.Addr()}); err != nil {
		logger.Error("stopped with error", "err", err)
		res.Close()
		os.Exit(1)
	}
}
