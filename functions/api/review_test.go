package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/phoenixotel/phoenix/shared/ratelimit"
)

func TestEscalation_NobodyGrantsMoreThanTheyHold(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.user(t, f.acme, "admin@acme.example", "admin")
	admin := f.login(t, "acme", "admin@acme.example").access
	mk := func(tok, name string, perms ...string) response {
		return f.do(t, "POST", "/v1/service-accounts", tok, jsonBody(map[string]any{"name": name, "permissions": perms}))
	}
	grant := func(r response) string {
		g := f.do(t, "POST", "/v1/auth/token", "", jsonBody(map[string]string{"grant_type": "client_credentials",
			"client_id": r.body["client_id"].(string), "client_secret": r.body["client_secret"].(string)}))
		if g.code != http.StatusOK {
			t.Fatalf("grant: %d", g.code)
		}
		return g.body["access_token"].(string)
	}
	narrow := mk(admin, "narrow", "service-account:write")
	wide := mk(admin, "wide", "service-account:write", "user:write", "audit:read")
	if narrow.code != http.StatusCreated || wide.code != http.StatusCreated {
		t.Fatalf("setup: %d %d", narrow.code, wide.code)
	}
	sa := grant(narrow)
	if r := mk(sa, "escalated", "user:write", "audit:read"); r.code != http.StatusBadRequest {
		t.Fatalf("service account granting permissions it lacks: %d, want 400", r.code)
	}
	if r := mk(sa, "peer", "service-account:write"); r.code != http.StatusCreated {
		t.Fatalf("granting what it holds: %d", r.code)
	}
	wideID := wide.body["service_account"].(map[string]any)["id"].(string)
	for _, path := range []string{"/v1/service-accounts/" + wideID + "/secrets", "/v1/service-accounts/" + wideID + "/disable"} {
		if r := f.do(t, "POST", path, sa, nil); r.code != http.StatusForbidden {
			t.Fatalf("%s on a wider account: %d, want 403", path, r.code)
		}
	}
	// A service account that may write users cannot make an admin (it holds less than an admin).
	userWriter := grant(mk(admin, "user-writer", "user:write", "user:read"))
	if r := f.do(t, "POST", "/v1/users", userWriter, jsonBody(map[string]string{"email": "boss@acme.example", "password": testPassword, "role": "admin"})); r.code != http.StatusBadRequest {
		t.Fatalf("creating an admin without holding an admin's permissions: %d, want 400", r.code)
	}
	adminID := f.do(t, "GET", "/v1/auth/me", admin, nil).body["subject"].(string)
	if r := f.do(t, "POST", "/v1/users/"+adminID+"/disable", userWriter, nil); r.code != http.StatusForbidden {
		t.Fatalf("disabling an admin without an admin's permissions: %d, want 403", r.code)
	}
	if r := f.do(t, "PATCH", "/v1/users/"+adminID, userWriter, jsonBody(map[string]string{"role": "viewer"})); r.code != http.StatusForbidden {
		t.Fatalf("demoting an admin without an admin's permissions: %d, want 403", r.code)
	}
}

func TestLogin_PerIPLimitAcrossAccounts(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.api.o.Limits.LoginIP = ratelimit.Limit{Rate: 3, Period: time.Minute}
	codes := []int{}
	for i := range 4 {
		r := f.do(t, "POST", "/v1/auth/login", "", jsonBody(map[string]string{"tenant": "acme", "email": "u" + string(rune('a'+i)) + "@acme.example", "password": testPassword}))
		codes = append(codes, r.code)
	}
	if codes[3] != http.StatusTooManyRequests {
		t.Fatalf("codes %v: the 4th attempt from one IP must be 429", codes)
	}
}

func TestAudit_SurvivesHostileRequestStrings(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.user(t, f.acme, "ops@acme.example", "admin")
	for _, ua := range []string{"curl\xff", strings.Repeat("a", 511) + "é"} {
		req, _ := http.NewRequest("POST", f.url+"/v1/auth/login", jsonBody(map[string]string{"tenant": "acme", "email": "ops@acme.example", "password": "wrong password!"}))
		req.Header.Set("User-Agent", ua)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("UA %q: %d", ua, resp.StatusCode)
		}
		req, _ = http.NewRequest("POST", f.url+"/v1/auth/login", jsonBody(map[string]string{"tenant": "acme", "email": "ops@acme.example", "password": testPassword}))
		req.Header.Set("User-Agent", ua)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("a correct login with UA %q: %d", ua, resp.StatusCode)
		}
	}
	if n := countPrefix(f.auditActions(t, f.acme), "auth.login failure"); n != 2 {
		t.Fatalf("%d failed logins audited, want 2", n)
	}
	admin := f.login(t, "acme", "ops@acme.example").access
	for _, path := range []string{"/v1/audit-events?actor=%00", "/v1/audit-events?action=%ff"} {
		if r := f.do(t, "GET", path, admin, nil); r.code != http.StatusBadRequest && r.code != http.StatusOK {
			t.Fatalf("%s: %d, want 400 (or an empty 200), never 5xx", path, r.code)
		}
	}
	if r := f.do(t, "POST", "/v1/users", admin, strings.NewReader(`{"email":"a\u0000@acme.example","password":"`+testPassword+`","role":"viewer"}`)); r.code != http.StatusBadRequest {
		t.Fatalf("NUL in an email: %d", r.code)
	}
}

func TestPlatformAndViewerEdges(t *testing.T) {
	t.Parallel()
	f := setup(t)
	pt := f.token(t, f.acme, "platform-admin")
	if r := f.do(t, "GET", "/v1/tenants/not-a-uuid", pt, nil); r.code != http.StatusBadRequest {
		t.Fatalf("platform admin, invalid tenant id: %d, want 400", r.code)
	}
	if r := f.do(t, "GET", "/v1/audit-events", f.token(t, f.acme, "viewer"), nil); r.code != http.StatusForbidden {
		t.Fatalf("viewer reading the audit log: %d, want 403", r.code)
	}
}

func TestSuspension_EndsRefreshTokensForGood(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.user(t, f.acme, "ops@acme.example", "viewer")
	s := f.login(t, "acme", "ops@acme.example")
	root := f.token(t, f.other, "platform-admin")
	for _, action := range []string{"suspend", "resume"} {
		if r := f.do(t, "POST", "/v1/tenants/"+f.acme.String()+"/"+action, root, nil); r.code != http.StatusOK {
			t.Fatalf("%s: %d %v", action, r.code, r.body)
		}
	}
	if r := f.refresh(t, s.refresh); r.code != http.StatusUnauthorized {
		t.Fatalf("refresh token from before the suspension, after resume: %d, want 401", r.code)
	}
	f.login(t, "acme", "ops@acme.example") // a new login works again
}
