package revocation

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/phoenixotel/phoenix/shared/auth"
	"github.com/phoenixotel/phoenix/shared/store"
	"github.com/phoenixotel/phoenix/test/monitoring/promtest"
	"github.com/phoenixotel/phoenix/test/pgtest"
	"github.com/phoenixotel/phoenix/test/redistest"
)

// world is one test's record and cache: a migrated database as phoenix_app, and the real Redis.
// Each Store it makes gets a key prefix of its own unless told to share one.
type world struct {
	db  *store.Store  // the record
	rdb *redis.Client // the cache's server
}

func newWorld(t *testing.T) *world {
	t.Helper()
	return &world{db: pgtest.Migrated(t).AppStore(t, store.Options{}), rdb: redistest.Client(t)}
}

// store is a durable Store under a fresh prefix (or o.Prefix), keeping markers a minute.
func (w *world) store(t *testing.T, o Options) *Store {
	t.Helper()
	if o.Prefix == "" {
		o.Prefix = redistest.Prefix(t, w.rdb)
	}
	if o.Keep == 0 {
		o.Keep = time.Minute
	}
	o.Store = w.db
	return New(w.rdb, o)
}

// tenant creates a tenant: the record's markers belong to real tenants.
func (w *world) tenant(t *testing.T) uuid.UUID {
	t.Helper()
	return pgtest.Tenant(t, w.db, "t-"+uuid.NewString()[:8])
}

// forget deletes every key of s's prefix, as a Redis restarted without persistence would have
// lost them; other suites' keys on the shared Redis are left alone.
func forget(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	var keys []string
	iter := s.rdb.Scan(ctx, 0, s.prefix+":*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	if len(keys) > 0 {
		if err := s.rdb.Del(ctx, keys...).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// sample is the value of counter name{result} as a registry exports it.
func sample(t *testing.T, m *Metrics, name, result string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := reg.Register(m); err != nil {
		t.Fatal(err)
	}
	return promtest.Value(t, reg, name, promtest.Labels{"result": result})
}

func TestRevoked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	now := time.Now()
	// The record is one database for every case: each case's token, session and tenants are its own.
	tests := []struct {
		name    string
		revoke  func(s *Store, p auth.Principal, other uuid.UUID) error
		issued  time.Time
		revoked bool
	}{
		{"nothing revoked", func(*Store, auth.Principal, uuid.UUID) error { return nil }, now, false},
		{"token revoked", func(s *Store, p auth.Principal, _ uuid.UUID) error {
			return s.RevokeToken(ctx, p.TokenID, now.Add(time.Minute))
		}, now, true},
		{"another token revoked", func(s *Store, p auth.Principal, _ uuid.UUID) error {
			return s.RevokeToken(ctx, p.TokenID+"-other", now.Add(time.Minute))
		}, now, false},
		{"session revoked", func(s *Store, p auth.Principal, _ uuid.UUID) error {
			return s.RevokeSession(ctx, p.Tenant, p.SessionID)
		}, now, true},
		{"same session id in another tenant", func(s *Store, p auth.Principal, other uuid.UUID) error {
			return s.RevokeSession(ctx, other, p.SessionID)
		}, now, false},
		{"subject valid after, older token", func(s *Store, p auth.Principal, _ uuid.UUID) error {
			return s.RevokeSubjectBefore(ctx, p.Tenant, p.Subject, now.Add(time.Millisecond))
		}, now, true},
		{"subject valid after, newer token", func(s *Store, p auth.Principal, _ uuid.UUID) error {
			return s.RevokeSubjectBefore(ctx, p.Tenant, p.Subject, now)
		}, now.Add(time.Millisecond), false},
		{"tenant valid after", func(s *Store, p auth.Principal, _ uuid.UUID) error {
			return s.RevokeTenantBefore(ctx, p.Tenant, now.Add(time.Second))
		}, now, true},
		{"other tenant valid after", func(s *Store, _ auth.Principal, other uuid.UUID) error {
			return s.RevokeTenantBefore(ctx, other, now.Add(time.Second))
		}, now, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := w.store(t, Options{})
			p := auth.Principal{Subject: "user-1", Tenant: w.tenant(t), TokenID: uuid.NewString(), SessionID: "sid-1", IssuedAt: now}
			if err := tt.revoke(s, p, w.tenant(t)); err != nil {
				t.Fatal(err)
			}
			got, err := s.Revoked(ctx, p, tt.issued)
			if err != nil || got != tt.revoked {
				t.Fatalf("Revoked = %v, %v; want %v", got, err, tt.revoked)
			}
			// The same answer once Redis has forgotten everything: PostgreSQL holds the record.
			forget(t, s)
			got, err = s.Revoked(ctx, p, tt.issued)
			if err != nil || got != tt.revoked {
				t.Fatalf("after the cache was lost, Revoked = %v, %v; want %v", got, err, tt.revoked)
			}
		})
	}
}

