package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/apiclient"
	"github.com/phoenixotel/phoenix/shared/auth"
	"github.com/phoenixotel/phoenix/shared/password"
	"github.com/phoenixotel/phoenix/shared/problem"
	"github.com/phoenixotel/phoenix/shared/ratelimit"
	"github.com/phoenixotel/phoenix/shared/store"
)

// invalidCredentials is the one answer to every failed login, whatever failed, so that a caller
// learns nothing about which tenants and users exist.
func invalidCredentials(w http.ResponseWriter) {
	problem.Write(w, http.StatusUnauthorized, "invalid tenant, email or password")
}

// verifyDummy spends the same argon2id work as a real verification, so that an unknown tenant or
// user is answered in the same time class as a wrong password.
func (a *API) verifyDummy(ctx context.Context, pw string) {
	a.prepareDummy()
	_ = a.hashing(ctx, func() { _ = password.Verify(pw, a.dummyHash) })
}

// prepareDummy computes the dummy hash once. Start calls it in the background, after the function
// listens, so neither the cold start nor the first failed login pays for it.
func (a *API) prepareDummy() {
	a.dummyOnce.Do(func() {
		h, err := password.Hash("phoenix-dummy-password", a.o.Password)
		if err == nil {
			a.dummyHash = h
		}
	})
}

// verifyPassword checks pw against hash within the bound on concurrent hashing.
func (a *API) verifyPassword(ctx context.Context, pw, hash string) error {
	var err error
	if berr := a.hashing(ctx, func() { err = password.Verify(pw, hash) }); berr != nil {
		return berr
	}
	return err
}

func (a *API) login(w http.ResponseWriter, r *http.Request) {
	var req apiclient.Login
	if wantsCookie(r) && !sameOrigin(w, r) || !problem.DecodeJSON(w, r, &req) {
		return
	}
	req.Tenant, req.Email = strings.ToLower(strings.TrimSpace(req.Tenant)), strings.ToLower(strings.TrimSpace(req.Email))
	if req.Tenant == "" || req.Email == "" || req.Password == "" || len(req.Tenant) > 63 || len(req.Email) > 254 || len(req.Password) > password.MaxLength {
		problem.Write(w, http.StatusBadRequest, "send tenant, email and password")
		return
	}
	account := "login-account:" + req.Tenant + ":" + req.Email
	for _, l := range []struct {
		key string
		lim ratelimit.Limit
	}{{"login-ip:" + a.clientKey(r), a.o.Limits.LoginIP}, {account, a.o.Limits.LoginAccount}} {
		if !a.allowLoginRate(w, r, l.key, l.lim, req.Tenant, req.Email) {
			return
		}
	}

	tenant, err := a.tenantByName(r, req.Tenant)
	if errors.Is(err, store.ErrNotFound) {
		// The same work as for a known tenant: a user lookup (in a tenant that cannot exist)
		// and the hash, so the answer takes as long.
		_ = a.o.Store.WithTenant(r.Context(), uuid.New(), func(tx *store.Tx) error {
			_, err := tx.UserByEmail(r.Context(), req.Email)
			return err
		})
		a.verifyDummy(r.Context(), req.Password)
		logFrom(r).Info("login for unknown tenant")
		invalidCredentials(w)
		return
	}
	if err != nil {
		storeError(w, r, err, "tenant")
		return
	}
	var u store.User
	err = a.o.Store.WithTenant(r.Context(), tenant.ID, func(tx *store.Tx) (err error) {
		u, err = tx.UserByEmail(r.Context(), req.Email)
		return err
	})
	anon := auth.Principal{}
	fail := func(reason string, details map[string]any) {
		a.audit(r, tenant.ID, anon, "auth.login", "failure", "warning", reason, details)
		invalidCredentials(w)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		a.verifyDummy(r.Context(), req.Password)
		fail("unknown email", map[string]any{"email": req.Email})
		return
	case err != nil:
		storeError(w, r, err, "user")
		return
	}
	anon = auth.Principal{Subject: u.ID.String(), SubjectType: auth.SubjectUser}
	pwErr := a.verifyPassword(r.Context(), req.Password, u.PasswordHash)
	switch {
	case errors.Is(pwErr, errBusy):
		problem.Write(w, http.StatusServiceUnavailable, "the service is busy; retry shortly")
		return
	case tenant.Status != "active":
		fail("tenant suspended", nil)
		return
	case u.DisabledAt != nil:
		fail("user disabled", nil)
		return
	case errors.Is(pwErr, password.ErrMismatch):
		fail("wrong password", nil)
		return
	case pwErr != nil:
		logFrom(r).Error("stored password hash unreadable", "user", u.ID, "err", pwErr)
		fail("stored password hash unreadable", nil)
		return
	}

	secret, hash := newSecret()
	tokenID := uuid.New()
	var family uuid.UUID
	err = a.o.Store.WithTenant(r.Context(), tenant.ID, func(tx *store.Tx) (err error) {
		family, err = tx.CreateSession(r.Context(), u.ID, tokenID, hash, a.o.Now().Add(a.o.RefreshTTL))
		if err != nil {
			return err
		}
		return tx.Audit(r.Context(), a.auditEntry(r, anon, "auth.login", "success", "info", "", map[string]any{"session": family}))
	})
	if err != nil {
		storeError(w, r, err, "session")
		return
	}
	a.issueUserTokens(w, r, tenant.ID, u, family, refreshToken(tenant.ID, tokenID, secret))
}

