package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/ingesttoken"
	"github.com/phoenixotel/phoenix/shared/pipeline"
	"github.com/phoenixotel/phoenix/shared/store"
)

// Why a request may not write; the handler maps each to its status.
var (
	// errUnauthenticated: no token, a malformed one, an unknown, revoked or expired one (401).
	errUnauthenticated = errors.New("unauthenticated")
	// errNotRunning: the token is good but its experiment is not running (409, not retried).
	errNotRunning = errors.New("experiment not running")
)

// grant is what a verified token lets a request do.
type grant struct {
	tenant  uuid.UUID          // the token's tenant
	scope   store.IngestScope  // experiment, variant, expiry, and the experiment's state
	target  target             // what measure checks resources against
	expires time.Time          // when this cached answer must be read again
	missing bool               // the tenant has no such token (cached too, so guessing costs no queries)
	variant experiment.Variant // scope.Variant, for keys
}

// scopes caches what tokens grant for a short time, so a collector's steady stream of requests
// costs one database read per token every ttl, not one per request. The price is that revoking a
// token, or an experiment leaving running, takes effect within ttl.
type scopes struct {
	store *store.Store            // token rows, read in the token's tenant
	ttl   time.Duration           // how long an answer is reused
	max   int                     // entries kept before the cache starts over (bounds memory)
	now   func() time.Time        // the clock
	mu    sync.Mutex              // guards byKey
	byKey map[string]*cachedGrant // tenant and token hash -> answer
}

// cachedGrant is one cached answer, read from the database by the first request that needed it
// while concurrent requests for the same token wait for it.
type cachedGrant struct {
	ready chan struct{} // closed once g and err are set
	g     grant         // the answer
	err   error         // a failure to read; never reused by later requests
}

// stale reports whether a settled answer may no longer be used at now.
func (c *cachedGrant) stale(now time.Time) bool {
	select {
	case <-c.ready:
		return c.err != nil || !now.Before(c.g.expires)
	default:
		return false // being read: wait for it
	}
}

// authorize returns what token grants now, or errUnauthenticated, errNotRunning, or another
// error when the database could not answer (the caller answers 503 and the collector retries).
func (s *scopes) authorize(ctx context.Context, token string) (grant, error) {
	tenant, sum, err := ingesttoken.Parse(token)
	if err != nil {
		return grant{}, fmt.Errorf("%w: %w", errUnauthenticated, err)
	}
	key := string(tenant[:]) + string(sum)
	now := s.now()
	s.mu.Lock()
	c := s.byKey[key]
	fetch := c == nil || c.stale(now)
	if fetch {
		if len(s.byKey) >= s.max {
			clear(s.byKey)
		}
		c = &cachedGrant{ready: make(chan struct{})}
		s.byKey[key] = c
	}
	s.mu.Unlock()
	if fetch {
		// Not tied to this request alone: others wait for the answer.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		c.g, c.err = s.lookup(lctx, tenant, sum, now)
		cancel()
		close(c.ready)
	}
	select {
	case <-c.ready:
	case <-ctx.Done():
		return grant{}, ctx.Err()
	}
	if c.err != nil {
		return grant{}, c.err
	}
	g := c.g
	switch {
	case g.missing:
		return grant{}, fmt.Errorf("%w: unknown ingest token", errUnauthenticated)
	case g.scope.Revoked:
		return grant{}, fmt.Errorf("%w: ingest token %s is revoked", errUnauthenticated, g.scope.TokenID)
	case !now.Before(g.scope.ExpiresAt):
		return grant{}, fmt.Errorf("%w: ingest token %s expired", errUnauthenticated, g.scope.TokenID)
	case g.scope.State != experiment.Running:
		return g, fmt.Errorf("%w: experiment %s is %s", errNotRunning, g.scope.ExperimentID, g.scope.State)
	}
	return g, nil
}

// lookup reads a token's row and its experiment in the token's tenant.
func (s *scopes) lookup(ctx context.Context, tenant uuid.UUID, sum []byte, now time.Time) (grant, error) {
	var sc store.IngestScope
	err := s.store.WithTenant(ctx, tenant, func(tx *store.Tx) (err error) {
		sc, err = tx.IngestScope(ctx, sum)
		return err
	})
	if errors.Is(err, store.ErrNotFound) || store.IsInvalidInput(err) {
		return grant{tenant: tenant, missing: true, expires: now.Add(s.ttl)}, nil
	}
	if err != nil {
		return grant{}, fmt.Errorf("read ingest token: %w", err)
	}
	return grant{tenant: tenant, scope: sc, variant: sc.Variant, expires: now.Add(s.ttl),
		target: target{experiment: sc.ExperimentID.String(), variant: string(sc.Variant), critical: compileCritical(sc.CriticalProcesses),
			interval: pipeline.ScrapeInterval(sc.Pipeline.Template, sc.Pipeline.Parameters).Milliseconds()}}, nil
}
