package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/phoenixotel/phoenix/shared/auth"
	"github.com/phoenixotel/phoenix/shared/bootstrap"
	"github.com/phoenixotel/phoenix/shared/config"
	"github.com/phoenixotel/phoenix/shared/function"
	"github.com/phoenixotel/phoenix/shared/ratelimit"
	"github.com/phoenixotel/phoenix/shared/realtime"
	"github.com/phoenixotel/phoenix/shared/revocation"
	"github.com/phoenixotel/phoenix/shared/store"
)

// ChannelPrefix prefixes every Redis channel and key Phoenix publishes experiment events on.
const ChannelPrefix = realtime.DefaultPrefix

// readPermission is what every channel requires: all of them carry experiment events.
const readPermission = "experiment:read"

// Needs are the resources the gateway uses: Redis for events and revocation, the key set to
// verify tokens, the store for role permissions and experiment lookups.
func Needs() bootstrap.Needs { return bootstrap.Needs{Store: true, Redis: true, Keys: true} }

// tokenAuthenticator adapts the shared access-token verifier, so the gateway accepts exactly the
// tokens the API accepts, with the same permissions.
type tokenAuthenticator struct {
	verifier   *auth.Verifier  // verifies signature, claims and revocation
	revocation auth.Revocation // re-checked periodically for open connections
	roles      auth.Roles      // the role catalog and the permission check, as the API's
}

