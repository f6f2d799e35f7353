package revocation

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/singleflight"

	"github.com/phoenixotel/phoenix/shared/store"
)

// rebuildTimeout bounds one rebuild. It is not the caller's deadline: every check that waits on
// the rebuild shares it, so the first caller going away must not fail the others.
const rebuildTimeout = 5 * time.Second

// claimTTL outlives any rebuild, so an abandoned claim cannot block later ones for long.
const claimTTL = 2 * rebuildTimeout

// raiseLua sets a "valid after" marker (KEYS[1]) to ARGV[1] milliseconds unless it already holds
// a later instant, and makes it live at least ARGV[2] milliseconds.
const raiseLua = `
local function raise(key, ms, ttl)
  local cur = tonumber(redis.call('GET', key))
  if cur == nil or cur < tonumber(ms) then
    redis.call('SET', key, ms, 'PX', ttl)
  elseif redis.call('PTTL', key) < tonumber(ttl) then
    redis.call('PEXPIRE', key, ttl)
  end
end
`

const raiseScript = raiseLua + `raise(KEYS[1], ARGV[1], ARGV[2])
return 1`

// fillScript writes a rebuild back and sets the sentinel, only if the rebuild's claim (KEYS[1],
// value ARGV[1]) still stands. The claim was set before PostgreSQL was read: if Redis lost its
// memory since, markers written to Redis alone in between (their PostgreSQL rows committed after
// the read) may be gone, so this rebuild must not declare the cache complete. KEYS[2] is the
// sentinel, ARGV[2] its lifetime in ms; then for each marker KEYS[2+i]: ARGV[3i] "set" or
// "raise", ARGV[3i+1] the value, ARGV[3i+2] the lifetime in ms.
const fillScript = raiseLua + `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
for i = 3, #KEYS do
  local j = 3 * (i - 2)
  if ARGV[j] == 'raise' then
    raise(KEYS[i], ARGV[j + 1], ARGV[j + 2])
  else
    redis.call('SET', KEYS[i], ARGV[j + 1], 'PX', ARGV[j + 2])
  end
end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
redis.call('DEL', KEYS[1])
return 1`

// tenantMarkers reads the tenant's live markers from PostgreSQL, for the check that found the
// tenant's sentinel missing, and writes them back to Redis.
func (s *Store) tenantMarkers(ctx context.Context, tenant uuid.UUID) ([]store.Revocation, error) {
	scope := tenant.String()
	return shared(ctx, &s.flight, scope, func(ctx context.Context) ([]store.Revocation, error) {
		nonce, claimed := s.claim(ctx, scope)
		var rs []store.Revocation
		err := s.db.ReadTenant(ctx, tenant, func(tx *store.Tx) (err error) {
			rs, err = tx.LiveRevocations(ctx)
			return err
		})
		if err != nil {
			s.metrics.rebuilt(rebuildFailed)
			return nil, fmt.Errorf("rebuild revocations of tenant %s: %w", tenant, err)
		}
		var w batch
		now := s.now()
		for _, r := range rs {
			ttl := r.ExpiresAt.Sub(now)
			switch r.Kind {
			case store.RevokedSession:
				w.add("set", s.sessionKey(tenant, r.Target), "1", ttl)
			case store.SubjectValidAfter:
				w.add("raise", s.subjectKey(tenant, r.Target), strconv.FormatInt(r.ValidAfter.UnixMilli(), 10), ttl)
			case store.TenantValidAfter:
				w.add("raise", s.tenantKey(tenant), strconv.FormatInt(r.ValidAfter.UnixMilli(), 10), ttl)
			}
		}
		s.writeBack(ctx, scope, nonce, claimed, w)
		return rs, nil
	})
}

// tokenMarkers reads every live revoked token id from PostgreSQL, for the check that found the
// tokens sentinel missing, and writes them back to Redis.
func (s *Store) tokenMarkers(ctx context.Context) ([]store.RevokedToken, error) {
	return shared(ctx, &s.flight, tokensScope, func(ctx context.Context) ([]store.RevokedToken, error) {
		nonce, claimed := s.claim(ctx, tokensScope)
		ts, err := s.db.RevokedAccessTokens(ctx)
		if err != nil {
			s.metrics.rebuilt(rebuildFailed)
			return nil, fmt.Errorf("rebuild revoked tokens: %w", err)
		}
		var w batch
		now := s.now()
		for _, t := range ts {
			w.add("set", s.tokenKey(t.ID), "1", t.ExpiresAt.Sub(now))
		}
		s.writeBack(ctx, tokensScope, nonce, claimed, w)
		return ts, nil
	})
}

// claim marks a rebuild of scope as started, before PostgreSQL is read; see fillScript. Without
// a claim the rebuild still answers from PostgreSQL but leaves the cache cold.
func (s *Store) claim(ctx context.Context, scope string) (nonce string, ok bool) {
	nonce = uuid.NewString()
	return nonce, s.rdb.Set(ctx, s.claimKey(scope), nonce, claimTTL).Err() == nil
}

// writeBack puts a rebuild's markers and scope's sentinel into Redis if the claim still stands.
// A failure leaves the cache cold, which costs the next check another rebuild, never a wrong
// answer; the check at hand answers from what PostgreSQL said.
func (s *Store) writeBack(ctx context.Context, scope, nonce string, claimed bool, w batch) {
	if !claimed {
		s.metrics.rebuilt(rebuildFailed)
		return
	}
	keys := append([]string{s.claimKey(scope), s.warmKey(scope)}, w.keys...)
	args := append([]any{nonce, s.resync.Milliseconds()}, w.args...)
	done, err := s.fill.Run(ctx, s.rdb, keys, args...).Int()
	switch {
	case err != nil:
		s.metrics.rebuilt(rebuildFailed)
	case done == 0:
		s.metrics.rebuilt(rebuildSuperseded)
	default:
		s.metrics.rebuilt(rebuildDone)
	}
}

// batch is the markers one rebuild writes back, as fillScript takes them.
type batch struct {
	keys []string // the markers' keys
	args []any    // per key: operation, value, lifetime in ms
}

// add appends one marker; one that has expired by now is left out.
func (b *batch) add(op, key, value string, ttl time.Duration) {
	if ttl < time.Millisecond {
		return
	}
	b.keys = append(b.keys, key)
	b.args = append(b.args, op, value, ttl.Milliseconds())
}

// shared runs fn once for every concurrent caller with the same key in this process, detached
// from any one caller's context; each caller stops waiting when its own context ends.
func shared[T any](ctx context.Context, g *singleflight.Group, key string, fn func(context.Context) (T, error)) (T, error) {
	ch := g.DoChan(key, func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rebuildTimeout)
		defer cancel()
		return fn(ctx)
	})
	var zero T
	select {
	case r := <-ch:
		if r.Err != nil {
			return zero, r.Err
		}
		return r.Val.(T), nil
	case <-ctx.Done():
		return zero, fmt.Errorf("wait for the revocation cache rebuild: %w", ctx.Err())
	}
}
