package auth

import "testing"

func TestRoles_OnePermissionCheckForUsersAndServiceAccounts(t *testing.T) {
	var r Roles
	user := Principal{SubjectType: SubjectUser, Roles: []string{"viewer"}}
	if r.Allows(user, "experiment:read") {
		t.Fatal("allowed before the catalog was loaded: must deny by default")
	}
	r.Set(map[string][]string{"viewer": {"experiment:read"}, "operator": {"experiment:read", "experiment:write"}, "empty": nil})
	tests := []struct {
		name string
		p    Principal
		perm string
		want bool
	}{
		{"a user's role grants it", user, "experiment:read", true},
		{"a user's role does not", user, "experiment:write", false},
		{"any of a user's roles", Principal{SubjectType: SubjectUser, Roles: []string{"empty", "operator"}}, "experiment:write", true},
		{"an unknown role grants nothing", Principal{SubjectType: SubjectUser, Roles: []string{"root"}}, "experiment:read", false},
		{"a service account's own permission", Principal{SubjectType: SubjectServiceAccount, Permissions: []string{"experiment:write"}}, "experiment:write", true},
		{"a service account's roles count for nothing", Principal{SubjectType: SubjectServiceAccount, Roles: []string{"operator"}}, "experiment:read", false},
	}
	for _, tt := range tests {
		if got := r.Allows(tt.p, tt.perm); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	op := Principal{SubjectType: SubjectUser, Roles: []string{"operator"}}
	if !r.Within(op, r.Grants("viewer")) || r.Within(user, r.Grants("operator")) {
		t.Error("Within: an operator holds a viewer's permissions, a viewer not an operator's")
	}
}
