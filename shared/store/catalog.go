package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Permission is an action on a kind of resource, e.g. experiment:start.
type Permission struct {
	Resource string // e.g. experiment
	Action   string // e.g. start
}

func (p Permission) String() string { return p.Resource + ":" + p.Action }

// RolePermissions reads the RBAC catalog: each role and the permissions it grants.
func (s *Store) RolePermissions(ctx context.Context) (map[string][]Permission, error) {
	out := map[string][]Permission{}
	err := s.Catalog(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT r.name, rp.resource, rp.action
			FROM roles r LEFT JOIN role_permissions rp ON rp.role = r.name
			ORDER BY r.name, rp.resource, rp.action`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var role string
			var res, act *string
			if err := rows.Scan(&role, &res, &act); err != nil {
				return err
			}
			if _, ok := out[role]; !ok {
				out[role] = nil
			}
			if res != nil {
				out[role] = append(out[role], Permission{Resource: *res, Action: *act})
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("read role permissions: %w", err)
	}
	return out, nil
}
