package revocation

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/phoenixotel/phoenix/shared/auth"
	"github.com/phoenixotel/phoenix/test/redistest"
)

func newStore(t *testing.T) *Store {
	t.Helper()
	rdb := redistest.Client(t)
	return New(rdb, Options{Prefix: redistest.Prefix(t, rdb), Keep: time.Minute})
}

func TestRevoked(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	tenant, other := uuid.New(), uuid.New()
	p := auth.Principal{Subject: "user-1", Tenant: tenant, TokenID: "jti-1", SessionID: "sid-1", IssuedAt: now}
	tests := []struct {
		name    string
		revoke  func(s *Store) error
		issued  time.Time
		revoked bool
	}{
		{"nothing revoked", func(*Store) error { return nil }, now, false},
		{"token revoked", func(s *Store) error { return s.RevokeToken(ctx, "jti-1", now.Add(time.Minute)) }, now, true},
		{"another token revoked", func(s *Store) error { return s.RevokeToken(ctx, "jti-2", now.Add(time.Minute)) }, now, false},
		{"session revoked", func(s *Store) error { return s.RevokeSession(ctx, tenant, "sid-1") }, now, true},
		{"same session id in another tenant", func(s *Store) error { return s.RevokeSession(ctx, other, "sid-1") }, now, false},
		{"subject valid after, older token", func(s *Store) error { return s.RevokeSubjectBefore(ctx, tenant, "user-1", now.Add(time.Millisecond)) }, now, true},
		{"subject valid after, newer token", func(s *Store) error { return s.RevokeSubjectBefore(ctx, tenant, "user-1", now) }, now.Add(time.Millisecond), false},
		{"tenant valid after", func(s *Store) error { return s.RevokeTenantBefore(ctx, tenant, now.Add(time.Second)) }, now, true},
		{"other tenant valid after", func(s *Store) error { return s.RevokeTenantBefore(ctx, other, now.Add(time.Second)) }, now, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			if err := tt.revoke(s); err != nil {
				t.Fatal(err)
			}
			got, err := s.Revoked(ctx, p, tt.issued)
			if err != nil || got != tt.revoked {
				t.Fatalf("Revoked = %v, %v; want %v", got, err, tt.revoked)
			}
		})
	}
}

func TestValidAfter_NeverMovesBackwards(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	tenant := uuid.New()
	later := time.Now().Add(time.Hour)
	if err := s.RevokeSubjectBefore(ctx, tenant, "u", later); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeSubjectBefore(ctx, tenant, "u", time.Now()); err != nil {
		t.Fatal(err)
	}
	p := auth.Principal{Subject: "u", Tenant: tenant, TokenID: "j"}
	if revoked, _ := s.Revoked(ctx, p, later.Add(-time.Minute)); !revoked {
		t.Fatal("an earlier revocation lowered the later valid-after instant")
	}
}

func TestMarkers_Expire(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
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
}

func TestRevoked_RedisDownIsAnErrorNotAnAnswer(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer rdb.Close()
	s := New(rdb, Options{})
	if _, err := s.Revoked(context.Background(), auth.Principal{Tenant: uuid.New(), Subject: "u", TokenID: "j"}, time.Now()); err == nil {
		t.Fatal("no error with Redis unreachable")
	}
}

func TestRevocations_NotifyTheirTenant(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	var told []uuid.UUID
	s.notify = func(_ context.Context, tenant uuid.UUID) error { told = append(told, tenant); return nil }
	a, b, c := uuid.New(), uuid.New(), uuid.New()
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
