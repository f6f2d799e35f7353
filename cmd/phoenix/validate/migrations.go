package validate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"

	"github.com/phoenixotel/phoenix/shared/store"
)

// Migrations applies every migration to a scratch database, rolls all of them back, applies
// them again, and drops the database: a release's migrations must be reversible.
func Migrations(ctx context.Context, o Options) Result {
	if o.MigrateURL == "" {
		return Result{Status: Skip, Summary: "no database to check migrations against (PHOENIX_MIGRATE_DATABASE_URL)"}
	}
	u, err := url.Parse(o.MigrateURL)
	if err != nil {
		return result("migrations", []string{"PHOENIX_MIGRATE_DATABASE_URL is not a URL"})
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	u.Path = "/phoenix_validate_" + hex.EncodeToString(b)
	scratch := u.String()
	if _, err := store.EnsureDatabase(ctx, scratch); err != nil {
		return result("migrations", []string{fmt.Sprintf("create a scratch database: %v", err)})
	}
	defer func() { _ = store.DropDatabase(context.WithoutCancel(ctx), scratch) }()
	m, err := store.NewMigrator(scratch)
	if err != nil {
		return result("migrations", []string{err.Error()})
	}
	defer m.Close()
	up, err := m.Up(ctx)
	if err != nil {
		return result("migrations", []string{fmt.Sprintf("apply: %v", err)})
	}
	latest, err := m.Version(ctx)
	if err != nil {
		return result("migrations", []string{err.Error()})
	}
	down, err := m.Down(ctx, len(up))
	if err != nil {
		return result("migrations", []string{fmt.Sprintf("roll back: %v", err)})
	}
	var problems []string
	if v, err := m.Version(ctx); err != nil || v != 0 || len(down) != len(up) {
		problems = append(problems, fmt.Sprintf("rolled back %d of %d migrations; version %d after rolling back (%v)", len(down), len(up), v, err))
	}
	if again, err := m.Up(ctx); err != nil || len(again) != len(up) {
		problems = append(problems, fmt.Sprintf("apply after rolling back: %d of %d (%v)", len(again), len(up), err))
	}
	return result(fmt.Sprintf("%d migrations applied, rolled back and applied again on a scratch database (version %d)", len(up), latest), problems)
}
