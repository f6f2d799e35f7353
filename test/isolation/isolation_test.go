// Package isolation proves that PostgreSQL, not application code, keeps tenants apart: every test
// connects as phoenix_app to a fresh, migrated database and tries to cross from tenant A to B.
package isolation

import (
	"context"
	"errors"
	"fmt"
	neturl "net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/phoenixotel/phoenix/shared/store"
	"github.com/phoenixotel/phoenix/test/pgtest"
)

// world is a migrated database with two tenants, each with a user, an experiment and a transition.
type world struct {
	db    *pgtest.DB
	st    *store.Store
	a, b  uuid.UUID // tenant ids
	expA  uuid.UUID // tenant A's experiment
	expB  uuid.UUID // tenant B's experiment
	userB uuid.UUID // tenant B's user
}

func newWorld(t *testing.T, opts store.Options) *world {
	t.Helper()
	ctx := context.Background()
	db := pgtest.Migrated(t)
	st := db.AppStore(t, opts)
	w := &world{db: db, st: st}
	for i, name := range []string{"tenant-a", "tenant-b"} {
		var tn store.Tenant
		err := st.Platform(ctx, func(tx *store.PlatformTx) (err error) {
			tn, err = tx.CreateTenant(ctx, name)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		err = st.WithTenant(ctx, tn.ID, func(tx *store.Tx) error {
			u, err := tx.CreateUser(ctx, "owner@"+name+".example", "admin", "$argon2id$unused")
			if err != nil {
				return err
			}
			e, err := tx.CreateExperiment(ctx, store.NewExperiment{
				Name: "exp of " + name, DurationSeconds: 600, CreatedBy: u.ID.String(),
				Baseline:  store.PipelineChoice{Template: "process-baseline"},
				Candidate: store.PipelineChoice{Template: "process-topk"},
			})
			if err != nil {
				return err
			}
			if _, err := tx.Move(ctx, e.ID, "pending", "generating", "ev-1", "test", "started"); err != nil {
				return err
			}
			if err := tx.Audit(ctx, store.AuditEntry{ActorType: "system", Action: "test.seed", Outcome: "success"}); err != nil {
				return err
			}
			if i == 0 {
				w.a, w.expA = tn.ID, e.ID
			} else {
				w.b, w.expB, w.userB = tn.ID, e.ID, u.ID
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// tenantTables are the tables whose rows the seed gives each tenant.
var tenantTables = []string{"users", "experiments", "experiment_transitions", "audit_log"}

// asA runs fn in tenant A's transaction and returns fn's error (the transaction rolls back on it).
func (w *world) asA(t *testing.T, fn func(ctx context.Context, tx *store.Tx) error) error {
	t.Helper()
	ctx := context.Background()
	return w.st.WithTenant(ctx, w.a, func(tx *store.Tx) error { return fn(ctx, tx) })
}

func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

func TestTenantA_ReadsOnlyItsOwnRows(t *testing.T) {
	t.Parallel()
	w := newWorld(t, store.Options{})
	err := w.asA(t, func(ctx context.Context, tx *store.Tx) error {
		for _, table := range tenantTables {
			var total, other int
			// No WHERE clause on purpose: RLS alone must hide B.
			q := fmt.Sprintf("SELECT count(*), count(*) FILTER (WHERE tenant_id <> $1) FROM %s", table)
			if err := tx.QueryRow(ctx, q, w.a).Scan(&total, &other); err != nil {
				return fmt.Errorf("%s: %w", table, err)
			}
			if total == 0 || other != 0 {
				t.Errorf("%s: saw %d rows, %d of another tenant; want >0 and 0", table, total, other)
			}
		}
		var tenants int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM tenants").Scan(&tenants); err != nil {
			return err
		}
		if tenants != 1 {
			t.Errorf("tenants: saw %d rows, want only its own", tenants)
		}
		if _, err := tx.Experiment(ctx, w.expB); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("reading B's experiment by id: got %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestTenantA_CannotUpdateOrDeleteB(t *testing.T) {
	t.Parallel()
	w := newWorld(t, store.Options{})
	stmts := []string{
		"UPDATE experiments SET name = 'stolen' WHERE id = $1",
		"DELETE FROM experiments WHERE id = $1",
		"UPDATE experiment_transitions SET reason = 'stolen' WHERE experiment_id = $1",
		"DELETE FROM experiment_transitions WHERE experiment_id = $1",
	}
	for _, stmt := range stmts {
		err := w.asA(t, func(ctx context.Context, tx *store.Tx) error {
			tag, err := tx.Exec(ctx, stmt, w.expB)
			if err != nil {
				return err
			}
			if tag.RowsAffected() != 0 {
				t.Errorf("%q as A affected %d of B's rows", stmt, tag.RowsAffected())
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%q: %v", stmt, err)
		}
	}
	for _, stmt := range []string{"UPDATE users SET role = 'viewer' WHERE id = $1", "DELETE FROM users WHERE id = $1"} {
		_ = w.asA(t, func(ctx context.Context, tx *store.Tx) error {
			tag, err := tx.Exec(ctx, stmt, w.userB)
			if err != nil || tag.RowsAffected() != 0 {
				t.Errorf("%q: affected %d rows, err %v; want 0, nil", stmt, tag.RowsAffected(), err)
			}
			return nil
		})
	}
	// B's rows are intact.
	err := w.st.WithTenant(context.Background(), w.b, func(tx *store.Tx) error {
		e, err := tx.Experiment(context.Background(), w.expB)
		if err != nil {
			return err
		}
		if e.Name != "exp of tenant-b" {
			t.Errorf("B's experiment renamed to %q", e.Name)
		}
		trs, err := tx.Transitions(context.Background(), w.expB)
		if len(trs) != 1 {
			t.Errorf("B has %d transitions, want 1", len(trs))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestTenantA_InsertWithBsTenantFails42501(t *testing.T) {
	t.Parallel()
	w := newWorld(t, store.Options{})
	cases := map[string]string{
		"experiment": `INSERT INTO experiments (tenant_id, name, baseline, candidate, duration_seconds, created_by)
			VALUES ($1, 'x', '{}', '{}', 600, 'me')`,
		"audit": `INSERT INTO audit_log (tenant_id, actor_type, action, outcome) VALUES ($1, 'system', 'x', 'success')`,
		"processed event": `INSERT INTO processed_events (tenant_id, consumer, source, event_id, event_type, outcome)
			VALUES ($1, 'c', 's', 'e', 't', 'applied')`,
	}
	for name, stmt := range cases {
		t.Run(name, func(t *testing.T) {
			err := w.asA(t, func(ctx context.Context, tx *store.Tx) error {
				_, err := tx.Exec(ctx, stmt, w.b)
				return err
			})
			if sqlState(err) != "42501" {
				t.Fatalf("got %v, want SQLSTATE 42501", err)
			}
		})
	}
}

func TestTenantA_CannotMoveOwnRowToB(t *testing.T) {
	t.Parallel()
	w := newWorld(t, store.Options{})
	err := w.asA(t, func(ctx context.Context, tx *store.Tx) error {
		var id uuid.UUID
		// A fresh row with no children, so only RLS can refuse the move.
		if err := tx.QueryRow(ctx, `INSERT INTO pipelines (tenant_id, name, template) VALUES ($1, 'p', 'process-topk')
			RETURNING id`, w.a).Scan(&id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "UPDATE pipelines SET tenant_id = $1 WHERE id = $2", w.b, id)
		return err
	})
	if sqlState(err) != "42501" {
		t.Fatalf("got %v, want SQLSTATE 42501", err)
	}
}

func TestNoTenant_ReadsNothingAndWritesFail(t *testing.T) {
	t.Parallel()
	w := newWorld(t, store.Options{})
	ctx := context.Background()
	for _, table := range append(tenantTables, "tenants") {
		err := w.st.Catalog(ctx, func(tx pgx.Tx) error {
			var n int
			if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
				return err
			}
			if n != 0 {
				t.Errorf("%s without tenant: %d rows visible, want 0", table, n)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: read without tenant errored (want 0 rows): %v", table, err)
		}
	}
	err := w.st.Catalog(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO audit_log (tenant_id, actor_type, action, outcome)
			VALUES ($1, 'system', 'x', 'success')`, w.a)
		return err
	})
	if sqlState(err) != "42501" {
		t.Fatalf("write without tenant: got %v (SQLSTATE %q), want 42501 — never 22P02", err, sqlState(err))
	}
	// An explicitly empty setting (what a reset leaves behind) must behave the same.
	err = w.st.Catalog(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT set_config('app.tenant_id', '', true)"); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM experiments").Scan(&n); err != nil {
			return err
		}
		if n != 0 {
			t.Errorf("empty tenant setting: %d rows visible", n)
		}
		_, err := tx.Exec(ctx, "UPDATE experiments SET name = 'x'")
		return err
	})
	if err != nil {
		t.Fatalf("empty tenant setting: %v", err)
	}
	err = w.st.Catalog(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT set_config('app.tenant_id', '', true)"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO audit_log (tenant_id, actor_type, action, outcome)
			VALUES ($1, 'system', 'x', 'success')`, w.a)
		return err
	})
	if sqlState(err) != "42501" {
		t.Fatalf("write with an empty tenant setting: got %v (SQLSTATE %q), want 42501", err, sqlState(err))
	}
	if err := w.st.WithTenant(ctx, uuid.Nil, func(*store.Tx) error { return nil }); !errors.Is(err, store.ErrNoTenant) {
		t.Fatalf("WithTenant(nil uuid) = %v, want ErrNoTenant", err)
	}
}

func TestPool_DoesNotLeakTenantAcrossTransactions(t *testing.T) {
	t.Parallel()
	w := newWorld(t, store.Options{MaxConns: 1}) // one connection: the next transaction reuses it
	ctx := context.Background()
	if err := w.asA(t, func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.Experiment(ctx, w.expA)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	err := w.st.Catalog(ctx, func(tx pgx.Tx) error {
		var n int
		var setting *string
		if err := tx.QueryRow(ctx, "SELECT count(*), NULLIF(current_setting('app.tenant_id', true), '') FROM experiments").
			Scan(&n, &setting); err != nil {
			return err
		}
		if n != 0 || setting != nil {
			t.Errorf("after A committed, a tenant-less transaction saw %d rows, setting %v", n, setting)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentTenants_NeverSeeEachOther(t *testing.T) {
	t.Parallel()
	w := newWorld(t, store.Options{MaxConns: 3})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 16 {
		wg.Go(func() {
			for i := range 40 {
				tenant := w.a
				if (g+i)%2 == 1 {
					tenant = w.b
				}
				err := w.st.WithTenant(ctx, tenant, func(tx *store.Tx) error {
					rows, err := tx.Query(ctx, "SELECT tenant_id FROM experiments UNION ALL SELECT tenant_id FROM users")
					if err != nil {
						return err
					}
					ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
					if err != nil {
						return err
					}
					for _, id := range ids {
						if id != tenant {
							return fmt.Errorf("transaction of %s saw a row of %s", tenant, id)
						}
					}
					if len(ids) != 2 {
						return fmt.Errorf("transaction of %s saw %d rows, want 2", tenant, len(ids))
					}
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestChildRow_CannotPointAtOtherTenantsParent(t *testing.T) {
	t.Parallel()
	w := newWorld(t, store.Options{})
	err := w.asA(t, func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO experiment_transitions
			(tenant_id, experiment_id, seq, from_state, to_state, cause_event_id, cause_event_source)
			VALUES ($1, $2, 99, 'pending', 'generating', 'e', 's')`, w.a, w.expB)
		return err
	})
	if sqlState(err) != "23503" {
		t.Fatalf("got %v, want foreign-key violation 23503", err)
	}
}

func TestOnConflict_AgainstOtherTenantsRowIsRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t, store.Options{})
	for _, action := range []string{"DO UPDATE SET name = 'stolen'", "DO NOTHING"} {
		err := w.asA(t, func(ctx context.Context, tx *store.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO experiments (tenant_id, id, name, baseline, candidate, duration_seconds, created_by)
				VALUES ($1, $2, 'x', '{}', '{}', 600, 'me') ON CONFLICT (tenant_id, id) `+action, w.b, w.expB)
			return err
		})
		if sqlState(err) != "42501" {
			t.Errorf("ON CONFLICT %s: got %v, want 42501", action, err)
		}
	}
	// With A's own tenant id the key never meets B's row: a new row for A, B untouched.
	err := w.asA(t, func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO experiments (tenant_id, id, name, baseline, candidate, duration_seconds, created_by)
			VALUES ($1, $2, 'mine', '{}', '{}', 600, 'me') ON CONFLICT (tenant_id, id) DO UPDATE SET name = 'stolen'`, w.a, w.expB)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = w.st.WithTenant(context.Background(), w.b, func(tx *store.Tx) error {
		e, err := tx.Experiment(context.Background(), w.expB)
		if err != nil || e.Name != "exp of tenant-b" {
			t.Errorf("B's experiment after A's upsert: %+v, %v", e.Name, err)
		}
		return nil
	})
}

func TestAuditLog_IsAppendOnlyForRuntimeRole(t *testing.T) {
	t.Parallel()
	w := newWorld(t, store.Options{})
	for _, stmt := range []string{"UPDATE audit_log SET reason = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"} {
		err := w.asA(t, func(ctx context.Context, tx *store.Tx) error {
			_, err := tx.Exec(ctx, stmt)
			return err
		})
		if sqlState(err) != "42501" {
			t.Errorf("%q: got %v, want 42501", stmt, err)
		}
	}
}

func TestPlatformPath_SeesTenantsButNoTenantData(t *testing.T) {
	t.Parallel()
	w := newWorld(t, store.Options{})
	ctx := context.Background()
	err := w.st.Platform(ctx, func(tx *store.PlatformTx) error {
		var n int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM tenants").Scan(&n); err != nil {
			return err
		}
		if n != 2 {
			t.Errorf("platform path sees %d tenants, want 2", n)
		}
		if _, err := tx.TenantByName(ctx, "tenant-b"); err != nil {
			t.Errorf("TenantByName: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = w.st.Platform(ctx, func(tx *store.PlatformTx) error {
		_, err := tx.Exec(ctx, "SELECT * FROM experiments")
		return err
	})
	if sqlState(err) != "42501" {
		t.Fatalf("platform path reading experiments: got %v, want 42501", err)
	}
	// After the platform transaction the pooled connection is back to phoenix_app.
	_ = w.st.Catalog(ctx, func(tx pgx.Tx) error {
		var role string
		if err := tx.QueryRow(ctx, "SELECT current_user").Scan(&role); err != nil || role != "phoenix_app" {
			t.Errorf("role after platform transaction: %q, %v", role, err)
		}
		return nil
	})
}

func TestDuplicates_AreConflicts(t *testing.T) {
	t.Parallel()
	w := newWorld(t, store.Options{})
	ctx := context.Background()
	err := w.st.Platform(ctx, func(tx *store.PlatformTx) error {
		_, err := tx.CreateTenant(ctx, "tenant-a")
		return err
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate tenant: got %v, want ErrConflict", err)
	}
	err = w.asA(t, func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.CreateUser(ctx, "OWNER@tenant-a.example", "viewer", "h")
		return err
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate email (other case): got %v, want ErrConflict", err)
	}
	// The same email in another tenant is a different user.
	err = w.st.WithTenant(ctx, w.b, func(tx *store.Tx) error {
		_, err := tx.CreateUser(ctx, "owner@tenant-a.example", "viewer", "h")
		return err
	})
	if err != nil {
		t.Errorf("same email in another tenant: %v", err)
	}
}

func TestVerifyRuntimeRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	suffix := strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	roles := []string{"pv_su_" + suffix, "pv_becomes_su_" + suffix, "pv_owner_" + suffix, "pv_owner_member_" + suffix}
	admin := connectAdmin(t)
	// Roles are cluster-wide: registered before the database so they are dropped after it.
	t.Cleanup(func() {
		for _, r := range roles {
			_, _ = admin.Exec(context.Background(), "DROP ROLE IF EXISTS "+r)
		}
	})
	db := pgtest.Migrated(t)
	owner := connectURL(t, db.OwnerURL)
	for _, stmt := range []string{
		"CREATE ROLE " + roles[0] + " NOLOGIN SUPERUSER",
		"CREATE ROLE " + roles[1] + " LOGIN NOINHERIT",
		"GRANT " + roles[0] + " TO " + roles[1], // may SET ROLE to a superuser
		"CREATE ROLE " + roles[2] + " NOLOGIN",
		"ALTER TABLE experiments OWNER TO " + roles[2],
		"CREATE ROLE " + roles[3] + " LOGIN NOINHERIT",
		"GRANT " + roles[2] + " TO " + roles[3], // may SET ROLE to the owner of experiments
	} {
		if _, err := owner.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	tests := []struct {
		name, url, reason string
	}{
		{"runtime role", db.AppURL, ""},
		{"superuser", db.OwnerURL, "superuser"},
		{"member of a superuser without inheriting", withUser(t, db.AppURL, roles[1]), "member of a superuser"},
		{"member of a table owner", withUser(t, db.AppURL, roles[3]), "owns"},
		{"session-level tenant", db.AppURL + "&options=-c%20app.tenant_id%3D" + uuid.NewString(), "app.tenant_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := store.Open(tt.url, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			err = st.VerifyRuntimeRole(ctx)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var problem *store.RoleProblem
			if !errors.As(err, &problem) || !strings.Contains(problem.Reason, tt.reason) {
				t.Fatalf("got %v, want a RoleProblem about %q", err, tt.reason)
			}
		})
	}
}

func connectAdmin(t *testing.T) *pgx.Conn {
	t.Helper()
	url := os.Getenv("PHOENIX_TEST_ADMIN_URL")
	if url == "" {
		url = pgtest.DefaultAdminURL
	}
	return connectURL(t, url)
}

func connectURL(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func withUser(t *testing.T, raw, user string) string {
	t.Helper()
	u, err := neturl.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.User = neturl.User(user)
	return u.String()
}
