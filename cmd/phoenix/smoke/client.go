package smoke

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// api calls the Phoenix API and returns its answers as they are, for the steps to judge.
type api struct {
	base string       // the API's base URL, without a trailing slash
	hc   *http.Client // bounded by a timeout: a smoke test must not hang
}

func newAPI(t Target) *api {
	hc := t.Client
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &api{base: strings.TrimSuffix(t.API, "/"), hc: hc}
}

// reply is one answer of the API.
type reply struct {
	Method string      // the request's method
	Path   string      // the request's path and query
	Status int         // the HTTP status
	Header http.Header // the answer's headers
	Body   []byte      // the answer's body (at most 16 MiB)
}

// String names the request and its answer, with the problem's detail when there is one.
func (r reply) String() string {
	s := fmt.Sprintf("%s %s answered %d", r.Method, r.Path, r.Status)
	if d := r.detail(); d != "" {
		s += " (" + d + ")"
	}
	return s
}

// detail is the problem document's detail (or title), or empty.
func (r reply) detail() string {
	var p struct {
		Title  string `json:"title"`
		Detail string `json:"detail"`
	}
	if r.Status < 300 || json.Unmarshal(r.Body, &p) != nil {
		return ""
	}
	if p.Detail != "" {
		return p.Detail
	}
	return p.Title
}

// want returns nil when the status is one of codes, else an error naming what came back.
func (r reply) want(codes ...int) error {
	if slices.Contains(codes, r.Status) {
		return nil
	}
	want := make([]string, len(codes))
	for i, c := range codes {
		want[i] = strconv.Itoa(c)
	}
	return fmt.Errorf("%s, want %s", r, strings.Join(want, " or "))
}

// decode reads the JSON body into v.
func (r reply) decode(v any) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("%s %s: the answer is not the expected JSON: %w", r.Method, r.Path, err)
	}
	return nil
}

// isProblem reports whether the answer is an RFC 9457 problem document.
func (r reply) isProblem() bool {
	return strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json")
}

