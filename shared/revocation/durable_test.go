package revocation

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/phoenixotel/phoenix/shared/auth"
	"github.com/phoenixotel/phoenix/shared/store"
	"github.com/phoenixotel/phoenix/test/redistest"
)

// unreachable is a record whose PostgreSQL does not answer.
func unreachable(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open("postgres://phoenix_app@127.0.0.1:1/phoenix?sslmode=disable&connect_timeout=1", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

func TestRevoked_StillRefusedAfterRedisLosesItsMemory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	now := time.Now()
	otherSubject := func(p auth.Principal, _ uuid.UUID) auth.Principal {
		p.Subject, p.TokenID = "another-user", "j2"
		return p
	}
	subjectMarker := func(s *Store, p auth.Principal) string { return s.subjectKey(p.Tenant, p.Subject) }
	tests := []struct {
		name      string
		revoke    func(s *Store, p auth.Principal) error
		bystander func(p auth.Principal, other uuid.UUID) auth.Principal // a token the revocation must not touch
		marker    func(s *Store, p auth.Principal) string                // the cache key the rebuild restores
	}{
		{"logout (token)",
			func(s *Store, p auth.Principal) error { return s.RevokeToken(ctx, p.TokenID, p.ExpiresAt) },
			func(p auth.Principal, _ uuid.UUID) auth.Principal { p.TokenID = "another-jti"; return p },
			func(s *Store, p auth.Principal) string { return s.tokenKey(p.TokenID) }},
		{"session",
			func(s *Store, p auth.Principal) error { return s.RevokeSession(ctx, p.Tenant, p.SessionID) },
			func(p auth.Principal, _ uuid.UUID) auth.Principal {
				p.SessionID, p.TokenID = "another-sid", "j2"
				return p
			},
			func(s *Store, p auth.Principal) string { return s.sessionKey(p.Tenant, p.SessionID) }},
		{"subject valid after",
			func(s *Store, p auth.Principal) error {
				return s.RevokeSubjectBefore(ctx, p.Tenant, p.Subject, p.IssuedAt.Add(time.Second))
			},
			otherSubject, subjectMarker},
		{"subject valid after, in the caller's transaction (a password change)",
			func(s *Store, p auth.Principal) error {
				return w.db.WithTenant(ctx, p.Tenant, func(tx *store.Tx) error {
					return s.RevokeSubjectBeforeIn(ctx, tx, p.Subject, p.IssuedAt.Add(time.Second))
				})
			},
			otherSubject, subjectMarker},
		{"tenant valid after",
			func(s *Store, p auth.Principal) error {
				return s.RevokeTenantBefore(ctx, p.Tenant, p.IssuedAt.Add(time.Second))
			},
			func(p auth.Principal, other uuid.UUID) auth.Principal { p.Tenant, p.TokenID = other, "j2"; return p },
			func(s *Store, p auth.Principal) string { return s.tenantKey(p.Tenant) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := w.store(t, Options{})
			p := auth.Principal{Subject: "user-1", Tenant: w.tenant(t), TokenID: "jti-" + uuid.NewString(),
				SessionID: uuid.NewString(), IssuedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
			if err := tt.revoke(s, p); err != nil {
				t.Fatal(err)
			}
			if revoked, err := s.Revoked(ctx, p, p.IssuedAt); err != nil || !revoked {
				t.Fatalf("before the loss: Revoked = %v, %v; want true", revoked, err)
			}
			forget(t, s)
			if revoked, err := s.Revoked(ctx, p, p.IssuedAt); err != nil || !revoked {
				t.Fatalf("after the loss: Revoked = %v, %v; want true", revoked, err)
			}
			by := tt.bystander(p, w.tenant(t))
			if revoked, err := s.Revoked(ctx, by, by.IssuedAt); err != nil || revoked {
				t.Fatalf("bystander after the loss: Revoked = %v, %v; want false", revoked, err)
			}
			// The check rebuilt the cache: the marker and both sentinels are back, so the next
			// check is one round trip again.
			for _, key := range []string{tt.marker(s, p), s.warmKey(p.Tenant.String()), s.warmKey(tokensScope)} {
				if n := s.rdb.Exists(ctx, key).Val(); n != 1 {
					t.Errorf("%s not rebuilt", key)
				}
			}
			if got := sample(t, s.metrics, MetricRebuilds, rebuildDone); got < 2 {
				t.Errorf("%s = %v, want at least 2 (the tenant and the tokens)", MetricRebuilds, got)
			}
		})
	}
}

func TestRevoked_FailsClosedWhenItCannotKnow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	tests := []struct {
		name    string
		warm    bool // a check with the record up filled the cache first
		wantErr bool
	}{
		{"PostgreSQL unreachable and cache cold", false, true},
		{"PostgreSQL unreachable and cache warm", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := w.store(t, Options{})
			p := auth.Principal{Subject: "u", Tenant: w.tenant(t), TokenID: "j", SessionID: "sid", IssuedAt: time.Now()}
			if tt.warm {
				if _, err := up.Revoked(ctx, p, p.IssuedAt); err != nil {
					t.Fatal(err)
				}
			}
			down := New(w.rdb, Options{Prefix: up.prefix, Store: unreachable(t)})
			revoked, err := down.Revoked(ctx, p, p.IssuedAt)
			if (err != nil) != tt.wantErr || revoked {
				t.Fatalf("Revoked = %v, %v; want an error: %v", revoked, err, tt.wantErr)
			}
			unknown := sample(t, down.metrics, MetricChecks, resultUnknown)
			if want := map[bool]float64{true: 1, false: 0}[tt.wantErr]; unknown != want {
				t.Fatalf("%s{result=unknown} = %v, want %v", MetricChecks, unknown, want)
			}
		})
	}
}