// issueUserTokens answers with an access token for u in session family, and the refresh token.
func (a *API) issueUserTokens(w http.ResponseWriter, r *http.Request, tenant uuid.UUID, u store.User, family uuid.UUID, refresh string) {
	tok, claims, err := a.o.Issuer.Issue(auth.Grant{Subject: u.ID.String(), SubjectType: auth.SubjectUser,
		Tenant: tenant, Roles: []string{u.Role}, SessionID: family.String()})
	if err != nil {
		logFrom(r).Error("issue token", "err", err)
		problem.Write(w, http.StatusInternalServerError, "could not issue a token")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if wantsCookie(r) {
		a.setSessionCookie(w, r, refresh, a.o.RefreshTTL)
		refresh = "" // the console's script never sees it
	}
	writeJSON(w, http.StatusOK, apiclient.Tokens{AccessToken: tok, TokenType: "Bearer",
		ExpiresIn: int(time.Until(claims.ExpiresAt.Time).Round(time.Second).Seconds()), RefreshToken: refresh})
}

// allowLoginRate is allowRate for unauthenticated attempts: the tenant is only looked up (to audit
// in its log) on the first refusal of a window.
func (a *API) allowLoginRate(w http.ResponseWriter, r *http.Request, key string, lim ratelimit.Limit, tenantName, email string) bool {
	return a.limit(w, r, key, lim, func() {
		if t, err := a.tenantByName(r, tenantName); err == nil {
			a.audit(r, t.ID, auth.Principal{}, "ratelimit.hit", "denied", "warning", "too many login attempts ("+lim.String()+")",
				map[string]any{"email": email, "limit": key[:strings.IndexByte(key, ':')]})
		}
	})
}

func (a *API) tenantByName(r *http.Request, name string) (store.Tenant, error) {
	var t store.Tenant
	err := a.o.Store.Platform(r.Context(), func(tx *store.PlatformTx) (err error) {
		t, err = tx.TenantByName(r.Context(), name)
		return err
	})
	return t, err
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

func (a *API) refresh(w http.ResponseWriter, r *http.Request) {
	var req refreshRequest
	cookie := wantsCookie(r)
	if cookie && !sameOrigin(w, r) || !problem.DecodeJSON(w, r, &req) {
		return
	}
	if cookie && req.RefreshToken == "" {
		req.RefreshToken = cookieRefreshToken(r)
	}
	if !a.allowLoginRate(w, r, "refresh-ip:"+a.clientKey(r), a.o.Limits.LoginIP, "", "") {
		return
	}
	refused := func() {
		if cookie {
			a.setSessionCookie(w, r, "", 0)
		}
		problem.Write(w, http.StatusUnauthorized, "the refresh token is invalid, expired or revoked; log in again")
	}
	tenant, id, secret, err := parseRefreshToken(req.RefreshToken)
	if err != nil {
		refused()
		return
	}
	var (
		u       store.User
		rec     store.RefreshRecord
		reason  string // why the token was refused; empty when it was exchanged
		reused  bool
		newID   = uuid.New()
		newSec  []byte
		newHash []byte
	)
	newSec, newHash = newSecret()
	err = a.o.Store.WithTenant(r.Context(), tenant, func(tx *store.Tx) (err error) {
		rec, err = tx.RefreshToken(r.Context(), id)
		if errors.Is(err, store.ErrNotFound) {
			reason = "unknown refresh token"
			return nil
		}
		if err != nil {
			return err
		}
		switch {
		case subtle.ConstantTimeCompare(hashSecret(secret), rec.TokenHash) != 1:
			reason = "refresh token secret does not match"
			return nil
		case rec.FamilyRevokedAt != nil:
			reason = "session was revoked"
			return nil
		case rec.RotatedAt != nil:
			// A rotated token presented again: someone holds a copy. End the whole session.
			reason, reused = "refresh token reused; session revoked", true
			return tx.RevokeSession(r.Context(), rec.FamilyID, "refresh token reuse")
		case !a.o.Now().Before(rec.ExpiresAt):
			reason = "refresh token expired"
			return nil
		}
		// Locked until commit: a disable or password change waits, then revokes this token too.
		if u, err = tx.LockUser(r.Context(), rec.UserID); err != nil {
			return err
		}
		t, err := tx.Tenant(r.Context())
		if err != nil {
			return err
		}
		if u.DisabledAt != nil || t.Status != "active" {
			reason = "user disabled or tenant suspended"
			return nil
		}
		return tx.RotateRefreshToken(r.Context(), rec, newID, newHash, a.o.Now().Add(a.o.RefreshTTL))
	})
	if errors.Is(err, store.ErrStateChanged) {
		// A concurrent exchange of the same token won; this one is a reuse.
		refused()
		return
	}
	if err != nil {
		storeError(w, r, err, "refresh token")
		return
	}
	subject := auth.Principal{Subject: rec.UserID.String(), SubjectType: auth.SubjectUser}
	if reused {
		if err := a.o.Revocation.RevokeSession(r.Context(), tenant, rec.FamilyID.String()); err != nil {
			logFrom(r).Error("revoke session in redis", "err", err)
		}
		a.audit(r, tenant, subject, "auth.refresh_reuse", "denied", "critical", reason, map[string]any{"session": rec.FamilyID})
		refused()
		return
	}
	if reason != "" {
		if rec.UserID != uuid.Nil {
			a.audit(r, tenant, subject, "auth.refresh", "failure", "warning", reason, map[string]any{"session": rec.FamilyID})
		}
		refused()
		return
	}
	a.audit(r, tenant, subject, "auth.refresh", "success", "info", "", map[string]any{"session": rec.FamilyID})
	a.issueUserTokens(w, r, tenant, u, rec.FamilyID, refreshToken(tenant, newID, newSec))
}

func (a *API) logout(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	if err := a.o.Revocation.RevokeToken(r.Context(), p.TokenID, p.ExpiresAt); err != nil {
		logFrom(r).Error("revoke token", "err", err)
		problem.Write(w, http.StatusServiceUnavailable, "could not log out right now; retry shortly")
		return
	}
	if p.SessionID != "" {
		if err := a.o.Revocation.RevokeSession(r.Context(), p.Tenant, p.SessionID); err != nil {
			logFrom(r).Error("revoke session", "err", err)
			problem.Write(w, http.StatusServiceUnavailable, "could not log out right now; retry shortly")
			return
		}
		if family, err := uuid.Parse(p.SessionID); err == nil {
			err = a.o.Store.WithTenant(r.Context(), p.Tenant, func(tx *store.Tx) error {
				return tx.RevokeSession(r.Context(), family, "logout")
			})
			if err != nil {
				storeError(w, r, err, "session")
				return
			}
		}
	}
	a.audit(r, p.Tenant, p, "auth.logout", "success", "info", "", map[string]any{"session": p.SessionID, "token": p.TokenID})
	if cookieRefreshToken(r) != "" {
		a.setSessionCookie(w, r, "", 0)
	}
	w.WriteHeader(http.StatusNoContent)
}

// meResponse describes the caller.
type meResponse struct {
	Subject     string       `json:"subject"`
	SubjectType string       `json:"subject_type"`
	Tenant      store.Tenant `json:"tenant"`
	Email       string       `json:"email,omitempty"`
	Roles       []string     `json:"roles,omitempty"`
	Permissions []string     `json:"permissions"`
	ExpiresAt   time.Time    `json:"expires_at"`
}

func (a *API) me(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	resp := meResponse{Subject: p.Subject, SubjectType: p.SubjectType, Roles: p.Roles, ExpiresAt: p.ExpiresAt, Permissions: []string{}}
	err := a.o.Store.WithTenant(r.Context(), p.Tenant, func(tx *store.Tx) (err error) {
		if resp.Tenant, err = tx.Tenant(r.Context()); err != nil {
			return err
		}
		if p.SubjectType == auth.SubjectUser {
			id, err := uuid.Parse(p.Subject)
			if err != nil {
				return store.ErrNotFound
			}
			u, err := tx.User(r.Context(), id)
			if err != nil {
				return err
			}
			resp.Email = u.Email
		}
		return nil
	})
	if err != nil {
		storeError(w, r, err, "caller")
		return
	}
	if p.SubjectType == auth.SubjectServiceAccount {
		resp.Permissions = append(resp.Permissions, p.Permissions...)
	} else {
		for _, role := range p.Roles {
			for perm := range a.roles.Grants(role) {
				resp.Permissions = append(resp.Permissions, perm)
			}
		}
	}
	sortStrings(resp.Permissions)
	writeJSON(w, http.StatusOK, resp)
}

type passwordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// changePassword lets a user replace their password. Every session and token they hold ends, this
// one included: they log in again with the new password.
func (a *API) changePassword(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	if p.SubjectType != auth.SubjectUser {
		problem.Write(w, http.StatusForbidden, "service accounts have secrets, not passwords; rotate the secret instead")
		return
	}
	var req passwordRequest
	if !problem.DecodeJSON(w, r, &req) {
		return
	}
	if err := password.Validate(req.NewPassword); err != nil {
		problem.Write(w, http.StatusBadRequest, err.Error(), problem.FieldError{Field: "new_password", Message: err.Error()})
		return
	}
	id, err := uuid.Parse(p.Subject)
	if err != nil {
		problem.Write(w, http.StatusForbidden, "this token does not belong to a user")
		return
	}
	var u store.User
	if err := a.o.Store.WithTenant(r.Context(), p.Tenant, func(tx *store.Tx) (err error) {
		u, err = tx.User(r.Context(), id)
		return err
	}); err != nil {
		storeError(w, r, err, "user")
		return
	}
	if !a.allowLoginRate(w, r, "password:"+p.Tenant.String()+":"+p.Subject, a.o.Limits.LoginAccount, "", "") {
		return
	}
	if err := a.verifyPassword(r.Context(), req.CurrentPassword, u.PasswordHash); errors.Is(err, errBusy) {
		problem.Write(w, http.StatusServiceUnavailable, "the service is busy; retry shortly")
		return
	} else if err != nil {
		a.audit(r, p.Tenant, p, "auth.password_change", "failure", "warning", "wrong current password", nil)
		problem.Write(w, http.StatusForbidden, "the current password is wrong")
		return
	}
	hash, err := a.hashPassword(r.Context(), req.NewPassword)
	if err != nil {
		problem.Write(w, http.StatusServiceUnavailable, "the service is busy; retry shortly")
		return
	}
	err = a.o.Store.WithTenant(r.Context(), p.Tenant, func(tx *store.Tx) error {
		if _, err := tx.SetPassword(r.Context(), id, hash); err != nil {
			return err
		}
		// Taken once the row is ours: every token issued before this instant is revoked, on
		// the same clock that stamps tokens.
		at := a.o.Now()
		if err := tx.Audit(r.Context(), a.auditEntry(r, p, "auth.password_change", "success", "warning", "", nil)); err != nil {
			return err
		}
		return a.o.Revocation.RevokeSubjectBeforeIn(r.Context(), tx, p.Subject, at)
	})
	if err != nil {
		storeError(w, r, err, "user")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// hashPassword hashes a new password within the bound on concurrent hashing.
func (a *API) hashPassword(ctx context.Context, pw string) (string, error) {
	var h string
	var err error
	if berr := a.hashing(ctx, func() { h, err = password.Hash(pw, a.o.Password) }); berr != nil {
		return "", berr
	}
	return h, err
}
