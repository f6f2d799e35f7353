// Package schema checks the migrated schema itself: that row-level security covers every tenant
// table, that the runtime role cannot get around it, and that every migration reverses cleanly.
package schema

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/phoenixotel/phoenix/shared/store"
	"github.com/phoenixotel/phoenix/test/pgtest"
)

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func strings1(t *testing.T, c *pgx.Conn, q string, args ...any) []string {
	t.Helper()
	rows, err := c.Query(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

func TestCatalog_EveryTenantTableHasForcedRLSAndAPolicy(t *testing.T) {
	t.Parallel()
	db := pgtest.Migrated(t)
	c := connect(t, db.OwnerURL)
	tables := strings1(t, c, `SELECT c.relname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
		WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND a.attname = 'tenant_id'
		  AND NOT a.attisdropped ORDER BY 1`)
	if len(tables) < 15 {
		t.Fatalf("only %d tables with tenant_id: %v", len(tables), tables)
	}
	// The one policy every tenant table must have, as PostgreSQL prints it back.
	const want = "(tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid)"
	for _, table := range tables {
		var rls, force, notNull bool
		var typ string
		err := c.QueryRow(context.Background(), `SELECT c.relrowsecurity, c.relforcerowsecurity, a.attnotnull,
			format_type(a.atttypid, a.atttypmod)
			FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'
			WHERE c.oid = $1::regclass`, table).Scan(&rls, &force, &notNull, &typ)
		if err != nil {
			t.Fatal(err)
		}
		if !rls || !force || !notNull || typ != "uuid" {
			t.Errorf("%s: rls=%v force=%v tenant_id %s not null=%v", table, rls, force, typ, notNull)
		}
		// Policies are OR-ed: any second permissive policy could widen access, so there must be
		// exactly this one — for phoenix_app, all commands, permissive, USING and WITH CHECK equal
		// to the tenant expression.
		policies := strings1(t, c, `SELECT policyname || ' ' || permissive || ' ' || cmd || ' ' ||
			array_to_string(roles, ',') || ' using=' || coalesce(qual, '') || ' check=' || coalesce(with_check, '')
			FROM pg_policies WHERE schemaname = 'public' AND tablename = $1`, table)
		wantPolicies := []string{"tenant_isolation PERMISSIVE ALL phoenix_app using=" + want + " check=" + want}
		switch table {
		case "experiments":
			// The scheduler's read-only view for ticks; column grants limit what it shows.
			wantPolicies = append(wantPolicies, "platform_schedule PERMISSIVE SELECT phoenix_platform using=true check=")
		case "outbox":
			// Draining the controller's outbox: read rows, mark them sent (column grants).
			wantPolicies = append(wantPolicies, "platform_drain_read PERMISSIVE SELECT phoenix_platform using=true check=",
				"platform_drain_mark PERMISSIVE UPDATE phoenix_platform using=true check=true")
		}
		slices.Sort(policies)
		slices.Sort(wantPolicies)
		if !slices.Equal(policies, wantPolicies) {
			t.Errorf("%s: policies %q, want exactly %q", table, policies, wantPolicies)
		}
		// Every index and every foreign key into another tenant table leads with tenant_id.
		for _, idx := range strings1(t, c, `SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
			WHERE i.indrelid = $1::regclass`, table) {
			if !strings.Contains(idx, "(tenant_id") {
				t.Errorf("%s: index without leading tenant_id: %s", table, idx)
			}
		}
		for _, fk := range strings1(t, c, `SELECT pg_get_constraintdef(k.oid) FROM pg_constraint k
			JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attname = 'tenant_id'
			WHERE k.conrelid = $1::regclass AND k.contype = 'f'`, table) {
			if !strings.HasPrefix(fk, "FOREIGN KEY (tenant_id,") {
				t.Errorf("%s: foreign key into a tenant table without tenant_id: %s", table, fk)
			}
		}
	}
	// The tenants table: phoenix_app may only see its own row, phoenix_platform manages all.
	tp := strings1(t, c, `SELECT policyname || ' ' || permissive || ' ' || cmd || ' ' || array_to_string(roles, ',')
		FROM pg_policies WHERE schemaname = 'public' AND tablename = 'tenants' ORDER BY 1`)
	if !slices.Equal(tp, []string{"platform_manage PERMISSIVE ALL phoenix_platform", "tenant_self PERMISSIVE SELECT phoenix_app"}) {
		t.Errorf("tenants policies: %q", tp)
	}
}

func TestCatalog_RuntimeRoleOwnsNothingAndCannotBypass(t *testing.T) {
	t.Parallel()
	db := pgtest.Migrated(t)
	c := connect(t, db.OwnerURL)
	var super, bypass, inherit, login bool
	err := c.QueryRow(context.Background(), `SELECT rolsuper, rolbypassrls, rolinherit, rolcanlogin
		FROM pg_roles WHERE rolname = 'phoenix_app'`).Scan(&super, &bypass, &inherit, &login)
	if err != nil {
		t.Fatal(err)
	}
	if super || bypass || inherit || !login {
		t.Errorf("phoenix_app: super=%v bypassrls=%v inherit=%v login=%v", super, bypass, inherit, login)
	}
	owned := strings1(t, c, `SELECT relname::text FROM pg_class WHERE relowner = 'phoenix_app'::regrole
		UNION ALL SELECT proname::text FROM pg_proc WHERE proowner = 'phoenix_app'::regrole
		UNION ALL SELECT nspname::text FROM pg_namespace WHERE nspowner = 'phoenix_app'::regrole
		UNION ALL SELECT typname::text FROM pg_type WHERE typowner = 'phoenix_app'::regrole`)
	if len(owned) != 0 {
		t.Errorf("phoenix_app owns %v", owned)
	}
	// phoenix_app is a member of no role that could bypass RLS except through SET ROLE to
	// phoenix_platform, which itself cannot.
	bypassers := strings1(t, c, `SELECT rolname::text FROM pg_roles o
		WHERE pg_has_role('phoenix_app', o.oid, 'MEMBER') AND (o.rolsuper OR o.rolbypassrls)`)
	if len(bypassers) != 0 {
		t.Errorf("phoenix_app can become %v", bypassers)
	}
	// The audit log is append-only: no UPDATE or DELETE grant.
	grants := strings1(t, c, `SELECT privilege_type FROM information_schema.role_table_grants
		WHERE grantee = 'phoenix_app' AND table_name = 'audit_log' ORDER BY 1`)
	if !slices.Equal(grants, []string{"INSERT", "SELECT"}) {
		t.Errorf("phoenix_app on audit_log: %v, want INSERT, SELECT", grants)
	}
}

// snapshot describes everything the migrations create, in a stable text form.
func snapshot(t *testing.T, url string) []string {
	t.Helper()
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	q := `
	SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' null=' || is_nullable
	       || ' default=' || coalesce(column_default, '')
	  FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> 'goose_db_version'
	UNION ALL SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename <> 'goose_db_version'
	UNION ALL SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
	  FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text <> 'goose_db_version'
	UNION ALL SELECT 'policy ' || tablename || ' ' || policyname || ' ' || cmd || ' ' || array_to_string(roles, ',')
	       || ' using=' || coalesce(qual, '') || ' check=' || coalesce(with_check, '')
	  FROM pg_policies WHERE schemaname = 'public'
	UNION ALL SELECT 'rls ' || relname || ' ' || relrowsecurity || ' ' || relforcerowsecurity
	  FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' AND relname <> 'goose_db_version'
	UNION ALL SELECT 'trigger ' || tgrelid::regclass || ' ' || tgname FROM pg_trigger WHERE NOT tgisinternal
	UNION ALL SELECT 'function ' || pg_get_functiondef(oid) FROM pg_proc WHERE pronamespace = 'public'::regnamespace
	UNION ALL SELECT 'grant ' || grantee || ' ' || table_name || ' ' || privilege_type
	  FROM information_schema.role_table_grants WHERE grantee IN ('phoenix_app', 'phoenix_platform')
	UNION ALL SELECT 'column-grant ' || grantee || ' ' || table_name || '.' || column_name || ' ' || privilege_type
	  FROM information_schema.column_privileges WHERE grantee IN ('phoenix_app', 'phoenix_platform')
	UNION ALL SELECT 'schema-acl ' || coalesce(nspacl::text, '') FROM pg_namespace WHERE nspname = 'public'
	UNION ALL SELECT 'row ' || name || ' ' || (SELECT count(*) FROM role_permissions rp WHERE rp.role = r.name)
	  FROM roles r WHERE to_regclass('public.roles') IS NOT NULL`
	rows, err := c.Query(context.Background(), q)
	if err != nil {
		// roles is referenced only when it exists; retry without the row part on an empty schema.
		rows, err = c.Query(context.Background(), q[:strings.LastIndex(q, "UNION ALL SELECT 'row ")])
	}
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func TestMigrations_RoundTrip(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	m, err := store.NewMigrator(db.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	empty := snapshot(t, db.OwnerURL)

	applied, err := m.Up(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) < 7 {
		t.Fatalf("applied %v, want every migration", applied)
	}
	full := snapshot(t, db.OwnerURL)
	if len(full) < 100 {
		t.Fatalf("snapshot of the full schema has only %d lines", len(full))
	}

	reverted, err := m.Down(ctx, len(applied)+3) // more than applied: stops at zero
	if err != nil {
		t.Fatal(err)
	}
	if len(reverted) != len(applied) {
		t.Fatalf("reverted %v, want %d migrations", reverted, len(applied))
	}
	if v, _ := m.Version(ctx); v != 0 {
		t.Fatalf("version after down to zero: %d", v)
	}
	if diff := cmp.Diff(empty, snapshot(t, db.OwnerURL)); diff != "" {
		t.Fatalf("down to zero left objects behind (-empty +after):\n%s", diff)
	}

	if _, err := m.Up(ctx); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(full, snapshot(t, db.OwnerURL)); diff != "" {
		t.Fatalf("up after down differs (-first +second):\n%s", diff)
	}

	// Each step from the bottom: at version v, down one and up one returns to the same schema.
	if _, err := m.Down(ctx, len(applied)); err != nil {
		t.Fatal(err)
	}
	for _, v := range applied {
		if _, err := m.UpTo(ctx, v); err != nil {
			t.Fatalf("up to %d: %v", v, err)
		}
		before := snapshot(t, db.OwnerURL)
		if _, err := m.Down(ctx, 1); err != nil {
			t.Fatalf("down from %d: %v", v, err)
		}
		if _, err := m.UpTo(ctx, v); err != nil {
			t.Fatalf("up to %d again: %v", v, err)
		}
		if diff := cmp.Diff(before, snapshot(t, db.OwnerURL)); diff != "" {
			t.Fatalf("migration %d: down one and up one differs (-before +after):\n%s", v, diff)
		}
	}

	st, err := m.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if !s.Applied {
			t.Errorf("migration %d (%s) not applied at the end", s.Version, s.Name)
		}
	}
	fmt.Fprintf(testWriter{t}, "round trip over %d migrations, %d schema facts", len(applied), len(full))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }
