package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/phoenixotel/phoenix/shared/problem"
	"github.com/phoenixotel/phoenix/shared/store"
)

// Tenant management is the platform administrators' (tenant:manage). It goes through the store's
// platform path; each change is audited in the affected tenant's log, with the administrator's own
// tenant in the details.

type createTenantRequest struct {
	Name string `json:"name"`
}

func (a *API) createTenant(w http.ResponseWriter, r *http.Request) {
	var req createTenantRequest
	if !problem.DecodeJSON(w, r, &req) {
		return
	}
	if err := store.ValidateTenantName(req.Name); err != nil {
		problem.Write(w, http.StatusBadRequest, err.Error(), problem.FieldError{Field: "name", Message: err.Error()})
		return
	}
	var t store.Tenant
	err := a.o.Store.Platform(r.Context(), func(tx *store.PlatformTx) (err error) {
		t, err = tx.CreateTenant(r.Context(), req.Name)
		return err
	})
	if err != nil {
		storeError(w, r, err, "tenant "+strconv.Quote(req.Name))
		return
	}
	p := principalFrom(r.Context())
	a.audit(r, t.ID, p, "tenant.create", "success", "info", "", map[string]any{"name": t.Name, "actor_tenant": p.Tenant})
	w.Header().Set("Location", "/v1/tenants/"+t.ID.String())
	writeJSON(w, http.StatusCreated, t)
}

func (a *API) listTenants(w http.ResponseWriter, r *http.Request) {
	limit, ok := queryLimit(w, r)
	if !ok {
		return
	}
	after := r.URL.Query().Get("after")
	var ts []store.Tenant
	err := a.o.Store.Platform(r.Context(), func(tx *store.PlatformTx) (err error) {
		ts, err = tx.Tenants(r.Context(), limit, after)
		return err
	})
	if err != nil {
		storeError(w, r, err, "tenants")
		return
	}
	page := map[string]any{"items": ts}
	if len(ts) == limit {
		page["next"] = ts[len(ts)-1].Name
	}
	writeJSON(w, http.StatusOK, page)
}

func (a *API) getTenant(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var t store.Tenant
	err := a.o.Store.Platform(r.Context(), func(tx *store.PlatformTx) (err error) {
		t, err = tx.TenantByID(r.Context(), id)
		return err
	})
	if err != nil {
		storeError(w, r, err, "tenant")
		return
	}
	writeJSON(w, http.StatusOK, t)
}

// setTenantStatus suspends or resumes a tenant. Suspension revokes every token of the tenant at
// once (Redis marker) and login, refresh and the token grant refuse it until resumed.
func (a *API) setTenantStatus(status string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID(w, r)
		if !ok {
			return
		}
		p := principalFrom(r.Context())
		if status == "suspended" && id == p.Tenant {
			problem.Write(w, http.StatusConflict, "you cannot suspend your own tenant")
			return
		}
		var t store.Tenant
		err := a.o.Store.Platform(r.Context(), func(tx *store.PlatformTx) (err error) {
			if t, _, err = tx.SetTenantStatus(r.Context(), id, status); err != nil {
				return err
			}
			if status != "suspended" {
				return nil
			}
			// Refresh tokens end too: resuming the tenant must not bring old sessions back.
			if err := a.o.Store.WithTenant(r.Context(), id, func(ttx *store.Tx) error {
				return ttx.RevokeAllSessions(r.Context(), "tenant suspended")
			}); err != nil {
				return err
			}
			// Inside the transaction: if Redis refuses, the suspension is not recorded either,
			// and the administrator retries.
			return a.o.Revocation.RevokeTenantBefore(context.WithoutCancel(r.Context()), id, a.o.Now())
		})
		if errors.Is(err, store.ErrNotFound) {
			problem.Write(w, http.StatusNotFound, "tenant not found")
			return
		}
		if err != nil {
			logFrom(r).Error("change tenant status", "err", err)
			problem.Write(w, http.StatusServiceUnavailable, "could not change the tenant's status; retry shortly")
			return
		}
		action := map[string]string{"suspended": "tenant.suspend", "active": "tenant.resume"}[status]
		a.audit(r, t.ID, p, action, "success", "warning", "", map[string]any{"actor_tenant": p.Tenant})
		writeJSON(w, http.StatusOK, t)
	}
}

// queryLimit reads ?limit= (1-200, default 50); on a bad value it has answered 400.
func queryLimit(w http.ResponseWriter, r *http.Request) (int, bool) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return 50, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 200 {
		problem.Write(w, http.StatusBadRequest, "limit must be a number between 1 and 200")
		return 0, false
	}
	return n, true
}
