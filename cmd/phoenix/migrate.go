package main

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/phoenixotel/phoenix/shared/config"
	"github.com/phoenixotel/phoenix/shared/store"
)

func migrateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply or revert the database schema (as PHOENIX_MIGRATE_DATABASE_URL, the schema owner)",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "up",
		Short: "Create the database if needed and apply every pending migration",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			return migrateUp(cmd.Context(), cfg, cmd.OutOrStdout())
		},
	}, &cobra.Command{
		Use:   "down [N]",
		Short: "Revert the N most recent migrations (default 1)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n := 1
			if len(args) == 1 {
				var err error
				if n, err = strconv.Atoi(args[0]); err != nil || n < 1 {
					return fmt.Errorf("the number of migrations to revert must be a positive number, got %q", args[0])
				}
			}
			m, err := migrator()
			if err != nil {
				return err
			}
			defer m.Close()
			done, err := m.Down(cmd.Context(), n)
			for _, v := range done {
				fmt.Fprintf(cmd.OutOrStdout(), "reverted %05d\n", v)
			}
			if err == nil && len(done) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "nothing to revert")
			}
			return err
		},
	}, &cobra.Command{
		Use:   "status",
		Short: "List every migration and whether it is applied",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := migrator()
			if err != nil {
				return err
			}
			defer m.Close()
			st, err := m.Status(cmd.Context())
			if err != nil {
				return err
			}
			for _, s := range st {
				state := "pending"
				if s.Applied {
					state = "applied"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%05d  %-8s %s\n", s.Version, state, s.Name)
			}
			return nil
		},
	})
	return cmd
}

func loadConfig() (config.Config, error) {
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		return cfg, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return cfg, nil
}

func migrator() (*store.Migrator, error) {
	cfg, err := loadConfig()
	if err != nil {
		return nil, err
	}
	return store.NewMigrator(cfg.MigrateDatabaseURL)
}

// migrateUp creates the database if it is missing and applies pending migrations.
func migrateUp(ctx context.Context, cfg config.Config, out interface{ Write([]byte) (int, error) }) error {
	created, err := store.EnsureDatabase(ctx, cfg.MigrateDatabaseURL)
	if err != nil {
		return fmt.Errorf("PHOENIX_MIGRATE_DATABASE_URL: %w", err)
	}
	if created {
		fmt.Fprintln(out, "created the database")
	}
	m, err := store.NewMigrator(cfg.MigrateDatabaseURL)
	if err != nil {
		return err
	}
	defer m.Close()
	done, err := m.Up(ctx)
	for _, v := range done {
		fmt.Fprintf(out, "applied %05d\n", v)
	}
	if err != nil {
		return err
	}
	v, err := m.Version(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "schema at version %d\n", v)
	return nil
}
