package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/phoenixotel/phoenix/shared/password"
	"github.com/phoenixotel/phoenix/shared/store"
)

// runtimeStore opens the store as the runtime role, refusing one that could bypass RLS: the
// bootstrap commands use the same isolation path as the functions.
func runtimeStore(ctx context.Context) (*store.Store, error) {
	cfg, err := loadConfig()
	if err != nil {
		return nil, err
	}
	st, err := store.Open(cfg.DatabaseURL, store.Options{MaxConns: 2})
	if err != nil {
		return nil, err
	}
	if err := st.VerifyRuntimeRole(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("PHOENIX_DATABASE_URL: %w (has `phoenix migrate up` run?)", err)
	}
	return st, nil
}

func tenantCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "tenant", Short: "Manage tenants (bootstrap)"}
	cmd.AddCommand(&cobra.Command{
		Use:   "create NAME",
		Short: "Create a tenant and print its id",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, err := runtimeStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			var t store.Tenant
			err = st.Platform(ctx, func(tx *store.PlatformTx) (err error) {
				t, err = tx.CreateTenant(ctx, args[0])
				return err
			})
			if errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("a tenant named %q already exists", args[0])
			}
			if err != nil {
				return err
			}
			err = st.WithTenant(ctx, t.ID, func(tx *store.Tx) error {
				return tx.Audit(ctx, store.AuditEntry{ActorType: "system", ActorID: "phoenix-cli",
					Action: "tenant.create", Outcome: "success", Details: map[string]any{"name": t.Name}})
			})
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), t.ID)
			return nil
		},
	})
	return cmd
}

func userCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage users (bootstrap)"}
	var tenant, email, role string
	create := &cobra.Command{
		Use:   "create --tenant NAME --email E --role ROLE < password",
		Short: "Create a user; the password is read from the first line of standard input",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pw, err := readPassword(cmd.InOrStdin())
			if err != nil {
				return err
			}
			if err := password.Validate(pw); err != nil {
				return err
			}
			ctx := cmd.Context()
			st, err := runtimeStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			var t store.Tenant
			err = st.Platform(ctx, func(tx *store.PlatformTx) (err error) {
				t, err = tx.TenantByName(ctx, tenant)
				return err
			})
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no tenant named %q (create it with `phoenix tenant create %s`)", tenant, tenant)
			}
			if err != nil {
				return err
			}
			hash, err := password.Hash(pw, password.Default())
			if err != nil {
				return err
			}
			var u store.User
			err = st.WithTenant(ctx, t.ID, func(tx *store.Tx) (err error) {
				if u, err = tx.CreateUser(ctx, email, role, hash); err != nil {
					return err
				}
				return tx.Audit(ctx, store.AuditEntry{ActorType: "system", ActorID: "phoenix-cli",
					Action: "user.create", Outcome: "success", Details: map[string]any{"user_id": u.ID, "role": role}})
			})
			if errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("tenant %q already has a user %q", tenant, email)
			}
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), u.ID)
			return nil
		},
	}
	create.Flags().StringVar(&tenant, "tenant", "", "name of the tenant (required)")
	create.Flags().StringVar(&email, "email", "", "the user's email address (required)")
	create.Flags().StringVar(&role, "role", "viewer",
		"viewer, operator or admin; platform-admin makes the user a platform administrator (tenant management)")
	for _, f := range []string{"tenant", "email"} {
		_ = create.MarkFlagRequired(f)
	}
	cmd.AddCommand(create)
	return cmd
}

// readPassword takes the first line of r, so `echo pw | phoenix user create …` and a here-doc
// both work and the password never appears in argv.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, password.MaxLength+2)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password on standard input: pipe it in, e.g. `printf '%s\\n' \"$PW\" | phoenix user create …`")
	}
	return line, nil
}
