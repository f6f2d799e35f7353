// Package api is the HTTP function that serves Phoenix's public API: authentication (login,
// refresh, logout, service-account tokens), tenant, user and service-account management, the
// audit log, and experiments. Every route except login, refresh, the token grant and the key set is
// authenticated; the tenant comes only from the verified access token, and every store call runs in
// that tenant's transaction. Errors are RFC 9457 problem documents.
package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/functions/console"
	"github.com/phoenixotel/phoenix/shared/auth"
	"github.com/phoenixotel/phoenix/shared/bootstrap"
	"github.com/phoenixotel/phoenix/shared/distribution"
	"github.com/phoenixotel/phoenix/shared/emit"
	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/function"
	"github.com/phoenixotel/phoenix/shared/logging"
	"github.com/phoenixotel/phoenix/shared/password"
	"github.com/phoenixotel/phoenix/shared/pipeline"
	"github.com/phoenixotel/phoenix/shared/problem"
	"github.com/phoenixotel/phoenix/shared/ratelimit"
	"github.com/phoenixotel/phoenix/shared/revocation"
	"github.com/phoenixotel/phoenix/shared/store"
)

// Needs are the resources the API uses.
func Needs() bootstrap.Needs { return bootstrap.Needs{Store: true, Redis: true, Keys: true} }

// Limits are the request-rate limits the API enforces.
type Limits struct {
	LoginIP      ratelimit.Limit // login and token-grant attempts per client IP
	LoginAccount ratelimit.Limit // login attempts per tenant and email
	Tenant       ratelimit.Limit // authenticated requests per tenant
	Token        ratelimit.Limit // authenticated requests per access token
}

// Sender delivers command events to the broker.
type Sender interface {
	Send(ctx context.Context, e event.Event) error
}

// Options wire the API. Every field is required except where noted.
type Options struct {
	Store          *store.Store       // PostgreSQL as phoenix_app
	Keys           *auth.KeySet       // signing and verification keys; published as JWKS
	Verifier       *auth.Verifier     // verifies access tokens, revocation included
	Issuer         *auth.Issuer       // signs access tokens
	Revocation     *revocation.Store  // revoked tokens, sessions and "valid after" markers
	Limiter        *ratelimit.Limiter // shared rate-limit state
	Sender         Sender             // the broker, for experiment commands
	Limits         Limits             // the limits
	RefreshTTL     time.Duration      // refresh-token lifetime
	Password       password.Params    // argon2id cost for new hashes (and the dummy hash)
	TrustedProxies int                // X-Forwarded-For hops to trust for the client IP; 0 uses the peer address
	// Internal serves /internal/* — the broker's dead-letter sink, which has no caller identity —
	// and must only be set where the API is unreachable from outside the cluster (the
	// cluster-local phoenix-api-internal Service; phoenix dev, on loopback).
	Internal bool
	// Gateway is the WebSocket gateway's URL the console connects to (PHOENIX_GATEWAY_URL).
	Gateway string
	// Collector checks tenants' own pipelines and replays captures for previews
	// (PHOENIX_COLLECTOR_BINARY); nil or without a binary, both are refused with 503.
	Collector *distribution.Binary
	// Prices are the cost model previews predict with, the ingest function's (PHOENIX_PRICE_PER_*).
	Prices experiment.Prices
	// Window is the KPI window (PHOENIX_KPI_WINDOW): previews count series per window, as the
	// experiments they predict do; 0 counts them over the whole capture.
	Window time.Duration
	Now    func() time.Time // clock; nil means time.Now
}

// API serves the HTTP endpoints.
type API struct {
	o         Options       // dependencies and settings
	kdf       chan struct{} // bounds concurrent argon2id work: each costs Password.Memory
	roles     auth.Roles    // the RBAC catalog, loaded at start, and the permission check
	dummyOnce sync.Once     // computes dummyHash on first use, not at start
	dummyHash string        // verified against when a login names no real user
}

// New wires the API. The RBAC catalog is loaded by LoadRoles; until then everything is denied.
func New(o Options) *API {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Collector == nil {
		o.Collector = distribution.New("")
	}
	// As many hashes at once as there are cores: more would only queue for CPU while holding
	// their memory (64 MiB each at the default cost).
	return &API{o: o, kdf: make(chan struct{}, max(1, runtime.NumCPU()))}
}

// Service is the API as a deployable.
func Service(res *bootstrap.Resources) (function.Service, error) {
	c := res.Config
	iss, err := auth.NewIssuer(auth.IssuerConfig{Keys: res.Keys, Issuer: c.JWTIssuer, Audience: c.JWTAudience, TTL: c.AccessTokenTTL})
	if err != nil {
		return function.Service{}, fmt.Errorf("PHOENIX_JWT_KEYS_FILE: cannot sign tokens: %w", err)
	}
	sender, err := emit.New(c.Sink)
	if err != nil {
		return function.Service{}, fmt.Errorf("K_SINK: %w", err)
	}
	a := New(Options{
		Sender: sender,
		Store:  res.Store, Keys: res.Keys, Verifier: res.Verifier, Issuer: iss, Revocation: res.Revocation,
		Limiter:    ratelimit.New(res.Redis, "phoenix"),
		Limits:     Limits{LoginIP: c.RateLoginIP, LoginAccount: c.RateLoginAccount, Tenant: c.RateAPITenant, Token: c.RateAPIToken},
		RefreshTTL: c.RefreshTokenTTL, Password: password.Default(), TrustedProxies: c.TrustedProxies, Internal: c.InternalRoutes,
		Gateway: c.GatewayURL, Collector: distribution.New(c.CollectorBinary),
		Prices: c.Prices, Window: c.KPIWindow,
	})
	reg, err := newRegistry(res.Store, res.Logger)
	if err != nil {
		return function.Service{}, err
	}
	return function.Service{
		Name:     "api",
		HTTP:     a.Routes(),
		Registry: reg,
		Start: func(ctx context.Context) error {
			if err := res.Start(ctx); err != nil {
				return err
			}
			if err := res.Retry(ctx, "load the role catalog", a.LoadRoles); err != nil {
				return err
			}
			go a.prepareDummy() // 64 MiB of argon2id work, off the cold-start path
			return nil
		},
	}, nil
}

// LoadRoles reads the RBAC catalog.
func (a *API) LoadRoles(ctx context.Context) error {
	cat, err := a.o.Store.RolePermissions(ctx)
	if err != nil {
		return err
	}
	a.roles.Set(cat)
	return nil
}

