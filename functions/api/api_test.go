package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/phoenixotel/phoenix/shared/auth"
	"github.com/phoenixotel/phoenix/shared/function"
	"github.com/phoenixotel/phoenix/shared/password"
	"github.com/phoenixotel/phoenix/shared/ratelimit"
	"github.com/phoenixotel/phoenix/shared/revocation"
	"github.com/phoenixotel/phoenix/shared/store"
	"github.com/phoenixotel/phoenix/test/pgtest"
)

type fixture struct {
	url    string // base URL of the API served by the real function runtime
	st     *store.Store
	api    *API
	issuer *auth.Issuer
	rdb    *redis.Client
	sent   *sentEvents // commands the API sent to the broker
	acme   uuid.UUID
	other  uuid.UUID
}

func setup(t testing.TB) *fixture { t.Helper(); return setupAPI(t, true) }

// setupAPI serves an API with or without its /internal routes, with options changed by with.
func setupAPI(t testing.TB, internal bool, with ...func(*Options)) *fixture {
	t.Helper()
	st := pgtest.Migrated(t).AppStore(t, store.Options{})
	key, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := auth.NewKeySet(key)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	t.Cleanup(func() { _ = rdb.Close() })
	prefix := "test-" + uuid.NewString()
	rev := revocation.New(rdb, revocation.Options{Store: st, Prefix: prefix})
	v, err := auth.NewVerifier(auth.VerifierConfig{Keys: keys, Issuer: "phoenix", Audience: "phoenix", Revocation: rev})
	if err != nil {
		t.Fatal(err)
	}
	iss, err := auth.NewIssuer(auth.IssuerConfig{Keys: keys, Issuer: "phoenix", Audience: "phoenix"})
	if err != nil {
		t.Fatal(err)
	}
	sender := &sentEvents{}
	o := Options{
		Sender: sender,
		Store:  st, Keys: keys, Verifier: v, Issuer: iss, Revocation: rev,
		Limiter: ratelimit.New(rdb, prefix),
		Limits: Limits{
			LoginIP: ratelimit.Limit{Rate: 1000, Period: time.Minute}, LoginAccount: ratelimit.Limit{Rate: 5, Period: time.Minute},
			Tenant: ratelimit.Limit{Rate: 1000, Period: time.Second}, Token: ratelimit.Limit{Rate: 1000, Period: time.Second},
		},
		RefreshTTL: time.Hour,
		// Cheap hashing keeps tests fast; the KDF itself is tested in shared/password.
		Password: password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		Internal: internal,
	}
	for _, w := range with {
		w(&o)
	}
	a := New(o)
	if err := a.LoadRoles(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &fixture{url: serve(t, a), st: st, api: a, issuer: iss, rdb: rdb, sent: sender,
		acme: pgtest.Tenant(t, st, "acme"), other: pgtest.Tenant(t, st, "other")}
}

// serve runs the API in the function runtime (timeouts, header limits, request ids) on a free
// loopback port until the test ends.
func serve(t testing.TB, a *API) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- function.Serve(ctx, function.Service{Name: "api", HTTP: a.Routes()},
			function.Options{Addr: "127.0.0.1:0", Listening: func(ad net.Addr) { addrs <- ad }})
	}()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case ad := <-addrs:
		return "http://" + ad.String()
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	return ""
}

func (f *fixture) token(t *testing.T, tenant uuid.UUID, roles ...string) string {
	t.Helper()
	tok, _, err := f.issuer.Issue(auth.Grant{Subject: "user-1", Tenant: tenant, Roles: roles})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type response struct {
	code   int
	header http.Header
	body   map[string]any
}

func (f *fixture) do(t testing.TB, method, path, token string, body io.Reader) response {
	t.Helper()
	req, _ := http.NewRequest(method, f.url+path, body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return response{resp.StatusCode, resp.Header, m}
}

func jsonBody(v any) io.Reader {
	b, _ := json.Marshal(v)
	return bytes.NewReader(b)
}

func validExperiment() map[string]any {
	return map[string]any{
		"name": "topk", "duration_seconds": 600,
		"baseline":  map[string]any{"template": "process-baseline"},
		"candidate": map[string]any{"template": "process-priority-filter", "parameters": map[string]any{"high_processes": []string{"nginx.*"}}},
		"spec": map[string]any{"critical_processes": []string{"postgres"}, "targets": map[string]any{"namespace": "phoenix"},
			"success_criteria": []map[string]any{{"metric": "series", "min_improvement": 0.2}}},
	}
}

func TestAuthentication_IsRequiredAndStrict(t *testing.T) {
	t.Parallel()
	f := setup(t)
	expired, _, _ := func() (string, auth.Claims, error) {
		keys, _ := auth.NewKeySet(mustKey(t))
		iss, _ := auth.NewIssuer(auth.IssuerConfig{Keys: keys, Issuer: "phoenix", Audience: "phoenix"})
		return iss.Issue(auth.Grant{Subject: "u", Tenant: f.acme, Roles: []string{"admin"}})
	}()
	tests := map[string]string{
		"no token":              "",
		"garbage":               "not.a.jwt",
		"signed by another key": expired,
	}
	for name, tok := range tests {
		t.Run(name, func(t *testing.T) {
			r := f.do(t, "GET", "/v1/experiments", tok, nil)
			if r.code != http.StatusUnauthorized || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("%d %v", r.code, r.header)
			}
			if r.header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("content type %q", r.header.Get("Content-Type"))
			}
		})
	}
	if r := f.do(t, "GET", auth.JWKSPath, "", nil); r.code != http.StatusOK || len(r.body["keys"].([]any)) != 1 {
		t.Fatalf("jwks: %d %v", r.code, r.body)
	}
}

func mustKey(t *testing.T) auth.Key {
	k, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestAuthorization_DeniesByDefault(t *testing.T) {
	t.Parallel()
	f := setup(t)
	tests := []struct {
		name   string
		roles  []string
		method string
		want   int
	}{
		{"viewer reads", []string{"viewer"}, "GET", http.StatusOK},
		{"viewer cannot create", []string{"viewer"}, "POST", http.StatusForbidden},
		{"operator creates", []string{"operator"}, "POST", http.StatusCreated},
		{"unknown role grants nothing", []string{"superuser"}, "GET", http.StatusForbidden},
		{"no roles grant nothing", nil, "GET", http.StatusForbidden},
		{"platform admin has no tenant permissions", []string{"platform-admin"}, "GET", http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.method == "POST" {
				body = jsonBody(validExperiment())
			}
			if r := f.do(t, tt.method, "/v1/experiments", f.token(t, f.acme, tt.roles...), body); r.code != tt.want {
				t.Fatalf("%d %v, want %d", r.code, r.body, tt.want)
			}
		})
	}
	// Until the catalog is loaded nothing is allowed.
	fresh := New(f.api.o)
	req, _ := http.NewRequest("GET", serve(t, fresh)+"/v1/experiments", nil)
	req.Header.Set("Authorization", "Bearer "+f.token(t, f.acme, "admin"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("before roles were loaded: %d, want 403", resp.StatusCode)
	}
}

func TestExperiments_AreConfinedToTheTokensTenant(t *testing.T) {
	t.Parallel()
	f := setup(t)
	op := f.token(t, f.acme, "operator")
	created := f.do(t, "POST", "/v1/experiments", op, jsonBody(validExperiment()))
	if created.code != http.StatusCreated || created.header.Get("Location") == "" {
		t.Fatalf("%d %v", created.code, created.body)
	}
	id := created.body["id"].(string)
	if created.body["tenant_id"] != f.acme.String() || created.body["state"] != "pending" {
		t.Fatalf("created %v", created.body)
	}
	// A tenant id smuggled into the body is refused, never used.
	smuggled := validExperiment()
	smuggled["tenant_id"] = f.other.String()
	if r := f.do(t, "POST", "/v1/experiments", op, jsonBody(smuggled)); r.code != http.StatusBadRequest {
		t.Fatalf("smuggled tenant: %d", r.code)
	}
	intruder := f.token(t, f.other, "admin")
	for _, path := range []string{"/v1/experiments/" + id, "/v1/experiments/" + id + "/transitions"} {
		if r := f.do(t, "GET", path, intruder, nil); r.code != http.StatusNotFound {
			t.Errorf("%s as another tenant: %d, want 404", path, r.code)
		}
		if r := f.do(t, "GET", path, op, nil); r.code != http.StatusOK {
			t.Errorf("%s as owner: %d", path, r.code)
		}
	}
	if r := f.do(t, "GET", "/v1/experiments", intruder, nil); len(r.body["items"].([]any)) != 0 {
		t.Errorf("another tenant lists %v", r.body)
	}
}

func TestExperiments_RejectBadInput(t *testing.T) {
	t.Parallel()
	f := setup(t)
	op := f.token(t, f.acme, "operator")
	bad := validExperiment()
	bad["name"] = ""
	bad["duration_seconds"] = 10
	bad["baseline"] = map[string]any{"template": "../etc"}
	bad["candidate"] = map[string]any{"template": "process-minimal", "parameters": map[string]any{"top_k": 5}}
	bad["spec"] = map[string]any{"success_criteria": []map[string]any{{"metric": "latency"}}, "critical_processes": []string{"("}}
	r := f.do(t, "POST", "/v1/experiments", op, jsonBody(bad))
	if r.code != http.StatusBadRequest {
		t.Fatalf("%d %v", r.code, r.body)
	}
	fields := map[string]bool{}
	for _, e := range r.body["errors"].([]any) {
		fields[e.(map[string]any)["field"].(string)] = true
	}
	for _, want := range []string{"name", "duration_seconds", "baseline.template", "candidate.parameters", "spec.success_criteria[0].metric", "spec.critical_processes[0]"} {
		if !fields[want] {
			t.Errorf("no error for %s: %v", want, r.body["errors"])
		}
	}
	cases := []struct {
		method, path string
		body         io.Reader
		want         int
	}{
		{"POST", "/v1/experiments", strings.NewReader(`{"name":"x","unknown":1}`), http.StatusBadRequest},
		{"POST", "/v1/experiments", strings.NewReader(`{"name":"x","duration_seconds":600,"baseline":{"template":"a"},"candidate":{"template":"b"},"spec":{"targets":"garbage","success_criteria":42}}`), http.StatusBadRequest},
		{"POST", "/v1/experiments", strings.NewReader(`{"name":"x","duration_seconds":600,"baseline":{"template":"a"},"candidate":{"template":"b"},"spec":{"owner":"me"}}`), http.StatusBadRequest},
		{"POST", "/v1/experiments", strings.NewReader(`{"name":"` + strings.Repeat("x", 70000) + `"}`), http.StatusRequestEntityTooLarge},
		{"POST", "/v1/experiments", strings.NewReader(strings.Repeat("[", 5000)), http.StatusBadRequest},
		{"GET", "/v1/experiments/not-a-uuid", nil, http.StatusBadRequest},
		{"GET", "/v1/experiments/" + uuid.NewString(), nil, http.StatusNotFound},
		{"GET", "/v1/experiments?state=done", nil, http.StatusBadRequest},
		{"GET", "/v1/experiments?limit=0", nil, http.StatusBadRequest},
		{"GET", "/v1/experiments?limit=201", nil, http.StatusBadRequest},
		{"GET", "/v1/experiments?after=%%%", nil, http.StatusBadRequest},
		{"GET", "/v1/experiments?after=bm90LWEtY3Vyc29y", nil, http.StatusBadRequest},
		{"GET", "/v1/nothing", nil, http.StatusNotFound},
	}
	for _, c := range cases {
		if r := f.do(t, c.method, c.path, op, c.body); r.code != c.want {
			t.Errorf("%s %s: %d %v, want %d", c.method, c.path, r.code, r.body, c.want)
		}
	}
}

func TestExperiments_PaginateWithoutSkippingTies(t *testing.T) {
	t.Parallel()
	f := setup(t)
	// Created in one transaction: now() gives all five the same created_at.
	err := f.st.WithTenant(context.Background(), f.acme, func(tx *store.Tx) error {
		for range 5 {
			if _, err := tx.CreateExperiment(context.Background(), store.NewExperiment{
				Name: "e", DurationSeconds: 600, CreatedBy: "t",
				Baseline: store.PipelineChoice{Template: "a"}, Candidate: store.PipelineChoice{Template: "b"},
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	viewer := f.token(t, f.acme, "viewer")
	seen := map[string]bool{}
	path := "/v1/experiments?limit=2"
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		r := f.do(t, "GET", path, viewer, nil)
		for _, it := range r.body["items"].([]any) {
			id := it.(map[string]any)["id"].(string)
			if seen[id] {
				t.Fatalf("experiment %s listed twice", id)
			}
			seen[id] = true
		}
		next, _ := r.body["next"].(string)
		if next == "" {
			break
		}
		path = "/v1/experiments?limit=2&after=" + next
	}
	if len(seen) != 5 {
		t.Fatalf("listed %d experiments across pages, want 5", len(seen))
	}
	if r := f.do(t, "GET", "/v1/experiments?state=running", viewer, nil); len(r.body["items"].([]any)) != 0 {
		t.Fatalf("state filter: %v", r.body)
	}
}

func TestStoreFailure_Is503WithoutInternals(t *testing.T) {
	t.Parallel()
	f := setup(t)
	tok := f.token(t, f.acme, "viewer")
	f.st.Close()
	r := f.do(t, "GET", "/v1/experiments", tok, nil)
	if r.code != http.StatusServiceUnavailable {
		t.Fatalf("%d %v", r.code, r.body)
	}
	if d, _ := r.body["detail"].(string); strings.Contains(d, "pool") || strings.Contains(d, "closed") {
		t.Fatalf("internal error leaked: %q", d)
	}
}

func ioCopy(dst io.Writer, resp *http.Response) (int64, error) {
	defer resp.Body.Close()
	return io.Copy(dst, resp.Body)
}

// sentEvents records what the API sends to the broker; the real sender is exercised against the
// local broker in shared/broker and the end-to-end tests.
type sentEvents struct {
	mu     sync.Mutex
	events []event.Event
	err    error // returned by Send when set
}

func (s *sentEvents) Send(_ context.Context, e event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.events = append(s.events, e)
	return nil
}
