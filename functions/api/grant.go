package api

import (
	"crypto/subtle"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"time"

	"github.com/phoenixotel/phoenix/shared/apiclient"
	"github.com/phoenixotel/phoenix/shared/auth"
	"github.com/phoenixotel/phoenix/shared/problem"
	"github.com/phoenixotel/phoenix/shared/store"
)

type clientCredentialsRequest struct {
	GrantType    string `json:"grant_type"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// clientCredentials is the OAuth 2.0 client-credentials grant (RFC 6749 §4.4) for service
// accounts. It accepts JSON or the form encoding OAuth clients send, and issues an access token
// with the account's permissions; there is no refresh token — the client asks again.
func (a *API) clientCredentials(w http.ResponseWriter, r *http.Request) {
	var req clientCredentialsRequest
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/x-www-form-urlencoded" {
		r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
		if err := r.ParseForm(); err != nil {
			problem.Write(w, http.StatusBadRequest, "malformed or oversized form body")
			return
		}
		req = clientCredentialsRequest{GrantType: r.PostForm.Get("grant_type"), ClientID: r.PostForm.Get("client_id"), ClientSecret: r.PostForm.Get("client_secret")}
		if u, p, ok := r.BasicAuth(); ok && req.ClientID == "" {
			req.ClientID, _ = url.QueryUnescape(u)
			req.ClientSecret, _ = url.QueryUnescape(p)
		}
	} else if !problem.DecodeJSON(w, r, &req) {
		return
	}
	if req.GrantType != "client_credentials" {
		problem.Write(w, http.StatusBadRequest, `grant_type must be "client_credentials"`)
		return
	}
	if !a.allowLoginRate(w, r, "token-ip:"+a.clientKey(r), a.o.Limits.LoginIP, "", "") {
		return
	}
	refused := func() { problem.Write(w, http.StatusUnauthorized, "invalid client_id or client_secret") }
	tenant, accountID, err1 := parseClientID(req.ClientID)
	secretID, secret, err2 := parseClientSecret(req.ClientSecret)
	if err1 != nil || err2 != nil {
		refused()
		return
	}
	var (
		sa     store.ServiceAccount
		reason string
		known  bool // the tenant and account exist, so the failure can be audited there
	)
	err := a.o.Store.WithTenant(r.Context(), tenant, func(tx *store.Tx) error {
		t, err := tx.Tenant(r.Context())
		if errors.Is(err, store.ErrNotFound) {
			reason = "unknown tenant"
			return nil
		}
		if err != nil {
			return err
		}
		if sa, err = tx.ServiceAccount(r.Context(), accountID); errors.Is(err, store.ErrNotFound) {
			reason = "unknown service account"
			return nil
		} else if err != nil {
			return err
		}
		known = true
		sec, err := tx.ServiceAccountSecret(r.Context(), accountID, secretID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			reason = "unknown secret"
		case err != nil:
			return err
		case subtle.ConstantTimeCompare(hashSecret(secret), sec.Hash) != 1:
			reason = "wrong secret"
		case sec.RevokedAt != nil:
			reason = "secret revoked"
		case sec.ExpiresAt != nil && !a.o.Now().Before(*sec.ExpiresAt):
			reason = "secret expired"
		case sa.DisabledAt != nil:
			reason = "service account disabled"
		case t.Status != "active":
			reason = "tenant suspended"
		}
		return nil
	})
	if err != nil {
		storeError(w, r, err, "service account")
		return
	}
	actor := auth.Principal{Subject: accountID.String(), SubjectType: auth.SubjectServiceAccount}
	if reason != "" {
		if known {
			a.audit(r, tenant, actor, "auth.token", "failure", "warning", reason, nil)
		}
		refused()
		return
	}
	tok, claims, err := a.o.Issuer.Issue(auth.Grant{Subject: sa.ID.String(), SubjectType: auth.SubjectServiceAccount,
		Tenant: tenant, Permissions: sa.Permissions})
	if err != nil {
		logFrom(r).Error("issue token", "err", err)
		problem.Write(w, http.StatusInternalServerError, "could not issue a token")
		return
	}
	a.audit(r, tenant, actor, "auth.token", "success", "info", "", map[string]any{"secret": secretID})
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, apiclient.Tokens{AccessToken: tok, TokenType: "Bearer",
		ExpiresIn: int(time.Until(claims.ExpiresAt.Time).Round(time.Second).Seconds())})
}
