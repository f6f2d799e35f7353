package api

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"time"

	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/auth"
	"github.com/phoenixotel/phoenix/shared/problem"
	"github.com/phoenixotel/phoenix/shared/store"
)

var accountName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

type createServiceAccountRequest struct {
	Name        string   `json:"name"`
	Permissions []string `json:"permissions"`
}

// credentials is shown once, when a secret is made; Phoenix keeps only its hash.
type credentials struct {
	ServiceAccount store.ServiceAccount `json:"service_account"`
	ClientID       string               `json:"client_id"`
	ClientSecret   string               `json:"client_secret"`
	SecretID       uuid.UUID            `json:"secret_id"`
}

// checkPermissions accepts only permissions a tenant admin holds: a service account can never be
// given more than its creator could do, nor platform permissions.
func (a *API) checkPermissions(caller auth.Principal, perms []string) *problem.FieldError {
	admin := a.roles.Grants("admin")
	have := a.roles.Effective(caller)
	if len(perms) == 0 || len(perms) > 50 {
		return &problem.FieldError{Field: "permissions", Message: "give 1 to 50 permissions such as experiment:read"}
	}
	for _, p := range perms {
		if !admin[p] {
			return &problem.FieldError{Field: "permissions", Message: "unknown or not grantable permission " + p}
		}
		if !have[p] {
			return &problem.FieldError{Field: "permissions", Message: "you cannot grant " + p + ", which you do not hold"}
		}
	}
	return nil
}

// setOf turns a permission list into a set.
func setOf(perms []string) map[string]bool {
	out := make(map[string]bool, len(perms))
	for _, p := range perms {
		out[p] = true
	}
	return out
}

var errBeyondCaller = errors.New("the service account holds permissions you do not; ask someone who holds them")

func (a *API) createServiceAccount(w http.ResponseWriter, r *http.Request) {
	var req createServiceAccountRequest
	if !problem.DecodeJSON(w, r, &req) {
		return
	}
	var errs []problem.FieldError
	if !accountName.MatchString(req.Name) {
		errs = append(errs, problem.FieldError{Field: "name", Message: "1-63 lowercase letters, digits and '-'"})
	}
	if fe := a.checkPermissions(principalFrom(r.Context()), req.Permissions); fe != nil {
		errs = append(errs, *fe)
	}
	if len(errs) > 0 {
		problem.Write(w, http.StatusBadRequest, "the service account is invalid; see errors", errs...)
		return
	}
	p := principalFrom(r.Context())
	secret, hash := newSecret()
	secretID := uuid.New()
	var sa store.ServiceAccount
	err := a.o.Store.WithTenant(r.Context(), p.Tenant, func(tx *store.Tx) (err error) {
		if sa, err = tx.CreateServiceAccount(r.Context(), req.Name, sortedCopy(req.Permissions)); err != nil {
			return err
		}
		if err := tx.AddServiceAccountSecret(r.Context(), sa.ID, secretID, hash, nil); err != nil {
			return err
		}
		return tx.Audit(r.Context(), a.auditEntry(r, p, "service_account.create", "success", "info", "",
			map[string]any{"service_account_id": sa.ID, "permissions": sa.Permissions}))
	})
	if err != nil {
		storeError(w, r, err, "a service account with this name")
		return
	}
	w.Header().Set("Location", "/v1/service-accounts/"+sa.ID.String())
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, credentials{ServiceAccount: sa, ClientID: clientID(p.Tenant, sa.ID),
		ClientSecret: clientSecret(secretID, secret), SecretID: secretID})
}

func (a *API) listServiceAccounts(w http.ResponseWriter, r *http.Request) {
	var out []store.ServiceAccount
	err := a.o.Store.WithTenant(r.Context(), principalFrom(r.Context()).Tenant, func(tx *store.Tx) (err error) {
		out, err = tx.ServiceAccounts(r.Context())
		return err
	})
	if err != nil {
		storeError(w, r, err, "service accounts")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
}

func (a *API) getServiceAccount(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var sa store.ServiceAccount
	var secrets []store.ServiceAccountSecret
	err := a.o.Store.WithTenant(r.Context(), principalFrom(r.Context()).Tenant, func(tx *store.Tx) (err error) {
		if sa, err = tx.ServiceAccount(r.Context(), id); err != nil {
			return err
		}
		secrets, err = tx.ServiceAccountSecrets(r.Context(), id)
		return err
	})
	if err != nil {
		storeError(w, r, err, "service account")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"service_account": sa, "client_id": clientID(sa.TenantID, sa.ID), "secrets": secrets})
}