func TestRevoked_RedisDownIsAnErrorNotAnAnswer(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer rdb.Close()
	// The record is up, yet without the cache's answer the token is refused: every verifier
	// reading PostgreSQL on every request would turn a Redis outage into a database one.
	s := New(rdb, Options{Store: w.db})
	if _, err := s.Revoked(context.Background(), auth.Principal{Tenant: w.tenant(t), Subject: "u", TokenID: "j"}, time.Now()); err == nil {
		t.Fatal("no error with Redis unreachable")
	}
	if got := sample(t, s.metrics, MetricChecks, resultUnknown); got != 1 {
		t.Fatalf("%s{result=unknown} = %v, want 1", MetricChecks, got)
	}
}

func TestRevoke_DatabaseDownFailsTheRevocation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Client(t)
	s := New(rdb, Options{Prefix: redistest.Prefix(t, rdb), Store: unreachable(t)})
	tenant := uuid.New()
	for name, err := range map[string]error{
		"token":   s.RevokeToken(ctx, "j", time.Now().Add(time.Minute)),
		"session": s.RevokeSession(ctx, tenant, "sid"),
		"subject": s.RevokeSubjectBefore(ctx, tenant, "u", time.Now()),
		"tenant":  s.RevokeTenantBefore(ctx, tenant, time.Now()),
	} {
		if err == nil {
			t.Errorf("%s: revoked with no record", name)
		}
	}
	// Nothing reached the cache either: it never holds what the record lacks.
	if keys := s.rdb.Keys(ctx, s.prefix+":*").Val(); len(keys) != 0 {
		t.Fatalf("cached without a record: %v", keys)
	}
}

