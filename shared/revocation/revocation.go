// Package revocation records revoked access tokens in Redis and answers, for every verifier (the
// API and the gateway alike), whether a token is still good. It owns four kinds of marker:
//
//   - a token id (logout), kept until the token would have expired anyway;
//   - a session id (logout, refresh-token reuse), ending every token of that login;
//   - a subject's "valid after" instant (password or role change, user disabled);
//   - a tenant's "valid after" instant (tenant suspended).
//
// Markers live only as long as a token they could affect, so Redis memory stays bounded. The
// durable record (users.tokens_valid_after, tenants.tokens_valid_after, revoked refresh families)
// is PostgreSQL's; this package is the fast path every request takes. Run Redis with persistence in
// production: a restart that loses markers lets revoked access tokens live out their few minutes.
package revocation

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/phoenixotel/phoenix/shared/auth"
)

// Store is the Redis-backed revocation list. It implements auth.Revocation.
type Store struct {
	rdb    *redis.Client                                     // where markers live
	prefix string                                            // key prefix, so several deployments or tests can share one Redis
	keep   time.Duration                                     // how long "valid after" and session markers live: the longest token life plus leeway
	notify func(ctx context.Context, tenant uuid.UUID) error // tells live connections to re-check now; may be nil
}

// Options configure a Store; the zero value suits production.
type Options struct {
	Prefix string        // key prefix; default "phoenix"
	Keep   time.Duration // marker lifetime; default auth.MaxTTL + auth.MaxLeeway
	// Notify, if set, is called after a session, subject or tenant revocation is stored, so that
	// long-lived connections of that tenant (the WebSocket gateway) re-check at once instead of
	// at their next periodic check. It is a hint: its failure does not fail the revocation.
	Notify func(ctx context.Context, tenant uuid.UUID) error
}

// New returns a Store over rdb.
func New(rdb *redis.Client, o Options) *Store {
	if o.Prefix == "" {
		o.Prefix = "phoenix"
	}
	if o.Keep <= 0 {
		o.Keep = auth.MaxTTL + auth.MaxLeeway
	}
	return &Store{rdb: rdb, prefix: o.Prefix, keep: o.Keep, notify: o.Notify}
}

func (s *Store) tokenKey(jti string) string { return s.prefix + ":revoked:token:" + jti }
func (s *Store) sessionKey(tenant uuid.UUID, sid string) string {
	return s.prefix + ":revoked:session:" + tenant.String() + ":" + sid
}
func (s *Store) subjectKey(tenant uuid.UUID, subject string) string {
	return s.prefix + ":valid-after:subject:" + tenant.String() + ":" + subject
}
func (s *Store) tenantKey(tenant uuid.UUID) string {
	return s.prefix + ":valid-after:tenant:" + tenant.String()
}

// Revoked reports whether p's token was revoked. One round trip reads every marker that could
// apply.
func (s *Store) Revoked(ctx context.Context, p auth.Principal, issuedAt time.Time) (bool, error) {
	keys := []string{s.tokenKey(p.TokenID), s.subjectKey(p.Tenant, p.Subject), s.tenantKey(p.Tenant)}
	if p.SessionID != "" {
		keys = append(keys, s.sessionKey(p.Tenant, p.SessionID))
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return false, fmt.Errorf("read revocation markers: %w", err)
	}
	if vals[0] != nil || (len(vals) > 3 && vals[3] != nil) {
		return true, nil
	}
	for _, v := range vals[1:3] {
		if v == nil {
			continue
		}
		after, err := parseMillis(v)
		if err != nil {
			return false, err
		}
		if issuedAt.UnixMilli() < after {
			return true, nil
		}
	}
	return false, nil
}

// RevokeToken revokes one access token until it expires.
func (s *Store) RevokeToken(ctx context.Context, jti string, expires time.Time) error {
	ttl := time.Until(expires) + auth.MaxLeeway
	if ttl <= 0 {
		return nil
	}
	if err := s.rdb.Set(ctx, s.tokenKey(jti), "1", ttl).Err(); err != nil {
		return fmt.Errorf("revoke token %s: %w", jti, err)
	}
	return nil
}

// RevokeSession revokes every access token of one login session.
func (s *Store) RevokeSession(ctx context.Context, tenant uuid.UUID, sid string) error {
	if err := s.rdb.Set(ctx, s.sessionKey(tenant, sid), "1", s.keep).Err(); err != nil {
		return fmt.Errorf("revoke session %s: %w", sid, err)
	}
	s.announce(ctx, tenant)
	return nil
}

// announce sends the Notify hint; the periodic re-check covers a lost one.
func (s *Store) announce(ctx context.Context, tenant uuid.UUID) {
	if s.notify != nil {
		_ = s.notify(context.WithoutCancel(ctx), tenant)
	}
}

// RevokeSubjectBefore revokes every token of subject issued before t.
func (s *Store) RevokeSubjectBefore(ctx context.Context, tenant uuid.UUID, subject string, t time.Time) error {
	if err := s.setAfter(ctx, s.subjectKey(tenant, subject), t); err != nil {
		return err
	}
	s.announce(ctx, tenant)
	return nil
}

// RevokeTenantBefore revokes every token of the tenant issued before t.
func (s *Store) RevokeTenantBefore(ctx context.Context, tenant uuid.UUID, t time.Time) error {
	if err := s.setAfter(ctx, s.tenantKey(tenant), t); err != nil {
		return err
	}
	s.announce(ctx, tenant)
	return nil
}

// setAfter raises a "valid after" marker, never lowers it: two revocations racing must leave
// the later one in force.
func (s *Store) setAfter(ctx context.Context, key string, t time.Time) error {
	ms := t.UnixMilli()
	err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
		cur, err := tx.Get(ctx, key).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		if err == nil {
			if prev, perr := strconv.ParseInt(cur, 10, 64); perr == nil && prev >= ms {
				_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error { return p.Expire(ctx, key, s.keep).Err() })
				return err
			}
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			return p.Set(ctx, key, strconv.FormatInt(ms, 10), s.keep).Err()
		})
		return err
	}, key)
	if err != nil {
		return fmt.Errorf("record revocation: %w", err)
	}
	return nil
}

func parseMillis(v any) (int64, error) {
	str, ok := v.(string)
	if !ok {
		return 0, fmt.Errorf("revocation marker has type %T", v)
	}
	ms, err := strconv.ParseInt(str, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("revocation marker %q is not a time", str)
	}
	return ms, nil
}