func (a *API) disableServiceAccount(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	a.changeAccount(w, r, id, "service_account.disable", nil, func(ctx context.Context, tx *store.Tx) (any, error) {
		return tx.DisableServiceAccount(ctx, id)
	})
}

type rotateSecretRequest struct {
	// OverlapSeconds is how long the account's other secrets stay valid; 0 revokes them at once.
	OverlapSeconds *int `json:"overlap_seconds"`
}

// rotateSecret adds a secret; the older ones expire after the overlap (default one hour), so
// clients can switch without downtime.
func (a *API) rotateSecret(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	req := rotateSecretRequest{}
	if r.ContentLength != 0 && !problem.DecodeJSON(w, r, &req) {
		return
	}
	overlap := time.Hour
	if req.OverlapSeconds != nil {
		if *req.OverlapSeconds < 0 || *req.OverlapSeconds > 30*24*3600 {
			problem.Write(w, http.StatusBadRequest, "overlap_seconds must be between 0 and 2592000 (30 days)")
			return
		}
		overlap = time.Duration(*req.OverlapSeconds) * time.Second
	}
	p := principalFrom(r.Context())
	secret, hash := newSecret()
	secretID := uuid.New()
	var sa store.ServiceAccount
	a.changeAccount(w, r, id, "service_account.secret_rotate", map[string]any{"secret_id": secretID, "overlap_seconds": overlap.Seconds()},
		func(ctx context.Context, tx *store.Tx) (any, error) {
			var err error
			if sa, err = tx.ServiceAccount(ctx, id); err != nil {
				return nil, err
			}
			if sa.DisabledAt != nil {
				return nil, errAccountDisabled
			}
			if err := tx.AddServiceAccountSecret(ctx, id, secretID, hash, &overlap); err != nil {
				return nil, err
			}
			return credentials{ServiceAccount: sa, ClientID: clientID(p.Tenant, id), ClientSecret: clientSecret(secretID, secret), SecretID: secretID}, nil
		}, withoutRevocation())
}

func (a *API) revokeSecret(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	secretID, err := uuid.Parse(r.PathValue("secret"))
	if err != nil {
		problem.Write(w, http.StatusBadRequest, "the secret id in the path must be a UUID")
		return
	}
	a.changeAccount(w, r, id, "service_account.secret_revoke", map[string]any{"secret_id": secretID},
		func(ctx context.Context, tx *store.Tx) (any, error) {
			if err := tx.RevokeServiceAccountSecret(ctx, id, secretID); err != nil {
				return nil, err
			}
			return tx.ServiceAccount(ctx, id)
		})
}

var errAccountDisabled = errors.New("the service account is disabled")

type changeOption func(*changeSettings)

type changeSettings struct{ revoke bool }

// withoutRevocation keeps the account's tokens valid (adding a secret does not compromise any).
func withoutRevocation() changeOption { return func(s *changeSettings) { s.revoke = false } }

// changeAccount applies change to a service account in the tenant's transaction with its audit
// entry and, unless told otherwise, revokes the account's tokens issued so far (a disabled account
// or a revoked secret must stop working at once).
func (a *API) changeAccount(w http.ResponseWriter, r *http.Request, id uuid.UUID, action string, details map[string]any,
	change func(ctx context.Context, tx *store.Tx) (any, error), opts ...changeOption) {
	s := changeSettings{revoke: true}
	for _, o := range opts {
		o(&s)
	}
	p := principalFrom(r.Context())
	ctx := r.Context()
	if details == nil {
		details = map[string]any{}
	}
	details["service_account_id"] = id
	var result any
	err := a.o.Store.WithTenant(ctx, p.Tenant, func(tx *store.Tx) (err error) {
		target, err := tx.ServiceAccount(ctx, id)
		if err != nil {
			return err
		}
		if !a.roles.Within(p, setOf(target.Permissions)) {
			return errBeyondCaller
		}
		if result, err = change(ctx, tx); err != nil {
			return err
		}
		if err := tx.Audit(ctx, a.auditEntry(r, p, action, "success", "warning", "", details)); err != nil {
			return err
		}
		if s.revoke {
			return a.o.Revocation.RevokeSubjectBeforeIn(ctx, tx, id.String(), a.o.Now())
		}
		return nil
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		problem.Write(w, http.StatusNotFound, "service account or secret not found")
	case errors.Is(err, errBeyondCaller):
		problem.Write(w, http.StatusForbidden, errBeyondCaller.Error())
	case errors.Is(err, errAccountDisabled):
		problem.Write(w, http.StatusConflict, errAccountDisabled.Error())
	case err != nil:
		logFrom(r).Error(action, "err", err)
		problem.Write(w, http.StatusServiceUnavailable, "could not change the service account right now; retry shortly")
	default:
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, result)
	}
}