// Authenticate verifies token and says whether it may read experiments.
func (a *tokenAuthenticator) Authenticate(ctx context.Context, token string) (Identity, error) {
	p, err := a.verifier.Verify(ctx, token)
	if err != nil {
		if errors.Is(err, auth.ErrUnauthenticated) {
			return Identity{}, err
		}
		return Identity{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	id := Identity{Tenant: p.Tenant, Subject: p.Subject, ExpiresAt: p.ExpiresAt,
		ReadExperiments: a.roles.Allows(p, readPermission), Credential: p.TokenID}
	if a.revocation != nil {
		// The revocation markers alone: the signature and claims do not change. The check keeps
		// only what revocation reads, not the roles and permissions, for every open connection.
		check := auth.Principal{Subject: p.Subject, Tenant: p.Tenant, SessionID: p.SessionID, TokenID: p.TokenID, IssuedAt: p.IssuedAt}
		id.Revoked = func(ctx context.Context) (bool, error) { return a.revocation.Revoked(ctx, check, check.IssuedAt) }
	}
	return id, nil
}

// loadRoles reads the role catalog, as the API does.
func (a *tokenAuthenticator) loadRoles(ctx context.Context, st *store.Store) error {
	cat, err := st.RolePermissions(ctx)
	if err != nil {
		return err
	}
	a.roles.Set(cat)
	return nil
}

// storeExperiments answers Experiments from PostgreSQL, inside the tenant's row-level security.
type storeExperiments struct {
	st *store.Store // the runtime role's store
}

// ExperimentExists reads the experiment within tenant.
func (s storeExperiments) ExperimentExists(ctx context.Context, tenant, experiment uuid.UUID) (bool, error) {
	err := s.st.WithTenant(ctx, tenant, func(tx *store.Tx) error {
		_, err := tx.Experiment(ctx, experiment)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Bounds of the revocation markers' client-side cache.
const (
	// revocationCacheEntries caps the cached marker reads: one per distinct credential.
	revocationCacheEntries = 200_000
	// revocationCacheStaleness is the backstop for an invalidation lost with its connection: no
	// cached answer is older than this.
	revocationCacheStaleness = 30 * time.Second
	// revocationCacheDrain is how often idle connections are read for invalidations, which bounds
	// how stale a cached marker is in practice. The library's 5 ms default costs a wake-up every
	// 5 ms for nothing here: revocations need only take effect within the 2 s the sweep allows.
	revocationCacheDrain = 100 * time.Millisecond
)

// cachingClient returns a client of the same Redis whose reads are cached in the process and
// invalidated by Redis as soon as a key read is written (client-side caching, RESP3 tracking).
// Re-checking every open connection's revocation markers every second then costs Redis a round
// trip only for markers that changed, instead of one per distinct token per second.
func cachingClient(redisURL string) (*redis.Client, error) {
	o, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, fmt.Errorf("PHOENIX_REDIS_URL: %w", err)
	}
	o.Protocol = 3
	o.ClientSideCacheConfig = &redis.ClientSideCacheConfig{MaxEntries: revocationCacheEntries, MaxStaleness: revocationCacheStaleness,
		DrainInterval: revocationCacheDrain}
	return redis.NewClient(o), nil
}

// deferred serves 503 until the gateway exists: the gateway opens its Redis subscription when
// created, and a function makes no network call before it listens.
type deferred struct {
	gw atomic.Pointer[Gateway] // set once Start has created the gateway
}

func (d *deferred) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g := d.gw.Load(); g != nil {
		g.ServeHTTP(w, r)
		return
	}
	http.Error(w, "starting", http.StatusServiceUnavailable)
}

// optionsFrom maps the configuration onto Options; the Redis, store and authenticator parts are
// filled in by Service.
func optionsFrom(cfg config.Config) Options {
	return Options{
		ChannelPrefix:           ChannelPrefix,
		AllowedOrigins:          cfg.AllowedOrigins,
		RecheckInterval:         cfg.WSRecheck,
		MaxConnections:          cfg.WS.MaxConnections,
		MaxConnectionsPerTenant: cfg.WS.MaxPerTenant,
		MaxConnectionsPerUser:   cfg.WS.MaxPerUser,
		ConnectRate:             perSecond(cfg.WS.ConnectRate),
		MessageRate:             perSecond(cfg.WS.MessageRate),
		MaxSubscriptions:        cfg.WS.MaxSubscriptions,
		SendQueue:               cfg.WS.SendQueue,
		DrainWindow:             max(cfg.WS.DrainWindow, time.Nanosecond), // 0 configured: close all at once
	}
}

// perSecond converts a configured limit to Options' events per second; "off" is unlimited.
func perSecond(l ratelimit.Limit) float64 {
	if l.Rate == 0 || l.Period <= 0 {
		return -1
	}
	return float64(l.Rate) / l.Period.Seconds()
}

// Service is the gateway as a deployable. It is ready once the database role is verified, the
// role catalog is loaded and the Redis pub/sub connection is subscribed, and unready whenever
// that connection is being re-established.
func Service(res *bootstrap.Resources) (function.Service, error) {
	if res.Redis == nil || res.Verifier == nil || res.Store == nil {
		return function.Service{}, errors.New("gateway needs Redis, the token key set and the store")
	}
	reg := prometheus.NewRegistry()
	d := &deferred{}
	checks, err := cachingClient(res.Config.RedisURL)
	if err != nil {
		return function.Service{}, err
	}
	// The same markers as res.Revocation (bootstrap opens it with the same record and default
	// prefix), read through the caching client for the periodic re-checks of open connections,
	// counted in the same metrics.
	authn := &tokenAuthenticator{verifier: res.Verifier, revocation: revocation.New(checks,
		revocation.Options{Store: res.Store, Metrics: res.Revocation.Metrics()})}
	return function.Service{
		Name:     "gateway",
		HTTP:     d,
		Registry: reg,
		Start: func(ctx context.Context) error {
			if err := res.Start(ctx); err != nil {
				return err
			}
			if err := res.Retry(ctx, "load the role catalog", func(ctx context.Context) error {
				return authn.loadRoles(ctx, res.Store)
			}); err != nil {
				return err
			}
			opts := optionsFrom(res.Config)
			opts.Redis, opts.Authenticator, opts.Experiments = res.Redis, authn, storeExperiments{st: res.Store}
			opts.Logger, opts.Registerer = res.Logger, reg
			g, err := New(opts)
			if err != nil {
				return err
			}
			d.gw.Store(g)
			return nil
		},
		Ready: func(ctx context.Context) error {
			g := d.gw.Load()
			if g == nil {
				return errors.New("starting")
			}
			if err := g.Ready(ctx); err != nil {
				return err
			}
			return res.Ready(ctx)
		},
		Stop: func(ctx context.Context) error {
			defer checks.Close()
			if g := d.gw.Load(); g != nil {
				return g.Shutdown(ctx)
			}
			return nil
		},
	}, nil
}
