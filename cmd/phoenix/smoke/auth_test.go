package smoke

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeAuth is a test double of the API's authentication endpoints (the real ones are exercised by
// test/integration against phoenix dev): it behaves as docs/auth.md and docs/api.md say, except for the one fault
// it is told to have, so each test proves that the auth scenario notices that fault.
type fakeAuth struct {
	fault    string               // the misbehaviour to show; empty: none
	mu       sync.Mutex           // guards the maps
	access   map[string]fakeGrant // access token → who and which session
	refresh  map[string]*fakeRT   // refresh token → its state
	revoked  map[string]bool      // sessions and service accounts whose tokens are revoked
	accounts map[string]string    // client id → client secret
}

// fakeGrant is what an access token stands for.
type fakeGrant struct {
	session string // login session or service account id
	account bool   // a service account's token
}

// fakeRT is one refresh token.
type fakeRT struct {
	session string // its family
	rotated bool   // exchanged already
}

// The faults fakeAuth can show.
const (
	faultAnyPassword   = "accepts any password"
	faultCacheable     = "lets caches keep tokens"
	faultNoRotation    = "returns the same refresh token"
	faultReuseAccepted = "exchanges a rotated refresh token again"
	faultReuseSpares   = "refuses the reuse but keeps the session"
	faultLogoutKeeps   = "logout keeps the access token valid"
	faultDisabledKeeps = "a disabled service account's token stays valid"
)

