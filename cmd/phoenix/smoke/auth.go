package smoke

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/phoenixotel/phoenix/shared/apiclient"
)

// Auth checks the authentication flows as Credentials.Primary: a wrong password and a missing
// token are refused; a login issues tokens that /me resolves to the account; a refresh rotates
// both tokens, and presenting the old refresh token again is refused and ends the whole session
// (its access and refresh tokens); logout revokes the access token and the session. When the
// account may manage service accounts, a temporary one (smoke-auth-<run id>, experiment:read)
// gets a token by the client-credentials grant, and disabling it revokes that token.
func Auth(ctx context.Context, t Target, c Credentials, o Options) Result {
	o = o.withDefaults()
	r := newRecorder(ctx, "auth")
	authFlows(ctx, r, newAPI(t), c.Primary, o)
	return r.done()
}

// authFlows checks logging in, refresh-token rotation and its reuse detection, logout, and the
// client-credentials grant, in that order, stopping at the first failure.
func authFlows(ctx context.Context, r *recorder, a *api, acct Account, o Options) {
	first, ok := logIn(ctx, r, a, acct, o)
	if !ok || !rotate(ctx, r, a, first) || !logOut(ctx, r, a, acct) {
		return
	}
	serviceAccount(ctx, r, a, acct, o)
}

// logIn checks that a wrong password is refused, that login issues both tokens, that requests
// without a valid token are refused and that /v1/auth/me names the caller; it returns the tokens.
func logIn(ctx context.Context, r *recorder, a *api, acct Account, o Options) (apiclient.Tokens, bool) {
	var first apiclient.Tokens
	if !r.step("login with a wrong password is refused", func() (string, error) {
		wrong := acct
		wrong.Password = acct.Password + "-not-" + o.RunID
		rep, err := a.patient(ctx, http.MethodPost, "/v1/auth/login",
			map[string]string{"tenant": wrong.Tenant, "email": wrong.Email, "password": wrong.Password})
		if err != nil {
			return "", err
		}
		if rep.Status == http.StatusOK {
			return "", fmt.Errorf("%s: the API issued tokens for a wrong password", rep)
		}
		if err := rep.Want(http.StatusUnauthorized); err != nil {
			return "", err
		}
		if !rep.IsProblem() {
			return "", fmt.Errorf("%s with Content-Type %q, want application/problem+json", rep, rep.Header.Get("Content-Type"))
		}
		return "401 problem+json: " + rep.Detail(), nil
	}) {
		return first, false
	}

	if !r.step("login issues an access and a refresh token", func() (string, error) {
		tok, rep, err := a.login(ctx, acct)
		if err != nil {
			return "", err
		}
		if cc := rep.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
			return "", fmt.Errorf("the token answer has Cache-Control %q, want no-store: caches must not keep tokens", cc)
		}
		first = tok
		return fmt.Sprintf("%s access token for %d s and a refresh token", tok.TokenType, tok.ExpiresIn), nil
	}) {
		return first, false
	}

	if !r.step("a request without a valid token is refused", func() (string, error) {
		var errs []error
		for _, tok := range []string{"", "not-a-token", first.AccessToken + "x"} {
			rep, err := a.do(ctx, http.MethodGet, "/v1/auth/me", tok, nil)
			if err != nil {
				return "", err
			}
			if err := rep.Want(http.StatusUnauthorized); err != nil {
				errs = append(errs, fmt.Errorf("token %q: %w", shorten(tok), err))
			} else if h := rep.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
				errs = append(errs, fmt.Errorf("token %q: 401 without a WWW-Authenticate: Bearer challenge (got %q)", shorten(tok), h))
			}
		}
		if err := errors.Join(errs...); err != nil {
			return "", err
		}
		return "no token, a malformed one and a tampered one: 401 with a Bearer challenge", nil
	}) {
		return first, false
	}

	if !r.step("/v1/auth/me names the caller", func() (string, error) {
		me, err := whoAmI(ctx, a, first.AccessToken)
		if err != nil {
			return "", err
		}
		var errs []string
		if me.Tenant.Name != acct.Tenant {
			errs = append(errs, fmt.Sprintf("tenant %q, want %q", me.Tenant.Name, acct.Tenant))
		}
		if !strings.EqualFold(me.Email, acct.Email) {
			errs = append(errs, fmt.Sprintf("email %q, want %q", me.Email, acct.Email))
		}
		if me.SubjectType != "user" || me.Subject == "" {
			errs = append(errs, fmt.Sprintf("subject %q of type %q, want a user", me.Subject, me.SubjectType))
		}
		if len(errs) > 0 {
			return "", errors.New("/v1/auth/me answered " + strings.Join(errs, ", "))
		}
		return fmt.Sprintf("user %s of tenant %s (%s), roles %v, %d permissions", me.Email, me.Tenant.Name, me.Tenant.ID, me.Roles, len(me.Permissions)), nil
	}) {
		return first, false
	}
	return first, true
}

