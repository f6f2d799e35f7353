package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// RolePermissions reads the RBAC catalog: each role and the permissions ("resource:action", e.g.
// experiment:start) it grants — what auth.Roles.Set takes.
func (s *Store) RolePermissions(ctx context.Context) (map[string][]string, error) {
	out := map[string][]string{}
	err := s.Catalog(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT r.name, rp.resource || ':' || rp.action
			FROM roles r LEFT JOIN role_permissions rp ON rp.role = r.name
			ORDER BY r.name, rp.resource, rp.action`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var role string
			var perm *string // NULL for a role that grants nothing
			if err := rows.Scan(&role, &perm); err != nil {
				return err
			}
			if _, ok := out[role]; !ok {
				out[role] = nil
			}
			if perm != nil {
				out[role] = append(out[role], *perm)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("read role permissions: %w", err)
	}
	return out, nil
}