func newToken(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func (f *fakeAuth) handler(t *testing.T) http.Handler {
	f.access, f.refresh, f.revoked, f.accounts = map[string]fakeGrant{}, map[string]*fakeRT{}, map[string]bool{}, map[string]string{}
	problem := func(w http.ResponseWriter, status int, detail string) {
		w.Header().Set("Content-Type", "application/problem+json")
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="phoenix"`)
		}
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"title": http.StatusText(status), "detail": detail})
	}
	reply := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		if f.fault != faultCacheable {
			w.Header().Set("Cache-Control", "no-store")
		}
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	issue := func(g fakeGrant, refresh string) map[string]any {
		tok := newToken("h.p.")
		f.access[tok] = g
		out := map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 600}
		if refresh != "" {
			out["refresh_token"] = refresh
		}
		return out
	}
	caller := func(r *http.Request) (string, fakeGrant, bool) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		g, ok := f.access[tok]
		return tok, g, ok && !f.revoked[tok] && !f.revoked[g.session]
	}
	body := func(r *http.Request) map[string]string {
		var m map[string]string
		_ = json.NewDecoder(r.Body).Decode(&m)
		return m
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/auth/login", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		b := body(r)
		if b["tenant"] != "acme" || b["email"] != "ops@acme.example" || b["password"] != "right password" && f.fault != faultAnyPassword {
			problem(w, http.StatusUnauthorized, "invalid tenant, email or password")
			return
		}
		session, rt := newToken("s"), newToken("prt_")
		f.refresh[rt] = &fakeRT{session: session}
		reply(w, http.StatusOK, issue(fakeGrant{session: session}, rt))
	})
	mux.HandleFunc("POST /v1/auth/refresh", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		old := body(r)["refresh_token"]
		rt, ok := f.refresh[old]
		switch {
		case !ok || f.revoked[rt.session]:
			problem(w, http.StatusUnauthorized, "the refresh token is invalid, expired or revoked")
			return
		case rt.rotated && f.fault != faultReuseAccepted:
			if f.fault != faultReuseSpares {
				f.revoked[rt.session] = true
			}
			problem(w, http.StatusUnauthorized, "the refresh token is invalid, expired or revoked")
			return
		}
		rt.rotated = true
		next := old
		if f.fault != faultNoRotation {
			next = newToken("prt_")
			f.refresh[next] = &fakeRT{session: rt.session}
		}
		reply(w, http.StatusOK, issue(fakeGrant{session: rt.session}, next))
	})
	mux.HandleFunc("POST /v1/auth/logout", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		tok, g, ok := caller(r)
		if !ok {
			problem(w, http.StatusUnauthorized, "log in again")
			return
		}
		if f.fault != faultLogoutKeeps {
			f.revoked[tok], f.revoked[g.session] = true, true
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /v1/auth/me", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		_, g, ok := caller(r)
		if !ok {
			problem(w, http.StatusUnauthorized, "the access token is invalid, expired or revoked")
			return
		}
		me := map[string]any{"subject": "u1", "subject_type": "user", "email": "ops@acme.example", "roles": []string{"admin"},
			"permissions": []string{"experiment:read", "service-account:write"}, "tenant": map[string]string{"id": "t1", "name": "acme"}}
		if g.account {
			me = map[string]any{"subject": g.session, "subject_type": "service_account", "permissions": []string{"experiment:read"},
				"tenant": map[string]string{"id": "t1", "name": "acme"}}
		}
		reply(w, http.StatusOK, me)
	})
	mux.HandleFunc("POST /v1/service-accounts", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if _, _, ok := caller(r); !ok {
			problem(w, http.StatusUnauthorized, "log in again")
			return
		}
		id, secret := newToken("sa"), newToken("pss_")
		f.accounts[id] = secret
		reply(w, http.StatusCreated, map[string]any{"service_account": map[string]string{"id": id}, "client_id": id, "client_secret": secret})
	})
	mux.HandleFunc("POST /v1/auth/token", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		b := body(r)
		if secret, ok := f.accounts[b["client_id"]]; !ok || secret != b["client_secret"] || f.revoked[b["client_id"]] {
			problem(w, http.StatusUnauthorized, "invalid client_id or client_secret")
			return
		}
		reply(w, http.StatusOK, issue(fakeGrant{session: b["client_id"], account: true}, ""))
	})
	mux.HandleFunc("POST /v1/service-accounts/{id}/disable", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.fault != faultDisabledKeeps {
			f.revoked[r.PathValue("id")] = true
		}
		reply(w, http.StatusOK, map[string]string{"id": r.PathValue("id")})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the auth scenario called %s %s, which it has no business calling", r.Method, r.URL.Path)
		problem(w, http.StatusNotFound, "no such endpoint")
	})
	return mux
}

func TestAuth_FailsAtTheStepThePlatformGetsWrong(t *testing.T) {
	creds := Credentials{Primary: Account{Tenant: "acme", Email: "ops@acme.example", Password: "right password"}}
	steps := []string{
		"login with a wrong password is refused",
		"login issues an access and a refresh token",
		"a request without a valid token is refused",
		"/v1/auth/me names the caller",
		"refresh rotates both tokens",
		"a rotated refresh token presented again is refused",
		"the reuse ended the whole session",
		"logout revokes the access token and its session",
		"a service account's client credentials grant a token",
		"disabling the service account revokes its token",
	}
	for _, tc := range []struct {
		fault string // the platform's misbehaviour
		step  string // the step that must fail; empty: the scenario passes
		want  string // in the failed step's detail
	}{
		{"", "", ""},
		{faultAnyPassword, steps[0], "issued tokens for a wrong password"},
		{faultCacheable, steps[1], "want no-store"},
		{faultNoRotation, steps[4], "refresh tokens must rotate"},
		{faultReuseAccepted, steps[5], "exchanged twice"},
		{faultReuseSpares, steps[6], "newest refresh token: POST /v1/auth/refresh answered 200"},
		{faultLogoutKeeps, steps[7], "the token is still accepted"},
		{faultDisabledKeeps, steps[9], "the disabled service account's token"},
	} {
		t.Run(strings.ReplaceAll(tc.fault, " ", "_")+"_", func(t *testing.T) {
			f := &fakeAuth{fault: tc.fault}
			srv := httptest.NewServer(f.handler(t))
			defer srv.Close()
			res := Auth(context.Background(), Target{API: srv.URL, Gateway: srv.URL}, creds, Options{})
			if tc.step == "" {
				if !res.Passed() || len(res.Steps) != len(steps)+1 {
					t.Fatalf("a faithful platform failed or ran other steps: %+v", res.Steps)
				}
				for i, name := range steps {
					if res.Steps[i].Name != name {
						t.Fatalf("step %d is %q, want %q", i, res.Steps[i].Name, name)
					}
				}
				return
			}
			failed := res.Failure()
			if failed == nil || failed.Name != tc.step || !strings.Contains(failed.Detail, tc.want) {
				t.Fatalf("failed step %+v, want %q with %q; steps %+v", failed, tc.step, tc.want, res.Steps)
			}
			for _, s := range res.Steps {
				if s.Name == tc.step {
					break
				}
				if s.Status != Pass {
					t.Fatalf("step %q before the fault did not pass: %+v", s.Name, s)
				}
			}
			if strings.Contains(failed.Detail, "right password") {
				t.Fatal("a report contains the password")
			}
		})
	}
}

func TestAuth_SkipsTheServiceAccountWithoutThePermission(t *testing.T) {
	f := &fakeAuth{}
	h := f.handler(t)
	// The same platform, but /me shows a viewer: no service-account:write.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/auth/me" {
			h.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		var me map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &me)
		if me != nil {
			me["permissions"] = []string{"experiment:read"}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_ = json.NewEncoder(w).Encode(me)
	}))
	defer srv.Close()
	res := Auth(context.Background(), Target{API: srv.URL, Gateway: srv.URL},
		Credentials{Primary: Account{Tenant: "acme", Email: "ops@acme.example", Password: "right password"}}, Options{})
	s := res.Step("a service account's client credentials grant a token")
	if !res.Passed() || s == nil || s.Status != Skip || !strings.Contains(s.Detail, "lacks service-account:write") {
		t.Fatalf("step %+v in %+v", s, res.Steps)
	}
}

func TestAuth_WaitsOutTheLoginRateLimit(t *testing.T) {
	f := &fakeAuth{}
	h := f.handler(t)
	var mu sync.Mutex
	limited := 1 // the first login is over the limit
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		over := r.URL.Path == "/v1/auth/login" && limited > 0
		if over {
			limited--
		}
		mu.Unlock()
		if over {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	res := Auth(context.Background(), Target{API: srv.URL, Gateway: srv.URL},
		Credentials{Primary: Account{Tenant: "acme", Email: "ops@acme.example", Password: "right password"}}, Options{})
	if !res.Passed() || res.Steps[0].Seconds < 1 {
		t.Fatalf("a 429 with Retry-After: 1 should be waited out: %+v", res.Steps)
	}
}
