package api

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/auth"
	"github.com/phoenixotel/phoenix/shared/password"
	"github.com/phoenixotel/phoenix/shared/store"
	"github.com/phoenixotel/phoenix/test/pgtest"
)

const testPassword = "correct horse battery staple"

// user creates a user with the fixture's cheap hash parameters and returns its id.
func (f *fixture) user(t testing.TB, tenant uuid.UUID, email, role string) uuid.UUID {
	t.Helper()
	hash, err := password.Hash(testPassword, f.api.o.Password)
	if err != nil {
		t.Fatal(err)
	}
	var u store.User
	err = f.st.WithTenant(context.Background(), tenant, func(tx *store.Tx) (err error) {
		u, err = tx.CreateUser(context.Background(), email, role, hash)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

type session struct{ access, refresh string }

func (f *fixture) login(t *testing.T, tenant, email string) session {
	t.Helper()
	r := f.do(t, "POST", "/v1/auth/login", "", jsonBody(map[string]string{"tenant": tenant, "email": email, "password": testPassword}))
	if r.code != http.StatusOK {
		t.Fatalf("login %s/%s: %d %v", tenant, email, r.code, r.body)
	}
	if r.header.Get("Cache-Control") != "no-store" || r.body["token_type"] != "Bearer" || r.body["expires_in"].(float64) <= 0 {
		t.Fatalf("login response %v %v", r.header, r.body)
	}
	return session{r.body["access_token"].(string), r.body["refresh_token"].(string)}
}

func (f *fixture) refresh(t *testing.T, token string) response {
	t.Helper()
	return f.do(t, "POST", "/v1/auth/refresh", "", jsonBody(map[string]string{"refresh_token": token}))
}

// auditActions lists the tenant's audit log as "action outcome severity", oldest first.
func (f *fixture) auditActions(t *testing.T, tenant uuid.UUID) []string {
	t.Helper()
	var out []string
	err := f.st.WithTenant(context.Background(), tenant, func(tx *store.Tx) error {
		recs, err := tx.AuditEvents(context.Background(), store.AuditFilter{Limit: 200})
		for i := len(recs) - 1; i >= 0; i-- {
			out = append(out, recs[i].Action+" "+recs[i].Outcome+" "+recs[i].Severity)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func contains(list []string, want string) bool {
	for _, s := range list {
		if s == want {
			return true
		}
	}
	return false
}

func TestFlow_LoginCallRefreshReuseRevokesFamily(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.user(t, f.acme, "ops@acme.example", "operator")
	s1 := f.login(t, "acme", "OPS@acme.example") // email is case-insensitive
	if r := f.do(t, "GET", "/v1/auth/me", s1.access, nil); r.code != http.StatusOK || r.body["email"] != "ops@acme.example" {
		t.Fatalf("me: %d %v", r.code, r.body)
	}
	if r := f.do(t, "GET", "/v1/experiments", s1.access, nil); r.code != http.StatusOK {
		t.Fatalf("call: %d", r.code)
	}
	r := f.refresh(t, s1.refresh)
	if r.code != http.StatusOK || r.body["refresh_token"] == s1.refresh {
		t.Fatalf("refresh: %d %v", r.code, r.body)
	}
	s2 := session{r.body["access_token"].(string), r.body["refresh_token"].(string)}
	if r := f.do(t, "GET", "/v1/auth/me", s2.access, nil); r.code != http.StatusOK {
		t.Fatalf("me with refreshed token: %d", r.code)
	}

	// The old refresh token again: someone holds a copy. The whole session ends.
	if r := f.refresh(t, s1.refresh); r.code != http.StatusUnauthorized {
		t.Fatalf("reused refresh token: %d, want 401", r.code)
	}
	if r := f.refresh(t, s2.refresh); r.code != http.StatusUnauthorized {
		t.Fatalf("newest refresh token of a revoked family: %d, want 401", r.code)
	}
	for _, tok := range []string{s1.access, s2.access} {
		if r := f.do(t, "GET", "/v1/auth/me", tok, nil); r.code != http.StatusUnauthorized {
			t.Fatalf("access token of a revoked session: %d, want 401", r.code)
		}
	}
	// A new login starts a new session.
	f.login(t, "acme", "ops@acme.example")
	got := f.auditActions(t, f.acme)
	for _, want := range []string{"auth.login success info", "auth.refresh success info", "auth.refresh_reuse denied critical"} {
		if !contains(got, want) {
			t.Errorf("audit lacks %q: %v", want, got)
		}
	}
}

func TestFlow_LogoutRevokesTokenAndSession(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.user(t, f.acme, "ops@acme.example", "viewer")
	s := f.login(t, "acme", "ops@acme.example")
	if r := f.do(t, "POST", "/v1/auth/logout", s.access, nil); r.code != http.StatusNoContent {
		t.Fatalf("logout: %d %v", r.code, r.body)
	}
	if r := f.do(t, "GET", "/v1/auth/me", s.access, nil); r.code != http.StatusUnauthorized {
		t.Fatalf("token after logout: %d", r.code)
	}
	if r := f.refresh(t, s.refresh); r.code != http.StatusUnauthorized {
		t.Fatalf("refresh after logout: %d", r.code)
	}
	if !contains(f.auditActions(t, f.acme), "auth.logout success info") {
		t.Error("logout not audited")
	}
}

func TestLogin_FailuresAnswerIdentically(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.user(t, f.acme, "ops@acme.example", "viewer")
	disabled := f.user(t, f.acme, "gone@acme.example", "viewer")
	if err := f.st.WithTenant(context.Background(), f.acme, func(tx *store.Tx) error {
		_, _, err := tx.DisableUser(context.Background(), disabled)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	attempts := map[string]map[string]string{
		"unknown tenant": {"tenant": "nobody", "email": "ops@acme.example", "password": testPassword},
		"unknown user":   {"tenant": "acme", "email": "who@acme.example", "password": testPassword},
		"wrong password": {"tenant": "acme", "email": "ops@acme.example", "password": testPassword + "!"},
		"disabled user":  {"tenant": "acme", "email": "gone@acme.example", "password": testPassword},
	}
	var first string
	for name, body := range attempts {
		req, _ := http.NewRequest("POST", f.url+"/v1/auth/login", jsonBody(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b := new(strings.Builder)
		_, _ = ioCopy(b, resp)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s: %d", name, resp.StatusCode)
		}
		if first == "" {
			first = b.String()
		} else if b.String() != first {
			t.Fatalf("%s answered %q, others %q", name, b.String(), first)
		}
	}
	got := f.auditActions(t, f.acme)
	if n := countPrefix(got, "auth.login failure"); n != 3 {
		t.Fatalf("%d failed logins audited in acme, want 3 (unknown tenant has no log): %v", n, got)
	}
}

func TestLogin_CredentialStuffingIsRateLimited(t *testing.T) {
	t.Parallel()
	f := setup(t) // LoginAccount: 5 per minute
	f.user(t, f.acme, "ops@acme.example", "viewer")
	var last response
	for range 6 {
		last = f.do(t, "POST", "/v1/auth/login", "", jsonBody(map[string]string{"tenant": "acme", "email": "ops@acme.example", "password": "guess-guess-guess"}))
	}
	if last.code != http.StatusTooManyRequests {
		t.Fatalf("6th attempt: %d, want 429", last.code)
	}
	if s, err := strconv.Atoi(last.header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
		t.Fatalf("Retry-After %q", last.header.Get("Retry-After"))
	}
	// Even the right password is refused while limited.
	if r := f.do(t, "POST", "/v1/auth/login", "", jsonBody(map[string]string{"tenant": "acme", "email": "ops@acme.example", "password": testPassword})); r.code != http.StatusTooManyRequests {
		t.Fatalf("correct password while limited: %d", r.code)
	}
	if !contains(f.auditActions(t, f.acme), "ratelimit.hit denied warning") {
		t.Error("rate-limit hit not audited")
	}
}

func TestServiceAccounts_ScopedTokensRotationAndDisable(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.user(t, f.acme, "admin@acme.example", "admin")
	admin := f.login(t, "acme", "admin@acme.example").access
	r := f.do(t, "POST", "/v1/service-accounts", admin, jsonBody(map[string]any{"name": "ci", "permissions": []string{"experiment:read"}}))
	if r.code != http.StatusCreated {
		t.Fatalf("create: %d %v", r.code, r.body)
	}
	id := r.body["service_account"].(map[string]any)["id"].(string)
	cid, secret1 := r.body["client_id"].(string), r.body["client_secret"].(string)

	grant := func(secret string) response {
		return f.do(t, "POST", "/v1/auth/token", "", jsonBody(map[string]string{"grant_type": "client_credentials", "client_id": cid, "client_secret": secret}))
	}
	g := grant(secret1)
	if g.code != http.StatusOK || g.body["refresh_token"] != nil {
		t.Fatalf("grant: %d %v", g.code, g.body)
	}
	tok := g.body["access_token"].(string)
	if r := f.do(t, "GET", "/v1/experiments", tok, nil); r.code != http.StatusOK {
		t.Fatalf("permitted read: %d", r.code)
	}
	if r := f.do(t, "POST", "/v1/experiments", tok, jsonBody(validExperiment())); r.code != http.StatusForbidden {
		t.Fatalf("unpermitted write: %d, want 403", r.code)
	}
	// Form encoding, as OAuth clients send it.
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {cid}, "client_secret": {secret1}}
	req, _ := http.NewRequest("POST", f.url+"/v1/auth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("form grant: %v %v", resp, err)
	}

	// Rotation with no overlap: the old secret stops at once, the new one works.
	r = f.do(t, "POST", "/v1/service-accounts/"+id+"/secrets", admin, jsonBody(map[string]int{"overlap_seconds": 0}))
	if r.code != http.StatusOK {
		t.Fatalf("rotate: %d %v", r.code, r.body)
	}
	secret2 := r.body["client_secret"].(string)
	if g := grant(secret1); g.code != http.StatusUnauthorized {
		t.Fatalf("old secret after rotation: %d", g.code)
	}
	if g := grant(secret2); g.code != http.StatusOK {
		t.Fatalf("new secret: %d", g.code)
	}
	// Rotation with overlap keeps the previous secret working.
	r = f.do(t, "POST", "/v1/service-accounts/"+id+"/secrets", admin, nil)
	if r.code != http.StatusOK {
		t.Fatalf("rotate with default overlap: %d %v", r.code, r.body)
	}
	if g := grant(secret2); g.code != http.StatusOK {
		t.Fatalf("previous secret within the overlap: %d", g.code)
	}

	// Disabling the account revokes its tokens and refuses new ones.
	if r := f.do(t, "POST", "/v1/service-accounts/"+id+"/disable", admin, nil); r.code != http.StatusOK {
		t.Fatalf("disable: %d %v", r.code, r.body)
	}
	if r := f.do(t, "GET", "/v1/experiments", tok, nil); r.code != http.StatusUnauthorized {
		t.Fatalf("token of a disabled account: %d", r.code)
	}
	if g := grant(secret2); g.code != http.StatusUnauthorized {
		t.Fatalf("grant for a disabled account: %d", g.code)
	}
	// Bad grants are refused without a 500.
	for _, body := range []map[string]string{
		{"grant_type": "password", "client_id": cid, "client_secret": secret2},
		{"grant_type": "client_credentials", "client_id": "psa_x", "client_secret": "pss_y"},
		{"grant_type": "client_credentials", "client_id": cid, "client_secret": ""},
	} {
		if r := f.do(t, "POST", "/v1/auth/token", "", jsonBody(body)); r.code != http.StatusBadRequest && r.code != http.StatusUnauthorized {
			t.Errorf("bad grant %v: %d", body, r.code)
		}
	}
	// Permissions beyond a tenant admin's are refused.
	if r := f.do(t, "POST", "/v1/service-accounts", admin, jsonBody(map[string]any{"name": "root", "permissions": []string{"tenant:manage"}})); r.code != http.StatusBadRequest {
		t.Fatalf("service account with tenant:manage: %d", r.code)
	}
	got := f.auditActions(t, f.acme)
	for _, want := range []string{"service_account.create success info", "auth.token success info", "service_account.secret_rotate success warning",
		"service_account.disable success warning", "authz.denied denied warning", "auth.token failure warning"} {
		if !contains(got, want) {
			t.Errorf("audit lacks %q", want)
		}
	}
}

func TestTenants_SuspensionStopsTokensAtOnce(t *testing.T) {
	t.Parallel()
	f := setup(t)
	platform := pgtest.Tenant(t, f.st, "platform")
	f.user(t, platform, "root@platform.example", "platform-admin")
	f.user(t, f.acme, "admin@acme.example", "admin")
	root := f.login(t, "platform", "root@platform.example").access
	acmeAdmin := f.login(t, "acme", "admin@acme.example").access

	if r := f.do(t, "GET", "/v1/tenants", acmeAdmin, nil); r.code != http.StatusForbidden {
		t.Fatalf("tenant admin on platform endpoint: %d", r.code)
	}
	r := f.do(t, "POST", "/v1/tenants", root, jsonBody(map[string]string{"name": "newco"}))
	if r.code != http.StatusCreated {
		t.Fatalf("create tenant: %d %v", r.code, r.body)
	}
	if r := f.do(t, "POST", "/v1/tenants", root, jsonBody(map[string]string{"name": "newco"})); r.code != http.StatusConflict {
		t.Fatalf("duplicate tenant: %d", r.code)
	}
	if r := f.do(t, "GET", "/v1/tenants?limit=2", root, nil); r.code != http.StatusOK || len(r.body["items"].([]any)) != 2 || r.body["next"] == nil {
		t.Fatalf("list: %d %v", r.code, r.body)
	}
	if r := f.do(t, "POST", "/v1/tenants/"+f.acme.String()+"/suspend", root, nil); r.code != http.StatusOK || r.body["status"] != "suspended" {
		t.Fatalf("suspend: %d %v", r.code, r.body)
	}
	if r := f.do(t, "GET", "/v1/experiments", acmeAdmin, nil); r.code != http.StatusUnauthorized {
		t.Fatalf("token of a suspended tenant: %d", r.code)
	}
	if r := f.do(t, "POST", "/v1/auth/login", "", jsonBody(map[string]string{"tenant": "acme", "email": "admin@acme.example", "password": testPassword})); r.code != http.StatusUnauthorized {
		t.Fatalf("login to a suspended tenant: %d", r.code)
	}
	if r := f.do(t, "POST", "/v1/tenants/"+platform.String()+"/suspend", root, nil); r.code != http.StatusConflict {
		t.Fatalf("suspending one's own tenant: %d", r.code)
	}
	if r := f.do(t, "POST", "/v1/tenants/"+uuid.NewString()+"/suspend", root, nil); r.code != http.StatusNotFound {
		t.Fatalf("suspending an unknown tenant: %d", r.code)
	}
	if r := f.do(t, "POST", "/v1/tenants/"+f.acme.String()+"/resume", root, nil); r.code != http.StatusOK || r.body["status"] != "active" {
		t.Fatalf("resume: %d %v", r.code, r.body)
	}
	f.login(t, "acme", "admin@acme.example")
	got := f.auditActions(t, f.acme)
	for _, want := range []string{"tenant.suspend success warning", "tenant.resume success warning", "auth.login failure warning"} {
		if !contains(got, want) {
			t.Errorf("acme audit lacks %q: %v", want, got)
		}
	}
	if !contains(f.auditActions(t, f.acme), "authz.denied denied warning") {
		t.Error("tenant admin's denied platform call not audited")
	}
}

func TestUsers_AdminManagesRolesAndAccess(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.user(t, f.acme, "admin@acme.example", "admin")
	f.user(t, f.acme, "viewer@acme.example", "viewer")
	admin := f.login(t, "acme", "admin@acme.example").access
	viewer := f.login(t, "acme", "viewer@acme.example")

	if r := f.do(t, "POST", "/v1/users", viewer.access, jsonBody(map[string]string{"email": "x@acme.example", "password": testPassword, "role": "viewer"})); r.code != http.StatusForbidden {
		t.Fatalf("viewer creating a user: %d", r.code)
	}
	r := f.do(t, "POST", "/v1/users", admin, jsonBody(map[string]string{"email": "new@acme.example", "password": testPassword, "role": "operator"}))
	if r.code != http.StatusCreated || r.body["password_hash"] != nil {
		t.Fatalf("create: %d %v", r.code, r.body)
	}
	newID := r.body["id"].(string)
	for _, bad := range []map[string]string{
		{"email": "p@acme.example", "password": testPassword, "role": "platform-admin"},
		{"email": "p@acme.example", "password": "short", "role": "viewer"},
		{"email": "not-an-email", "password": testPassword, "role": "viewer"},
	} {
		if r := f.do(t, "POST", "/v1/users", admin, jsonBody(bad)); r.code != http.StatusBadRequest {
			t.Errorf("create %v: %d, want 400", bad, r.code)
		}
	}
	if r := f.do(t, "POST", "/v1/users", admin, jsonBody(map[string]string{"email": "NEW@acme.example", "password": testPassword, "role": "viewer"})); r.code != http.StatusConflict {
		t.Fatalf("duplicate email: %d", r.code)
	}
	if !contains(f.auditActions(t, f.acme), "authz.denied denied warning") {
		t.Fatal("viewer's denied write not audited")
	}
	if r := f.do(t, "GET", "/v1/users?limit=2", admin, nil); r.code != http.StatusOK || len(r.body["items"].([]any)) != 2 || r.body["next"] == nil {
		t.Fatalf("list: %d %v", r.code, r.body)
	}

	// Changing the viewer's role revokes the old token; a refresh carries the new role.
	var viewerID string
	me := f.do(t, "GET", "/v1/auth/me", viewer.access, nil)
	viewerID = me.body["subject"].(string)
	if r := f.do(t, "PATCH", "/v1/users/"+viewerID, admin, jsonBody(map[string]string{"role": "operator"})); r.code != http.StatusOK || r.body["role"] != "operator" {
		t.Fatalf("change role: %d %v", r.code, r.body)
	}
	if r := f.do(t, "GET", "/v1/auth/me", viewer.access, nil); r.code != http.StatusUnauthorized {
		t.Fatalf("token with the old role: %d", r.code)
	}
	r = f.refresh(t, viewer.refresh)
	if r.code != http.StatusOK {
		t.Fatalf("refresh after role change: %d", r.code)
	}
	if me := f.do(t, "GET", "/v1/auth/me", r.body["access_token"].(string), nil); me.code != http.StatusOK || me.body["roles"].([]any)[0] != "operator" {
		t.Fatalf("me after role change: %d %v", me.code, me.body)
	}

	// Disabling: login and refresh stop, and so do tokens already issued.
	s := f.login(t, "acme", "new@acme.example")
	if r := f.do(t, "POST", "/v1/users/"+newID+"/disable", admin, nil); r.code != http.StatusOK || r.body["disabled_at"] == nil {
		t.Fatalf("disable: %d %v", r.code, r.body)
	}
	if r := f.do(t, "GET", "/v1/auth/me", s.access, nil); r.code != http.StatusUnauthorized {
		t.Fatalf("token of a disabled user: %d", r.code)
	}
	if r := f.refresh(t, s.refresh); r.code != http.StatusUnauthorized {
		t.Fatalf("refresh of a disabled user: %d", r.code)
	}
	adminMe := f.do(t, "GET", "/v1/auth/me", admin, nil)
	if r := f.do(t, "POST", "/v1/users/"+adminMe.body["subject"].(string)+"/disable", admin, nil); r.code != http.StatusConflict {
		t.Fatalf("disabling oneself: %d", r.code)
	}
	if r := f.do(t, "GET", "/v1/users/"+uuid.NewString(), admin, nil); r.code != http.StatusNotFound {
		t.Fatalf("unknown user: %d", r.code)
	}
	// Another tenant's admin sees none of it.
	f.user(t, f.other, "admin@other.example", "admin")
	intruder := f.login(t, "other", "admin@other.example").access
	if r := f.do(t, "GET", "/v1/users/"+newID, intruder, nil); r.code != http.StatusNotFound {
		t.Fatalf("another tenant reading a user: %d", r.code)
	}
	if r := f.do(t, "POST", "/v1/users/"+newID+"/disable", intruder, nil); r.code != http.StatusNotFound {
		t.Fatalf("another tenant disabling a user: %d", r.code)
	}

	// The audit log shows all of it, filterable and paginated.
	r = f.do(t, "GET", "/v1/audit-events?action=user.role_change", admin, nil)
	if r.code != http.StatusOK || len(r.body["items"].([]any)) != 1 {
		t.Fatalf("audit filter by action: %d %v", r.code, r.body)
	}
	r = f.do(t, "GET", "/v1/audit-events?actor="+viewerID, admin, nil)
	if r.code != http.StatusOK || len(r.body["items"].([]any)) == 0 {
		t.Fatalf("audit filter by actor: %d %v", r.code, r.body)
	}
	seen, path := 0, "/v1/audit-events?limit=3"
	for range 20 {
		r = f.do(t, "GET", path, admin, nil)
		seen += len(r.body["items"].([]any))
		next, _ := r.body["next"].(string)
		if next == "" {
			break
		}
		path = "/v1/audit-events?limit=3&after=" + next
	}
	if total := len(f.auditActions(t, f.acme)); seen != total {
		t.Fatalf("paged through %d audit events of %d", seen, total)
	}
	if r := f.do(t, "GET", "/v1/audit-events", viewer.access, nil); r.code != http.StatusUnauthorized && r.code != http.StatusForbidden {
		t.Fatalf("viewer reading audit: %d", r.code)
	}
	if r := f.do(t, "GET", "/v1/audit-events?since=yesterday", admin, nil); r.code != http.StatusBadRequest {
		t.Fatalf("bad since: %d", r.code)
	}
}

func countPrefix(list []string, prefix string) int {
	n := 0
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

func TestPassword_ChangeEndsEverySession(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.user(t, f.acme, "ops@acme.example", "viewer")
	s1 := f.login(t, "acme", "ops@acme.example")
	s2 := f.login(t, "acme", "ops@acme.example")
	if r := f.do(t, "POST", "/v1/auth/password", s1.access, jsonBody(map[string]string{"current_password": "wrong password!", "new_password": "a brand new password"})); r.code != http.StatusForbidden {
		t.Fatalf("wrong current password: %d", r.code)
	}
	if r := f.do(t, "POST", "/v1/auth/password", s1.access, jsonBody(map[string]string{"current_password": testPassword, "new_password": "short"})); r.code != http.StatusBadRequest {
		t.Fatalf("weak new password: %d", r.code)
	}
	if r := f.do(t, "POST", "/v1/auth/password", s1.access, jsonBody(map[string]string{"current_password": testPassword, "new_password": "a brand new password"})); r.code != http.StatusNoContent {
		t.Fatalf("change: %d %v", r.code, r.body)
	}
	for _, s := range []session{s1, s2} {
		if r := f.do(t, "GET", "/v1/auth/me", s.access, nil); r.code != http.StatusUnauthorized {
			t.Fatalf("access token after password change: %d", r.code)
		}
		if r := f.refresh(t, s.refresh); r.code != http.StatusUnauthorized {
			t.Fatalf("refresh token after password change: %d", r.code)
		}
	}
	if r := f.do(t, "POST", "/v1/auth/login", "", jsonBody(map[string]string{"tenant": "acme", "email": "ops@acme.example", "password": testPassword})); r.code != http.StatusUnauthorized {
		t.Fatalf("old password still works: %d", r.code)
	}
	if r := f.do(t, "POST", "/v1/auth/login", "", jsonBody(map[string]string{"tenant": "acme", "email": "ops@acme.example", "password": "a brand new password"})); r.code != http.StatusOK {
		t.Fatalf("new password refused: %d", r.code)
	}
	got := f.auditActions(t, f.acme)
	if !contains(got, "auth.password_change success warning") || !contains(got, "auth.password_change failure warning") {
		t.Fatalf("password changes not audited: %v", got)
	}
}

func TestKeyRotation_OldKeyVerifiesWhileNewKeySigns(t *testing.T) {
	t.Parallel()
	f := setup(t)
	oldKey, _ := f.api.o.Keys.Active()
	oldToken := f.token(t, f.acme, "viewer")
	newKey, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	// Step 2 of the rotation: the new key signs, the old one only verifies.
	keys, err := auth.NewKeySet(newKey, oldKey.VerifyOnly())
	if err != nil {
		t.Fatal(err)
	}
	v, _ := auth.NewVerifier(auth.VerifierConfig{Keys: keys, Issuer: "phoenix", Audience: "phoenix", Revocation: f.api.o.Revocation})
	iss, _ := auth.NewIssuer(auth.IssuerConfig{Keys: keys, Issuer: "phoenix", Audience: "phoenix"})
	o := f.api.o
	o.Keys, o.Verifier, o.Issuer = keys, v, iss
	rotated := New(o)
	if err := rotated.LoadRoles(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.url = serve(t, rotated)
	jwks := f.do(t, "GET", auth.JWKSPath, "", nil)
	if n := len(jwks.body["keys"].([]any)); n != 2 {
		t.Fatalf("JWKS publishes %d keys during rotation, want 2", n)
	}
	if r := f.do(t, "GET", "/v1/experiments", oldToken, nil); r.code != http.StatusOK {
		t.Fatalf("token signed by the old key during rotation: %d", r.code)
	}
	f.user(t, f.acme, "ops@acme.example", "viewer")
	s := f.login(t, "acme", "ops@acme.example")
	if !strings.Contains(decodeHeader(t, s.access), newKey.ID) {
		t.Fatal("new tokens are not signed by the new key")
	}
	// Step 3: the old key is gone and its tokens with it.
	keys3, _ := auth.NewKeySet(newKey)
	v3, _ := auth.NewVerifier(auth.VerifierConfig{Keys: keys3, Issuer: "phoenix", Audience: "phoenix"})
	if _, err := v3.Verify(context.Background(), oldToken); err == nil {
		t.Fatal("token of a removed key still verifies")
	}
	if _, err := v3.Verify(context.Background(), s.access); err != nil {
		t.Fatalf("token of the new key: %v", err)
	}
}

func decodeHeader(t *testing.T, token string) string {
	t.Helper()
	h, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}