// Routes is the API's HTTP surface.
func (a *API) Routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+auth.JWKSPath, auth.JWKSHandler(a.o.Keys))

	// The console (functions/console): the web app, on the API's own origin.
	mux.Handle("GET /console/", console.Handler(console.Options{Gateway: a.o.Gateway}))
	mux.Handle("GET /console", http.RedirectHandler("/console/", http.StatusMovedPermanently))

	mux.HandleFunc("POST /v1/auth/login", a.login)
	mux.HandleFunc("POST /v1/auth/refresh", a.refresh)
	mux.HandleFunc("POST /v1/auth/token", a.clientCredentials)
	mux.Handle("POST /v1/auth/logout", a.authenticated(a.logout))
	mux.Handle("GET /v1/auth/me", a.authenticated(a.me))
	mux.Handle("POST /v1/auth/password", a.authenticated(a.changePassword))

	mux.Handle("POST /v1/tenants", a.require("tenant", "manage", a.createTenant))
	mux.Handle("GET /v1/tenants", a.require("tenant", "manage", a.listTenants))
	mux.Handle("GET /v1/tenants/{id}", a.require("tenant", "manage", a.getTenant))
	mux.Handle("POST /v1/tenants/{id}/suspend", a.require("tenant", "manage", a.setTenantStatus("suspended")))
	mux.Handle("POST /v1/tenants/{id}/resume", a.require("tenant", "manage", a.setTenantStatus("active")))

	mux.Handle("POST /v1/users", a.require("user", "write", a.createUser))
	mux.Handle("GET /v1/users", a.require("user", "read", a.listUsers))
	mux.Handle("GET /v1/users/{id}", a.require("user", "read", a.getUser))
	mux.Handle("PATCH /v1/users/{id}", a.require("user", "write", a.changeRole))
	mux.Handle("POST /v1/users/{id}/disable", a.require("user", "write", a.disableUser))

	mux.Handle("POST /v1/service-accounts", a.require("service-account", "write", a.createServiceAccount))
	mux.Handle("GET /v1/service-accounts", a.require("service-account", "read", a.listServiceAccounts))
	mux.Handle("GET /v1/service-accounts/{id}", a.require("service-account", "read", a.getServiceAccount))
	mux.Handle("POST /v1/service-accounts/{id}/disable", a.require("service-account", "write", a.disableServiceAccount))
	mux.Handle("POST /v1/service-accounts/{id}/secrets", a.require("service-account", "write", a.rotateSecret))
	mux.Handle("DELETE /v1/service-accounts/{id}/secrets/{secret}", a.require("service-account", "write", a.revokeSecret))

	mux.Handle("GET /v1/audit-events", a.require("audit", "read", a.listAudit))

	mux.Handle("POST /v1/experiments", a.require("experiment", "create", a.createExperiment))
	mux.Handle("GET /v1/experiments", a.require("experiment", "read", a.listExperiments))
	mux.Handle("GET /v1/experiments/{id}", a.require("experiment", "read", a.getExperiment))
	mux.Handle("GET /v1/experiments/{id}/transitions", a.require("experiment", "read", experimentItems(a, (*store.Tx).Transitions)))
	mux.Handle("GET /v1/experiments/{id}/manifests", a.require("experiment", "read", experimentItems(a, (*store.Tx).Manifests)))
	mux.Handle("GET /v1/experiments/{id}/kpis", a.require("experiment", "read", a.listKPIs))
	mux.Handle("GET /v1/experiments/{id}/analysis", a.require("analysis", "read", a.getAnalysis))
	mux.Handle("GET /v1/experiments/{id}/looks", a.require("analysis", "read", experimentItems(a, (*store.Tx).Looks)))
	mux.Handle("POST /v1/experiments/{id}/start", a.require("experiment", "start", a.command(experiment.Start, events.ExperimentStarted)))
	mux.Handle("POST /v1/experiments/{id}/stop", a.require("experiment", "stop", a.command(experiment.Cancel, events.ExperimentStop)))
	mux.Handle("POST /v1/experiments/{id}/promote", a.require("experiment", "promote", a.command(experiment.Promote, events.ExperimentPromote)))
	mux.Handle("POST /v1/experiments/{id}/rollback", a.require("experiment", "rollback", a.command(experiment.Rollback, events.ExperimentRollback)))
	mux.Handle("GET /v1/pipelines/templates", a.authenticated(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"items": pipeline.Templates()})
	}))
	mux.Handle("POST /v1/pipelines/validate", a.authenticated(a.validatePipeline))
	mux.Handle("POST /v1/pipelines", a.require("pipeline", "write", a.createPipeline))
	mux.Handle("GET /v1/pipelines", a.require("pipeline", "read", a.listPipelines))
	mux.Handle("GET /v1/pipelines/{name}", a.require("pipeline", "read", a.getPipeline))
	mux.Handle("POST /v1/experiments/{id}/captures", a.require("pipeline", "write", a.createCapture))
	mux.Handle("GET /v1/captures", a.require("pipeline", "read", a.listCaptures))
	mux.Handle("GET /v1/captures/{id}", a.require("pipeline", "read", a.getCapture))
	mux.Handle("DELETE /v1/captures/{id}", a.require("pipeline", "write", a.deleteCapture))
	mux.Handle("POST /v1/captures/{id}/preview", a.require("pipeline", "read", a.previewCapture))
	mux.Handle("POST /v1/captures/{id}/recommendations", a.require("pipeline", "write", a.recommendCapture))
	mux.Handle("GET /v1/recommendations/{id}", a.require("pipeline", "read", a.getRecommendation))
	mux.Handle("GET /v1/metrics", a.authenticated(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"items": experiment.Catalog()})
	}))
	mux.Handle("GET /v1/dead-letters", a.require("audit", "read", a.listDeadLetters))
	// The Broker's dead-letter sink. Expose the API only inside the cluster for this path, or
	// accept that anyone may add rows to a tenant's dead-letter list (bounded, never executed).
	if a.o.Internal {
		mux.HandleFunc("POST /internal/dead-letters", a.deadLetter)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		problem.Write(w, http.StatusNotFound, "no such endpoint: see docs/api.md for the API")
	})
	return mux
}

type principalKey struct{}

// principalFrom returns the verified caller of an authenticated request.
func principalFrom(ctx context.Context) auth.Principal {
	p, _ := ctx.Value(principalKey{}).(auth.Principal)
	return p
}

// authenticated verifies the access token and applies the per-tenant and per-token rate limits.
// Unauthenticated requests get 401 with nothing about why beyond "invalid or expired".
func (a *API) authenticated(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, err := auth.BearerToken(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="phoenix"`)
			problem.Write(w, http.StatusUnauthorized, "send a valid access token as Authorization: Bearer <token>")
			return
		}
		p, err := a.o.Verifier.Verify(r.Context(), token)
		if err != nil {
			if errors.Is(err, auth.ErrUnauthenticated) {
				logFrom(r).Info("token refused", "err", err)
				w.Header().Set("WWW-Authenticate", `Bearer realm="phoenix", error="invalid_token"`)
				problem.Write(w, http.StatusUnauthorized, "the access token is invalid, expired or revoked; log in again")
				return
			}
			logFrom(r).Error("token check failed", "err", err)
			problem.Write(w, http.StatusServiceUnavailable, "cannot check the token right now; retry shortly")
			return
		}
		// Handlers log with the caller's tenant and subject from here on.
		ctx := logging.With(r.Context(), "tenant", p.Tenant.String(), "subject", p.Subject)
		r = r.WithContext(context.WithValue(ctx, principalKey{}, p))
		for _, l := range []struct {
			key string
			lim ratelimit.Limit
		}{{"tenant:" + p.Tenant.String(), a.o.Limits.Tenant}, {"token:" + p.TokenID, a.o.Limits.Token}} {
			if !a.allowRate(w, r, l.key, l.lim, p.Tenant, p) {
				return
			}
		}
		next(w, r)
	})
}

// require authenticates the request and allows it only if the caller holds resource:action:
// through a role for users, directly for service accounts. Deny by default: an unknown role, or a
// catalog not yet loaded, grants nothing. A denial is audited.
func (a *API) require(resource, action string, next http.HandlerFunc) http.Handler {
	perm := resource + ":" + action
	return a.authenticated(func(w http.ResponseWriter, r *http.Request) {
		p := principalFrom(r.Context())
		if !a.roles.Allows(p, perm) {
			a.audit(r, p.Tenant, p, "authz.denied", "denied", "warning", "lacks "+perm, nil)
			problem.Write(w, http.StatusForbidden, fmt.Sprintf("you are not allowed to %s (needs %s)", action, perm))
			return
		}
		next(w, r)
	})
}

// errBusy means the request waited too long for its turn at the password hash.
var errBusy = errors.New("too many password checks in progress")

// hashing runs fn (argon2id work) when a slot is free, or gives up with errBusy when ctx ends.
func (a *API) hashing(ctx context.Context, fn func()) error {
	select {
	case a.kdf <- struct{}{}:
	case <-ctx.Done():
		return errBusy
	}
	defer func() { <-a.kdf }()
	fn()
	return nil
}

// allowRate counts one request against key; over the limit it answers 429 with Retry-After,
// audits the first refusal of each window in tenant (if known) and returns false.
func (a *API) allowRate(w http.ResponseWriter, r *http.Request, key string, lim ratelimit.Limit, tenant uuid.UUID, p auth.Principal) bool {
	return a.limit(w, r, key, lim, func() {
		if tenant != uuid.Nil {
			a.audit(r, tenant, p, "ratelimit.hit", "denied", "warning", "too many requests ("+lim.String()+")", map[string]any{"limit": lim.String()})
		}
	})
}

// limit counts one request against key and answers 429 with Retry-After over the limit, calling
// firstRefusal once per window so a flood of refusals is not a flood of audit writes. A limiter
// that cannot be reached fails closed with 503.
func (a *API) limit(w http.ResponseWriter, r *http.Request, key string, lim ratelimit.Limit, firstRefusal func()) bool {
	d, err := a.o.Limiter.Allow(r.Context(), key, lim)
	if err != nil {
		logFrom(r).Error("rate limiter unavailable", "err", err)
		problem.Write(w, http.StatusServiceUnavailable, "the service is busy; retry shortly")
		return false
	}
	if d.Allowed {
		return true
	}
	if a.o.Limiter.FirstRefusal(r.Context(), key, d.RetryAfter) {
		firstRefusal()
	}
	w.Header().Set("Retry-After", ratelimit.RetryAfterSeconds(d.RetryAfter))
	problem.Write(w, http.StatusTooManyRequests, "too many requests; retry after the time in Retry-After")
	return false
}

// storeError answers a store failure: not found is 404 (also for another tenant's resource, whose
// existence must not be revealed), anything else a 503 without internals.
func storeError(w http.ResponseWriter, r *http.Request, err error, what string) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		problem.Write(w, http.StatusNotFound, what+" not found")
	case errors.Is(err, store.ErrConflict):
		problem.Write(w, http.StatusConflict, what+" already exists")
	case store.IsInvalidInput(err):
		problem.Write(w, http.StatusBadRequest, "the input contains characters or values that cannot be stored")
	default:
		logFrom(r).Error("store call failed", "err", err)
		problem.Write(w, http.StatusServiceUnavailable, "the database is unavailable; retry shortly")
	}
}