// do sends one request, with token as the bearer when it is not empty.
func (a *api) do(ctx context.Context, method, path, token string, body any) (reply, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return reply{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := a.hc.Do(req)
	if err != nil {
		return reply{}, fmt.Errorf("reach the API at %s: %w", a.base, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: read the answer: %w", method, path, err)
	}
	return reply{Method: method, Path: path, Status: res.StatusCode, Header: res.Header, Body: raw}, nil
}

// maxRateWait bounds how long a login waits for the API's rate limit (Retry-After) in all.
const maxRateWait = 70 * time.Second

// patient sends a request whose rate limit a smoke run may meet (login, refresh), waiting out a
// 429 as its Retry-After asks, up to maxRateWait in all: the limits are per client IP and per
// account, and a smoke run logs in several times within a minute.
func (a *api) patient(ctx context.Context, method, path string, body any) (reply, error) {
	var waited time.Duration
	for {
		r, err := a.do(ctx, method, path, "", body)
		if err != nil || r.Status != http.StatusTooManyRequests {
			return r, err
		}
		secs, perr := strconv.Atoi(r.Header.Get("Retry-After"))
		wait := time.Duration(secs) * time.Second
		if perr != nil || secs < 1 || waited+wait > maxRateWait {
			return r, nil
		}
		select {
		case <-ctx.Done():
			return r, nil
		case <-time.After(wait):
		}
		waited += wait
	}
}

// tokens are the API's answer to a login or refresh.
type tokens struct {
	Access    string `json:"access_token"`  // bearer token
	Type      string `json:"token_type"`    // Bearer
	ExpiresIn int    `json:"expires_in"`    // seconds
	Refresh   string `json:"refresh_token"` // rotated on every use
}

// validate reports what a token answer lacks.
func (t tokens) validate(withRefresh bool) error {
	var errs []string
	if strings.Count(t.Access, ".") != 2 {
		errs = append(errs, "access_token is not a JWT")
	}
	if t.Type != "Bearer" {
		errs = append(errs, fmt.Sprintf("token_type is %q, want Bearer", t.Type))
	}
	if t.ExpiresIn <= 0 {
		errs = append(errs, fmt.Sprintf("expires_in is %d, want a positive number of seconds", t.ExpiresIn))
	}
	if withRefresh && t.Refresh == "" {
		errs = append(errs, "refresh_token is missing")
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// login exchanges the account's password for tokens, and returns the answer as it came.
func (a *api) login(ctx context.Context, acct Account) (tokens, reply, error) {
	r, err := a.patient(ctx, http.MethodPost, "/v1/auth/login",
		map[string]string{"tenant": acct.Tenant, "email": acct.Email, "password": acct.Password})
	if err != nil {
		return tokens{}, r, err
	}
	if err := r.want(http.StatusOK); err != nil {
		return tokens{}, r, fmt.Errorf("log in as %s of tenant %s: %w", acct.Email, acct.Tenant, err)
	}
	var t tokens
	if err := r.decode(&t); err != nil {
		return tokens{}, r, err
	}
	return t, r, t.validate(true)
}

// refresh exchanges a refresh token and returns the answer as it came.
func (a *api) refresh(ctx context.Context, refreshToken string) (reply, error) {
	return a.patient(ctx, http.MethodPost, "/v1/auth/refresh", map[string]string{"refresh_token": refreshToken})
}

// whoami is GET /v1/auth/me.
type whoami struct {
	Subject     string   `json:"subject"`      // user or service account id
	SubjectType string   `json:"subject_type"` // user or service_account
	Email       string   `json:"email"`        // users only
	Roles       []string `json:"roles"`        // users only
	Permissions []string `json:"permissions"`  // effective, sorted
	Tenant      struct {
		ID   string `json:"id"`   // the tenant's id
		Name string `json:"name"` // the tenant's name
	} `json:"tenant"` // the caller's tenant
}

// missing lists the permissions of want the caller does not hold.
func (w whoami) missing(want ...string) []string {
	var out []string
	for _, p := range want {
		if !slices.Contains(w.Permissions, p) {
			out = append(out, p)
		}
	}
	return out
}

// session is a logged-in account that refreshes its tokens when they are about to expire.
type session struct {
	api     *api      // where it is logged in
	acct    Account   // who
	tok     tokens    // current tokens
	expires time.Time // of the access token
	me      whoami    // the caller as /me described it at login
}

// open logs acct in and reads who it is.
func open(ctx context.Context, a *api, acct Account) (*session, error) {
	t, _, err := a.login(ctx, acct)
	if err != nil {
		return nil, err
	}
	s := &session{api: a, acct: acct, tok: t, expires: time.Now().Add(time.Duration(t.ExpiresIn) * time.Second)}
	r, err := s.do(ctx, http.MethodGet, "/v1/auth/me", nil)
	if err != nil {
		return nil, err
	}
	if err := r.want(http.StatusOK); err != nil {
		return nil, err
	}
	if err := r.decode(&s.me); err != nil {
		return nil, err
	}
	return s, nil
}

// String names the account for messages.
func (s *session) String() string { return s.acct.Email + " (tenant " + s.acct.Tenant + ")" }

// token returns a valid access token, refreshing first when it expires within a minute.
func (s *session) token(ctx context.Context) (string, error) {
	if time.Until(s.expires) > time.Minute {
		return s.tok.Access, nil
	}
	r, err := s.api.refresh(ctx, s.tok.Refresh)
	if err != nil {
		return "", err
	}
	if err := r.want(http.StatusOK); err != nil {
		return "", fmt.Errorf("refresh the session of %s: %w", s, err)
	}
	var t tokens
	if err := r.decode(&t); err != nil {
		return "", err
	}
	s.tok, s.expires = t, time.Now().Add(time.Duration(t.ExpiresIn)*time.Second)
	return t.Access, nil
}

// do calls the API as this session.
func (s *session) do(ctx context.Context, method, path string, body any) (reply, error) {
	tok, err := s.token(ctx)
	if err != nil {
		return reply{}, err
	}
	return s.api.do(ctx, method, path, tok, body)
}

// get calls GET path, requires 200 and decodes the answer into out.
func (s *session) get(ctx context.Context, path string, out any) error {
	r, err := s.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	if err := r.want(http.StatusOK); err != nil {
		return err
	}
	return r.decode(out)
}