// rotate checks that refresh rotates both tokens, that a rotated refresh token is refused when
// presented again, and that the reuse ends the whole session.
func rotate(ctx context.Context, r *recorder, a *api, first apiclient.Tokens) bool {
	var second apiclient.Tokens
	if !r.step("refresh rotates both tokens", func() (string, error) {
		rep, err := a.refresh(ctx, first.RefreshToken)
		if err != nil {
			return "", err
		}
		if err := rep.Want(http.StatusOK); err != nil {
			return "", err
		}
		if err := rep.Decode(&second); err != nil {
			return "", err
		}
		if err := validTokens(second, true); err != nil {
			return "", fmt.Errorf("the refresh answer: %w", err)
		}
		if second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken {
			return "", errors.New("the refresh answered the same tokens again: refresh tokens must rotate on every use")
		}
		if _, err := whoAmI(ctx, a, second.AccessToken); err != nil {
			return "", fmt.Errorf("the refreshed access token: %w", err)
		}
		return "a new access token and a new refresh token; the new access token works", nil
	}) {
		return false
	}

	if !r.step("a rotated refresh token presented again is refused", func() (string, error) {
		rep, err := a.refresh(ctx, first.RefreshToken)
		if err != nil {
			return "", err
		}
		if rep.Status == http.StatusOK {
			return "", fmt.Errorf("%s: a refresh token was exchanged twice, so a stolen copy stays usable", rep)
		}
		if err := rep.Want(http.StatusUnauthorized); err != nil {
			return "", err
		}
		return "401: " + rep.Detail(), nil
	}) {
		return false
	}

	if !r.step("the reuse ended the whole session", func() (string, error) {
		var errs []error
		rep, err := a.refresh(ctx, second.RefreshToken)
		if err != nil {
			return "", err
		}
		if err := rep.Want(http.StatusUnauthorized); err != nil {
			errs = append(errs, fmt.Errorf("the session's newest refresh token: %w", err))
		}
		for name, tok := range map[string]string{"the session's newest access token": second.AccessToken, "the session's first access token": first.AccessToken} {
			if err := refused(ctx, a, tok); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
			}
		}
		if err := errors.Join(errs...); err != nil {
			return "", err
		}
		return "its newest refresh token and every access token it issued are refused", nil
	}) {
		return false
	}
	return true
}

// logOut checks that logout revokes the access token and its session.
func logOut(ctx context.Context, r *recorder, a *api, acct Account) bool {
	return r.step("logout revokes the access token and its session", func() (string, error) {
		tok, _, err := a.login(ctx, acct)
		if err != nil {
			return "", err
		}
		rep, err := a.do(ctx, http.MethodPost, "/v1/auth/logout", tok.AccessToken, nil)
		if err != nil {
			return "", err
		}
		if err := rep.Want(http.StatusNoContent); err != nil {
			return "", err
		}
		if err := refused(ctx, a, tok.AccessToken); err != nil {
			return "", fmt.Errorf("the logged-out access token: %w", err)
		}
		rep, err = a.refresh(ctx, tok.RefreshToken)
		if err != nil {
			return "", err
		}
		if err := rep.Want(http.StatusUnauthorized); err != nil {
			return "", fmt.Errorf("the logged-out session's refresh token: %w", err)
		}
		return "204; afterwards its access token and its refresh token are refused", nil
	})
}

