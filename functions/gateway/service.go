package gateway

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoenixotel/phoenix/shared/auth"
	"github.com/phoenixotel/phoenix/shared/bootstrap"
	"github.com/phoenixotel/phoenix/shared/function"
	"github.com/phoenixotel/phoenix/shared/realtime"
)

// ChannelPrefix prefixes every Redis channel Phoenix publishes experiment events on.
const ChannelPrefix = realtime.DefaultPrefix

// Needs are the resources the gateway uses.
func Needs() bootstrap.Needs { return bootstrap.Needs{Redis: true, Keys: true} }

// tokenAuthenticator adapts the shared access-token verifier, so the gateway accepts exactly the
// tokens the API accepts.
type tokenAuthenticator struct {
	verifier *auth.Verifier // verifies signature, claims and revocation
}

func (a tokenAuthenticator) Authenticate(r *http.Request) (Identity, error) {
	token, err := auth.BearerToken(r)
	if err != nil {
		return Identity{}, err
	}
	p, err := a.verifier.Verify(r.Context(), token)
	if err != nil {
		return Identity{}, err
	}
	return Identity{Tenant: p.Tenant, Subject: p.Subject, ExpiresAt: p.ExpiresAt,
		// The same verification again: signature aside, it re-reads the revocation markers.
		Revoked: func(ctx context.Context) (bool, error) {
			_, err := a.verifier.Verify(ctx, token)
			if errors.Is(err, auth.ErrUnauthenticated) {
				return true, nil
			}
			return false, err
		}}, nil
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

// Service is the gateway as a deployable.
func Service(res *bootstrap.Resources) (function.Service, error) {
	if res.Redis == nil || res.Verifier == nil {
		return function.Service{}, errors.New("gateway needs Redis and the token key set")
	}
	reg := prometheus.NewRegistry()
	d := &deferred{}
	return function.Service{
		Name:     "gateway",
		HTTP:     d,
		Registry: reg,
		Start: func(ctx context.Context) error {
			g, err := New(Options{
				Redis:           res.Redis,
				ChannelPrefix:   ChannelPrefix,
				Authenticator:   tokenAuthenticator{verifier: res.Verifier},
				AllowedOrigins:  res.Config.AllowedOrigins,
				RecheckInterval: res.Config.WSRecheck,
				Logger:          res.Logger,
				Registerer:      reg,
			})
			if err != nil {
				return err
			}
			d.gw.Store(g)
			return nil
		},
		Stop: func(ctx context.Context) error {
			if g := d.gw.Load(); g != nil {
				return g.Shutdown(ctx)
			}
			return nil
		},
	}, nil
}
