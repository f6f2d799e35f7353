package revocation

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/auth"
	"github.com/phoenixotel/phoenix/shared/store"
)

// Every revocation is written to PostgreSQL, then to Redis. A PostgreSQL failure fails it with
// nothing cached, so the cache never holds what the record lacks. A Redis failure after
// PostgreSQL took the marker fails it too, so that the caller retries or reports it: the marker
// is safe, but a warm cache would not show it until its sentinel expires (Options.Resync), so the
// sentinel is dropped as well if Redis still takes that.

// RevokeToken revokes one access token until it expires.
func (s *Store) RevokeToken(ctx context.Context, jti string, expires time.Time) error {
	until := expires.Add(auth.MaxLeeway)
	ttl := until.Sub(s.now())
	if ttl <= 0 {
		return nil
	}
	if s.db != nil {
		if err := s.db.RevokeAccessToken(ctx, jti, until); err != nil {
			return fmt.Errorf("revoke token %s: %w", jti, err)
		}
	}
	if err := s.rdb.Set(ctx, s.tokenKey(jti), "1", ttl).Err(); err != nil {
		return s.uncached(ctx, tokensScope, fmt.Errorf("revoke token %s in the cache: %w", jti, err))
	}
	return nil
}

// RevokeSession revokes every access token of one login session.
func (s *Store) RevokeSession(ctx context.Context, tenant uuid.UUID, sid string) error {
	r := store.Revocation{Kind: store.RevokedSession, Target: sid, ExpiresAt: s.now().Add(s.keep)}
	if err := s.record(ctx, tenant, r); err != nil {
		return fmt.Errorf("revoke session %s: %w", sid, err)
	}
	if err := s.rdb.Set(ctx, s.sessionKey(tenant, sid), "1", s.keep).Err(); err != nil {
		return s.uncached(ctx, tenant.String(), fmt.Errorf("revoke session %s in the cache: %w", sid, err))
	}
	s.announce(ctx, tenant)
	return nil
}

// RevokeSubjectBefore revokes every token of subject issued before t.
func (s *Store) RevokeSubjectBefore(ctx context.Context, tenant uuid.UUID, subject string, t time.Time) error {
	return s.revokeSubject(ctx, tenant, subject, t, func(r store.Revocation) error { return s.record(ctx, tenant, r) })
}

// RevokeSubjectBeforeIn is RevokeSubjectBefore inside tx, the caller's transaction of the
// subject's tenant: the marker commits with the change that caused it (a password, role or
// secret change), and no second connection is taken while the caller holds one — as many such
// changes at once as the pool has connections would otherwise wait on each other until their
// deadline. The cache takes the marker before the commit: if the commit fails, tokens stay
// refused until the marker expires, the safe side.
func (s *Store) RevokeSubjectBeforeIn(ctx context.Context, tx *store.Tx, subject string, t time.Time) error {
	return s.revokeSubject(ctx, tx.TenantID(), subject, t, func(r store.Revocation) error { return tx.RecordRevocation(ctx, r) })
}

// revokeSubject records a subject's "valid after" marker with record, then caches it.
func (s *Store) revokeSubject(ctx context.Context, tenant uuid.UUID, subject string, t time.Time, record func(store.Revocation) error) error {
	r := store.Revocation{Kind: store.SubjectValidAfter, Target: subject, ValidAfter: t, ExpiresAt: s.now().Add(s.keep)}
	if err := record(r); err != nil {
		return fmt.Errorf("record revocation: %w", err)
	}
	if err := s.raiseCached(ctx, tenant, r, s.subjectKey(tenant, subject)); err != nil {
		return err
	}
	s.announce(ctx, tenant)
	return nil
}

// RevokeTenantBefore revokes every token of the tenant issued before t.
func (s *Store) RevokeTenantBefore(ctx context.Context, tenant uuid.UUID, t time.Time) error {
	r := store.Revocation{Kind: store.TenantValidAfter, ValidAfter: t, ExpiresAt: s.now().Add(s.keep)}
	if err := s.raiseAfter(ctx, tenant, r, s.tenantKey(tenant)); err != nil {
		return err
	}
	s.announce(ctx, tenant)
	return nil
}

// raiseAfter records a "valid after" marker and raises its cached copy, never lowers it: two
// revocations racing must leave the later one in force, in PostgreSQL and in Redis alike.
func (s *Store) raiseAfter(ctx context.Context, tenant uuid.UUID, r store.Revocation, key string) error {
	if err := s.record(ctx, tenant, r); err != nil {
		return fmt.Errorf("record revocation: %w", err)
	}
	return s.raiseCached(ctx, tenant, r, key)
}

// raiseCached raises the cached copy of a recorded "valid after" marker.
func (s *Store) raiseCached(ctx context.Context, tenant uuid.UUID, r store.Revocation, key string) error {
	ms := strconv.FormatInt(r.ValidAfter.UnixMilli(), 10)
	if err := s.raise.Run(ctx, s.rdb, []string{key}, ms, s.keep.Milliseconds()).Err(); err != nil {
		return s.uncached(ctx, tenant.String(), fmt.Errorf("record revocation in the cache: %w", err))
	}
	return nil
}

// record writes r to PostgreSQL in the tenant's own transaction, if there is a record.
func (s *Store) record(ctx context.Context, tenant uuid.UUID, r store.Revocation) error {
	if s.db == nil {
		return nil
	}
	return s.db.WithTenant(ctx, tenant, func(tx *store.Tx) error { return tx.RecordRevocation(ctx, r) })
}

// uncached handles a marker PostgreSQL holds and Redis refused: it drops scope's sentinel, so the
// next check rebuilds from the record, and returns err.
func (s *Store) uncached(ctx context.Context, scope string, err error) error {
	if s.db != nil {
		_ = s.rdb.Del(context.WithoutCancel(ctx), s.warmKey(scope)).Err()
	}
	return err
}

// announce sends the Notify hint; the periodic re-check covers a lost one.
func (s *Store) announce(ctx context.Context, tenant uuid.UUID) {
	if s.notify != nil {
		_ = s.notify(context.WithoutCancel(ctx), tenant)
	}
}