// serviceAccount checks the client-credentials grant with a temporary service account, when the
// account may create one.
func serviceAccount(ctx context.Context, r *recorder, a *api, acct Account, o Options) {
	const grant, revoke = "a service account's client credentials grant a token", "disabling the service account revokes its token"
	s, err := open(ctx, a, acct)
	if err != nil {
		r.step(grant, func() (string, error) { return "", err })
		return
	}
	if miss := s.me.missing("service-account:write", "experiment:read"); len(miss) > 0 {
		r.skip(grant, fmt.Sprintf("%s lacks %s (an admin has it)", s, strings.Join(miss, ", ")))
		return
	}
	var (
		created struct {
			Account struct {
				ID string `json:"id"` // the service account's id
			} `json:"service_account"` // the account
			ClientID     string `json:"client_id"`     // psa_…
			ClientSecret string `json:"client_secret"` // pss_…, shown once
		}
		disabled bool
		saToken  string
	)
	name := "smoke-auth-" + o.RunID
	if !r.step(grant, func() (string, error) {
		rep, err := s.do(ctx, http.MethodPost, "/v1/service-accounts", map[string]any{"name": name, "permissions": []string{"experiment:read"}})
		if err != nil {
			return "", err
		}
		if err := rep.Want(http.StatusCreated); err != nil {
			return "", err
		}
		if err := rep.Decode(&created); err != nil {
			return "", err
		}
		r.undo("cleanup: disable service account "+name, func(ctx context.Context) (string, error) {
			if disabled {
				return "already disabled", nil
			}
			rep, err := s.do(ctx, http.MethodPost, "/v1/service-accounts/"+created.Account.ID+"/disable", nil)
			if err != nil {
				return "", err
			}
			return "disabled", rep.Want(http.StatusOK)
		})
		body := map[string]string{"grant_type": "client_credentials", "client_id": created.ClientID, "client_secret": created.ClientSecret + "x"}
		rep, err = a.patient(ctx, http.MethodPost, "/v1/auth/token", body)
		if err != nil {
			return "", err
		}
		if err := rep.Want(http.StatusUnauthorized); err != nil {
			return "", fmt.Errorf("a wrong client secret: %w", err)
		}
		body["client_secret"] = created.ClientSecret
		rep, err = a.patient(ctx, http.MethodPost, "/v1/auth/token", body)
		if err != nil {
			return "", err
		}
		if err := rep.Want(http.StatusOK); err != nil {
			return "", err
		}
		var tok apiclient.Tokens
		if err := rep.Decode(&tok); err != nil {
			return "", err
		}
		if err := validTokens(tok, false); err != nil {
			return "", fmt.Errorf("the grant's answer: %w", err)
		}
		me, err := whoAmI(ctx, a, tok.AccessToken)
		if err != nil {
			return "", err
		}
		if me.SubjectType != "service_account" || !slices.Equal(me.Permissions, []string{"experiment:read"}) {
			return "", fmt.Errorf("/v1/auth/me with the grant's token answered a %q holding %v, want a service_account holding [experiment:read]", me.SubjectType, me.Permissions)
		}
		saToken = tok.AccessToken
		return fmt.Sprintf("%s (%s): a wrong secret is refused, the right one gives a token holding exactly [experiment:read]", name, created.Account.ID), nil
	}) {
		return
	}
	r.step(revoke, func() (string, error) {
		rep, err := s.do(ctx, http.MethodPost, "/v1/service-accounts/"+created.Account.ID+"/disable", nil)
		if err != nil {
			return "", err
		}
		if err := rep.Want(http.StatusOK); err != nil {
			return "", err
		}
		disabled = true
		if err := refused(ctx, a, saToken); err != nil {
			return "", fmt.Errorf("the disabled service account's token: %w", err)
		}
		return "disabled; its token is refused", nil
	})
}

// whoAmI calls /v1/auth/me with token and requires 200.
func whoAmI(ctx context.Context, a *api, token string) (whoami, error) {
	var me whoami
	rep, err := a.do(ctx, http.MethodGet, "/v1/auth/me", token, nil)
	if err != nil {
		return me, err
	}
	if err := rep.Want(http.StatusOK); err != nil {
		return me, err
	}
	return me, rep.Decode(&me)
}

// refused requires /v1/auth/me to refuse token with 401.
func refused(ctx context.Context, a *api, token string) error {
	rep, err := a.do(ctx, http.MethodGet, "/v1/auth/me", token, nil)
	if err != nil {
		return err
	}
	if rep.Status == http.StatusOK {
		return fmt.Errorf("%s: the token is still accepted", rep)
	}
	return rep.Want(http.StatusUnauthorized)
}

// shorten shows at most the start of a token in a message.
func shorten(tok string) string {
	if len(tok) > 12 {
		return tok[:12] + "…"
	}
	return tok
}