func TestExpiredMarkers_ArePrunedAndNotRebuilt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	tenant := w.tenant(t)
	s := w.store(t, Options{})

	// A clock two hours behind writes markers that have expired by the database's clock: each
	// write prunes its own row at once.
	then := time.Now().Add(-2 * time.Hour)
	late := w.store(t, Options{Prefix: s.prefix, Now: func() time.Time { return then }})
	if err := late.RevokeToken(ctx, "late-jti", then.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := late.RevokeSession(ctx, tenant, "late-sid"); err != nil {
		t.Fatal(err)
	}
	if tokens, markers := count(t, w.db, tenant); tokens != 0 || markers != 0 {
		t.Fatalf("kept %d tokens and %d markers already expired, want none", tokens, markers)
	}

	// Rows that expired since they were written (an hour ago, say) are not rebuilt...
	err := w.db.WithTenant(ctx, tenant, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO revoked_tokens (jti, expires_at) VALUES ('old-jti', now() - interval '1 minute')`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO revocations (tenant_id, kind, target, valid_after, expires_at) VALUES
			($1, 'session', 'old-sid', NULL, now() - interval '1 minute'),
			($1, 'subject', 'old-user', now() + interval '1 hour', now() - interval '1 minute')`, tenant)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	forget(t, s)
	p := auth.Principal{Subject: "old-user", Tenant: tenant, TokenID: "old-jti", SessionID: "old-sid", IssuedAt: time.Now()}
	if revoked, err := s.Revoked(ctx, p, p.IssuedAt); err != nil || revoked {
		t.Fatalf("expired markers rebuilt: Revoked = %v, %v; want false", revoked, err)
	}

	// ...and the next writes delete them; the new rows stay.
	if err := s.RevokeToken(ctx, "new-jti", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeSession(ctx, tenant, "new-sid"); err != nil {
		t.Fatal(err)
	}
	if tokens, markers := count(t, w.db, tenant); tokens != 1 || markers != 1 {
		t.Fatalf("after pruning: %d tokens and %d markers, want 1 and 1", tokens, markers)
	}
}

// count reads how many token rows and how many of tenant's marker rows the record holds.
func count(t *testing.T, db *store.Store, tenant uuid.UUID) (tokens, markers int) {
	t.Helper()
	ctx := context.Background()
	// Every row, expired or not: revoked_tokens is global, revocations the tenant's.
	err := db.WithTenant(ctx, tenant, func(tx *store.Tx) error {
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM revoked_tokens").Scan(&tokens); err != nil {
			return err
		}
		return tx.QueryRow(ctx, "SELECT count(*) FROM revocations").Scan(&markers)
	})
	if err != nil {
		t.Fatal(err)
	}
	return tokens, markers
}

func TestRebuild_WritesBackOnlyIfItsClaimStands(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	tests := []struct {
		name    string
		claim   bool // the claim is still in Redis when the rebuild writes back
		warm    bool
		outcome string
	}{
		{"claim stands", true, true, rebuildDone},
		{"Redis lost the claim meanwhile", false, false, rebuildSuperseded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := w.store(t, Options{})
			nonce, ok := s.claim(ctx, tokensScope)
			if !ok {
				t.Fatal("no claim")
			}
			if !tt.claim {
				forget(t, s)
			}
			var b batch
			b.add("set", s.tokenKey("j"), "1", time.Minute)
			b.add("set", s.tokenKey("gone"), "1", 0) // expired: left out
			s.writeBack(ctx, tokensScope, nonce, true, b)
			warm := s.rdb.Exists(ctx, s.warmKey(tokensScope)).Val() == 1
			written := s.rdb.Exists(ctx, s.tokenKey("j")).Val() == 1
			if warm != tt.warm || written != tt.warm {
				t.Fatalf("sentinel %v, marker %v; want %v", warm, written, tt.warm)
			}
			if n := s.rdb.Exists(ctx, s.tokenKey("gone")).Val(); n != 0 {
				t.Fatal("an expired marker was written back")
			}
			if got := sample(t, s.metrics, MetricRebuilds, tt.outcome); got != 1 {
				t.Fatalf("%s{result=%s} = %v, want 1", MetricRebuilds, tt.outcome, got)
			}
		})
	}
}

// The API records a suspension's revocation inside the transaction that suspends the tenant
// (functions/api/admin_tenants.go): the marker's own transaction must not wait for that one.
func TestRevokeTenantBefore_InsideTheSuspendingTransaction(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	s := w.store(t, Options{})
	tenant := w.tenant(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := w.db.Platform(ctx, func(tx *store.PlatformTx) error {
		if _, _, err := tx.SetTenantStatus(ctx, tenant, "suspended"); err != nil {
			return err
		}
		return s.RevokeTenantBefore(ctx, tenant, time.Now())
	})
	if err != nil {
		t.Fatal(err)
	}
	forget(t, s)
	p := auth.Principal{Subject: "u", Tenant: tenant, TokenID: "j", IssuedAt: time.Now().Add(-time.Minute)}
	if revoked, err := s.Revoked(ctx, p, p.IssuedAt); err != nil || !revoked {
		t.Fatalf("Revoked = %v, %v; want true", revoked, err)
	}
}