func TestValidAfter_NeverMovesBackwards(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	for _, lose := range []bool{false, true} {
		t.Run(map[bool]string{false: "cache", true: "record, after the cache was lost"}[lose], func(t *testing.T) {
			s := w.store(t, Options{})
			tenant := w.tenant(t)
			later := time.Now().Add(time.Hour)
			if err := s.RevokeSubjectBefore(ctx, tenant, "u", later); err != nil {
				t.Fatal(err)
			}
			if err := s.RevokeSubjectBefore(ctx, tenant, "u", time.Now()); err != nil {
				t.Fatal(err)
			}
			if lose {
				forget(t, s)
			}
			p := auth.Principal{Subject: "u", Tenant: tenant, TokenID: "j"}
			if revoked, err := s.Revoked(ctx, p, later.Add(-time.Minute)); err != nil || !revoked {
				t.Fatalf("an earlier revocation lowered the later valid-after instant (%v)", err)
			}
		})
	}
}

func TestMarkers_Expire(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	s := w.store(t, Options{})
	if err := s.RevokeToken(ctx, "j", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	ttl := s.rdb.TTL(ctx, s.tokenKey("j")).Val()
	if ttl <= time.Minute || ttl > time.Minute+auth.MaxLeeway+time.Second {
		t.Fatalf("token marker ttl %v, want about exp + leeway", ttl)
	}
	if err := s.RevokeToken(ctx, "old", time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := s.rdb.Exists(ctx, s.tokenKey("old")).Val(); n != 0 {
		t.Fatal("marker stored for a token long expired")
	}
	if tokens, _ := count(t, w.db, w.tenant(t)); tokens != 1 {
		t.Fatalf("%d token rows, want only the live one", tokens)
	}
}

func TestRevoked_WithoutARecordUsesRedisAlone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Client(t)
	s := New(rdb, Options{Prefix: redistest.Prefix(t, rdb)})
	p := auth.Principal{Subject: "u", Tenant: uuid.New(), TokenID: "j", SessionID: "sid"}
	if err := s.RevokeSession(ctx, p.Tenant, "sid"); err != nil {
		t.Fatal(err)
	}
	if revoked, err := s.Revoked(ctx, p, time.Now()); err != nil || !revoked {
		t.Fatalf("Revoked = %v, %v; want true", revoked, err)
	}
}

func TestMetrics_CountEveryAnswerAndShareARegistry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	m := NewMetrics()
	reg := prometheus.NewRegistry()
	if err := reg.Register(m); err != nil {
		t.Fatal(err)
	}
	// Two views of one cache (the gateway's) count into the same instruments.
	a := w.store(t, Options{Metrics: m})
	b := w.store(t, Options{Prefix: a.prefix, Metrics: m})
	if b.Metrics() != m {
		t.Fatal("Metrics() is not the shared instruments")
	}
	tenant := w.tenant(t)
	if err := a.RevokeToken(ctx, "j", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	for _, jti := range []string{"j", "k", "l"} {
		if _, err := b.Revoked(ctx, auth.Principal{Subject: "u", Tenant: tenant, TokenID: jti}, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	for result, want := range map[string]float64{resultRevoked: 1, resultValid: 2, resultUnknown: 0} {
		if got := sample(t, m, MetricChecks, result); got != want {
			t.Errorf("%s{result=%s} = %v, want %v", MetricChecks, result, got, want)
		}
	}
	for _, name := range []string{MetricChecks, MetricRebuilds} {
		if n := len(promtest.Series(t, reg, name)); n != 3 {
			t.Errorf("%s: %d series, want one per result from the start", name, n)
		}
	}
}

func TestRevocations_NotifyTheirTenant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	s := w.store(t, Options{})
	var told []uuid.UUID
	s.notify = func(_ context.Context, tenant uuid.UUID) error { told = append(told, tenant); return nil }
	a, b, c := w.tenant(t), w.tenant(t), w.tenant(t)
	if err := s.RevokeSession(ctx, a, "sid"); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeSubjectBefore(ctx, b, "user", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeTenantBefore(ctx, c, time.Now()); err != nil {
		t.Fatal(err)
	}
	// A single token carries no tenant to tell; its session or subject revocation does.
	if err := s.RevokeToken(ctx, "jti", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if len(told) != 3 || told[0] != a || told[1] != b || told[2] != c {
		t.Fatalf("notified %v, want %v %v %v", told, a, b, c)
	}
	// A failing notice does not fail the revocation: the gateways' periodic re-check covers it.
	s.notify = func(context.Context, uuid.UUID) error { return context.DeadlineExceeded }
	if err := s.RevokeSession(ctx, a, "sid2"); err != nil {
		t.Fatalf("a lost notice failed the revocation: %v", err)
	}
}
