package auth

import (
	"maps"
	"slices"
	"sync/atomic"
)

// Roles is the RBAC catalog — the permissions ("resource:action") each role grants — and the one
// permission check: the API and the gateway load it at start and decide with Allows, so a token
// means the same in both. Safe for concurrent use; Set replaces the catalog at once. Until Set is
// called every check is denied.
type Roles struct {
	catalog atomic.Pointer[map[string]map[string]bool] // role -> its permissions
}

// Set replaces the catalog with grants: each role and the permissions it grants.
func (r *Roles) Set(grants map[string][]string) {
	m := make(map[string]map[string]bool, len(grants))
	for role, perms := range grants {
		set := make(map[string]bool, len(perms))
		for _, p := range perms {
			set[p] = true
		}
		m[role] = set
	}
	r.catalog.Store(&m)
}

// Grants is what role grants (nil for an unknown role); the caller must not change it.
func (r *Roles) Grants(role string) map[string]bool {
	m := r.catalog.Load()
	if m == nil {
		return nil
	}
	return (*m)[role]
}

// Allows reports whether p holds perm: directly (a service account's own permissions) or through
// one of its roles (a user's).
func (r *Roles) Allows(p Principal, perm string) bool {
	if p.SubjectType == SubjectServiceAccount {
		return slices.Contains(p.Permissions, perm)
	}
	for _, role := range p.Roles {
		if r.Grants(role)[perm] {
			return true
		}
	}
	return false
}

// Effective is every permission p holds: its own for a service account, its roles' for a user.
func (r *Roles) Effective(p Principal) map[string]bool {
	out := map[string]bool{}
	if p.SubjectType == SubjectServiceAccount {
		for _, perm := range p.Permissions {
			out[perm] = true
		}
		return out
	}
	for _, role := range p.Roles {
		maps.Copy(out, r.Grants(role))
	}
	return out
}

// Within reports whether p holds every permission in want: nobody hands out, or takes over, more
// than they could do themselves.
func (r *Roles) Within(p Principal, want map[string]bool) bool {
	have := r.Effective(p)
	for perm := range want {
		if !have[perm] {
			return false
		}
	}
	return true
}
