package smoke

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/phoenixotel/phoenix/shared/apiclient"
)

// api calls the Phoenix API (shared/apiclient) and returns its answers as they are, for the steps
// to judge.
type api struct {
	c *apiclient.Client // bounded by a timeout: a smoke test must not hang
}

func newAPI(t Target) *api {
	hc := t.Client
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &api{c: &apiclient.Client{Base: t.API, HTTP: hc}}
}

// do sends one request, with token as the bearer when it is not empty.
func (a *api) do(ctx context.Context, method, path, token string, body any) (apiclient.Reply, error) {
	return a.c.Do(ctx, method, path, body, token)
}

// maxRateWait bounds how long a login waits for the API's rate limit (Retry-After) in all.
const maxRateWait = 70 * time.Second

// patient sends a request whose rate limit a smoke run may meet (login, refresh), waiting out a
// 429 as its Retry-After asks, up to maxRateWait in all: the limits are per client IP and per
// account, and a smoke run logs in several times within a minute.
func (a *api) patient(ctx context.Context, method, path string, body any) (apiclient.Reply, error) {
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

// validTokens reports what a token answer lacks.
func validTokens(t apiclient.Tokens, withRefresh bool) error {
	var errs []string
	if strings.Count(t.AccessToken, ".") != 2 {
		errs = append(errs, "access_token is not a JWT")
	}
	if t.TokenType != "Bearer" {
		errs = append(errs, fmt.Sprintf("token_type is %q, want Bearer", t.TokenType))
	}
	if t.ExpiresIn <= 0 {
		errs = append(errs, fmt.Sprintf("expires_in is %d, want a positive number of seconds", t.ExpiresIn))
	}
	if withRefresh && t.RefreshToken == "" {
		errs = append(errs, "refresh_token is missing")
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// login exchanges the account's password for tokens, and returns the answer as it came.
func (a *api) login(ctx context.Context, acct Account) (apiclient.Tokens, apiclient.Reply, error) {
	r, err := a.patient(ctx, http.MethodPost, "/v1/auth/login",
		map[string]string{"tenant": acct.Tenant, "email": acct.Email, "password": acct.Password})
	if err != nil {
		return apiclient.Tokens{}, r, err
	}
	if err := r.Want(http.StatusOK); err != nil {
		return apiclient.Tokens{}, r, fmt.Errorf("log in as %s of tenant %s: %w", acct.Email, acct.Tenant, err)
	}
	var t apiclient.Tokens
	if err := r.Decode(&t); err != nil {
		return apiclient.Tokens{}, r, err
	}
	return t, r, validTokens(t, true)
}

// refresh exchanges a refresh token and returns the answer as it came.
func (a *api) refresh(ctx context.Context, refreshToken string) (apiclient.Reply, error) {
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
	api     *api             // where it is logged in
	acct    Account          // who
	tok     apiclient.Tokens // current tokens
	expires time.Time        // of the access token
	me      whoami           // the caller as /me described it at login
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
	if err := r.Want(http.StatusOK); err != nil {
		return nil, err
	}
	if err := r.Decode(&s.me); err != nil {
		return nil, err
	}
	return s, nil
}

// String names the account for messages.
func (s *session) String() string { return s.acct.Email + " (tenant " + s.acct.Tenant + ")" }

// token returns a valid access token, refreshing first when it expires within a minute.
func (s *session) token(ctx context.Context) (string, error) {
	if time.Until(s.expires) > time.Minute {
		return s.tok.AccessToken, nil
	}
	r, err := s.api.refresh(ctx, s.tok.RefreshToken)
	if err != nil {
		return "", err
	}
	if err := r.Want(http.StatusOK); err != nil {
		return "", fmt.Errorf("refresh the session of %s: %w", s, err)
	}
	var t apiclient.Tokens
	if err := r.Decode(&t); err != nil {
		return "", err
	}
	s.tok, s.expires = t, time.Now().Add(time.Duration(t.ExpiresIn)*time.Second)
	return t.AccessToken, nil
}

// do calls the API as this session.
func (s *session) do(ctx context.Context, method, path string, body any) (apiclient.Reply, error) {
	tok, err := s.token(ctx)
	if err != nil {
		return apiclient.Reply{}, err
	}
	return s.api.do(ctx, method, path, tok, body)
}

// get calls GET path, requires 200 and decodes the answer into out.
func (s *session) get(ctx context.Context, path string, out any) error {
	r, err := s.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	if err := r.Want(http.StatusOK); err != nil {
		return err
	}
	return r.Decode(out)
}
