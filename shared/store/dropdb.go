package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// DropDatabase drops the database url names, disconnecting its sessions first, connecting to the
// server's maintenance database "postgres" with the same credentials. It is for scratch
// databases (phoenix validate); a database that does not exist is no error.
func DropDatabase(ctx context.Context, url string) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("parse database url: %w", redactErr(err))
	}
	name := cfg.Database
	if name == "" || name == "postgres" {
		return fmt.Errorf("refusing to drop database %q", name)
	}
	cfg.Database = "postgres"
	admin, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect to drop database %q: %w", name, err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %q: %w", name, err)
	}
	return nil
}
