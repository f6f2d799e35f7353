// Package api is the HTTP function that serves Phoenix's public API. Every route except the key
// set is authenticated; the tenant comes only from the verified access token, and every store call
// runs in that tenant's transaction. Errors are RFC 9457 problem documents.
package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/phoenixotel/phoenix/shared/auth"
	"github.com/phoenixotel/phoenix/shared/bootstrap"
	"github.com/phoenixotel/phoenix/shared/function"
	"github.com/phoenixotel/phoenix/shared/logging"
	"github.com/phoenixotel/phoenix/shared/problem"
	"github.com/phoenixotel/phoenix/shared/store"
)

// Needs are the resources the API uses.
func Needs() bootstrap.Needs { return bootstrap.Needs{Store: true, Keys: true} }

// API holds the API's dependencies.
type API struct {
	store    *store.Store                    // tenant data, reached only through WithTenant
	verifier *auth.Verifier                  // checks access tokens
	keys     *auth.KeySet                    // published at /.well-known/jwks.json
	rbac     atomic.Pointer[map[string]rbac] // role -> permissions, loaded from the catalog at start
}

// rbac is the set of permissions ("resource:action") one role grants.
type rbac map[string]bool

// New wires the API.
func New(st *store.Store, v *auth.Verifier, keys *auth.KeySet) *API {
	return &API{store: st, verifier: v, keys: keys}
}

// Service is the API as a deployable.
func Service(res *bootstrap.Resources) (function.Service, error) {
	a := New(res.Store, res.Verifier, res.Keys)
	return function.Service{
		Name: "api",
		HTTP: a.Routes(),
		Start: func(ctx context.Context) error {
			if err := res.Start(ctx); err != nil {
				return err
			}
			return a.LoadRoles(ctx)
		},
	}, nil
}

// LoadRoles reads the RBAC catalog. Until it has run every authorization is denied.
func (a *API) LoadRoles(ctx context.Context) error {
	cat, err := a.store.RolePermissions(ctx)
	if err != nil {
		return err
	}
	m := make(map[string]rbac, len(cat))
	for role, perms := range cat {
		set := rbac{}
		for _, p := range perms {
			set[p.String()] = true
		}
		m[role] = set
	}
	a.rbac.Store(&m)
	return nil
}

// Routes is the API's HTTP surface.
func (a *API) Routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+auth.JWKSPath, auth.JWKSHandler(a.keys))
	mux.Handle("POST /v1/experiments", a.require("experiment", "create", a.createExperiment))
	mux.Handle("GET /v1/experiments", a.require("experiment", "read", a.listExperiments))
	mux.Handle("GET /v1/experiments/{id}", a.require("experiment", "read", a.getExperiment))
	mux.Handle("GET /v1/experiments/{id}/transitions", a.require("experiment", "read", a.listTransitions))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		problem.Write(w, http.StatusNotFound, "no such endpoint: see the README for the API")
	})
	return mux
}

type principalKey struct{}

// principalFrom returns the verified caller of an authenticated request.
func principalFrom(ctx context.Context) auth.Principal {
	p, _ := ctx.Value(principalKey{}).(auth.Principal)
	return p
}

// require authenticates the request and allows it only if one of the caller's roles grants
// resource:action. Deny by default: an unknown role, or a catalog not yet loaded, grants nothing.
func (a *API) require(resource, action string, next http.HandlerFunc) http.Handler {
	perm := resource + ":" + action
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, err := auth.BearerToken(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="phoenix"`)
			problem.Write(w, http.StatusUnauthorized, "send a valid access token as Authorization: Bearer <token>")
			return
		}
		p, err := a.verifier.Verify(r.Context(), token)
		if err != nil {
			if errors.Is(err, auth.ErrUnauthenticated) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="phoenix", error="invalid_token"`)
				problem.Write(w, http.StatusUnauthorized, "the access token is invalid or expired; log in again")
				return
			}
			problem.Write(w, http.StatusServiceUnavailable, "cannot check the token right now; retry shortly")
			return
		}
		if !a.allowed(p.Roles, perm) {
			problem.Write(w, http.StatusForbidden, fmt.Sprintf("your role does not allow %s", perm))
			return
		}
		// Handlers log with the caller's tenant and subject from here on; the request log line
		// written by the runtime keeps only the request id.
		ctx := logging.With(r.Context(), "tenant", p.Tenant.String(), "subject", p.Subject)
		next(w, r.WithContext(context.WithValue(ctx, principalKey{}, p)))
	})
}

func (a *API) allowed(roles []string, perm string) bool {
	m := a.rbac.Load()
	if m == nil {
		return false
	}
	for _, role := range roles {
		if (*m)[role][perm] {
			return true
		}
	}
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
	default:
		logFrom(r).Error("store call failed", "err", err)
		problem.Write(w, http.StatusServiceUnavailable, "the database is unavailable; retry shortly")
	}
}
