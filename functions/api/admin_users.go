package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/password"
	"github.com/phoenixotel/phoenix/shared/problem"
	"github.com/phoenixotel/phoenix/shared/store"
)

// userView is a user as the API shows it: never the password hash.
type userView struct {
	ID         uuid.UUID  `json:"id"`
	Email      string     `json:"email"`
	Role       string     `json:"role"`
	DisabledAt *time.Time `json:"disabled_at,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
}

func viewUser(u store.User) userView {
	return userView{ID: u.ID, Email: u.Email, Role: u.Role, DisabledAt: u.DisabledAt, CreatedAt: u.CreatedAt}
}

// tenantRoles are the roles a tenant admin may give. platform-admin is granted only by an
// operator with database access (phoenix user create), never through a tenant's API.
var tenantRoles = map[string]bool{"viewer": true, "operator": true, "admin": true}

func checkTenantRole(role string) *problem.FieldError {
	if !tenantRoles[role] {
		return &problem.FieldError{Field: "role", Message: "must be viewer, operator or admin"}
	}
	return nil
}

type createUserRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Role     string `json:"role"`
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request) {
	var req createUserRequest
	if !problem.DecodeJSON(w, r, &req) {
		return
	}
	var errs []problem.FieldError
	email := strings.TrimSpace(req.Email)
	if len(email) < 3 || len(email) > 254 || !strings.Contains(email, "@") {
		errs = append(errs, problem.FieldError{Field: "email", Message: "a valid email address is required"})
	}
	if err := password.Validate(req.Password); err != nil {
		errs = append(errs, problem.FieldError{Field: "password", Message: err.Error()})
	}
	if fe := checkTenantRole(req.Role); fe != nil {
		errs = append(errs, *fe)
	} else if !a.roles.Within(principalFrom(r.Context()), a.roles.Grants(req.Role)) {
		errs = append(errs, problem.FieldError{Field: "role", Message: "you cannot give a role with permissions you do not hold"})
	}
	if len(errs) > 0 {
		problem.Write(w, http.StatusBadRequest, "the user is invalid; see errors", errs...)
		return
	}
	hash, err := a.hashPassword(r.Context(), req.Password)
	if err != nil {
		problem.Write(w, http.StatusServiceUnavailable, "the service is busy; retry shortly")
		return
	}
	p := principalFrom(r.Context())
	var u store.User
	err = a.o.Store.WithTenant(r.Context(), p.Tenant, func(tx *store.Tx) (err error) {
		if u, err = tx.CreateUser(r.Context(), email, req.Role, hash); err != nil {
			return err
		}
		return tx.Audit(r.Context(), a.auditEntry(r, p, "user.create", "success", "info", "",
			map[string]any{"user_id": u.ID, "role": u.Role}))
	})
	if err != nil {
		storeError(w, r, err, "a user with this email")
		return
	}
	w.Header().Set("Location", "/v1/users/"+u.ID.String())
	writeJSON(w, http.StatusCreated, viewUser(u))
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) {
	limit, ok := queryLimit(w, r)
	if !ok {
		return
	}
	var after *store.Cursor
	if s := r.URL.Query().Get("after"); s != "" {
		c, err := parseCursor(s)
		if err != nil {
			problem.Write(w, http.StatusBadRequest, "after must be the next cursor of a previous page")
			return
		}
		after = &c
	}
	var us []store.User
	err := a.o.Store.WithTenant(r.Context(), principalFrom(r.Context()).Tenant, func(tx *store.Tx) (err error) {
		us, err = tx.Users(r.Context(), limit, after)
		return err
	})
	if err != nil {
		storeError(w, r, err, "users")
		return
	}
	items := make([]userView, 0, len(us))
	for _, u := range us {
		items = append(items, viewUser(u))
	}
	page := map[string]any{"items": items}
	if len(us) == limit {
		last := us[len(us)-1]
		page["next"] = formatCursor(store.Cursor{CreatedAt: last.CreatedAt, ID: last.ID})
	}
	writeJSON(w, http.StatusOK, page)
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var u store.User
	err := a.o.Store.WithTenant(r.Context(), principalFrom(r.Context()).Tenant, func(tx *store.Tx) (err error) {
		u, err = tx.User(r.Context(), id)
		return err
	})
	if err != nil {
		storeError(w, r, err, "user")
		return
	}
	writeJSON(w, http.StatusOK, viewUser(u))
}

type changeRoleRequest struct {
	Role string `json:"role"`
}

// changeRole gives a user another role. Tokens with the old role stop working at once; the
// user's sessions continue and their next refresh carries the new role.
func (a *API) changeRole(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var req changeRoleRequest
	if !problem.DecodeJSON(w, r, &req) {
		return
	}
	if fe := checkTenantRole(req.Role); fe != nil {
		problem.Write(w, http.StatusBadRequest, "the role is invalid", *fe)
		return
	}
	if !a.roles.Within(principalFrom(r.Context()), a.roles.Grants(req.Role)) {
		problem.Write(w, http.StatusForbidden, "you cannot give a role with permissions you do not hold")
		return
	}
	a.changeUser(w, r, id, "user.role_change", func(ctx context.Context, tx *store.Tx) (store.User, time.Time, error) {
		if err := a.manageable(ctx, tx, id); err != nil {
			return store.User{}, time.Time{}, err
		}
		return tx.SetUserRole(ctx, id, req.Role)
	})
}

// disableUser stops a user logging in, ends their sessions and revokes their tokens.
func (a *API) disableUser(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	if p := principalFrom(r.Context()); p.Subject == id.String() {
		problem.Write(w, http.StatusConflict, "you cannot disable yourself; ask another admin")
		return
	}
	a.changeUser(w, r, id, "user.disable", func(ctx context.Context, tx *store.Tx) (store.User, time.Time, error) {
		if err := a.manageable(ctx, tx, id); err != nil {
			return store.User{}, time.Time{}, err
		}
		u, at, err := tx.DisableUser(ctx, id)
		if err != nil {
			return u, at, err
		}
		_, err = tx.RevokeUserSessions(ctx, id, "user disabled")
		return u, at, err
	})
}

// manageable refuses to change a user the caller may not manage: a platform administrator, or a
// user holding permissions the caller does not.
func (a *API) manageable(ctx context.Context, tx *store.Tx, id uuid.UUID) error {
	u, err := tx.User(ctx, id)
	if err != nil {
		return err
	}
	if u.Role == "platform-admin" {
		return errPlatformAdmin
	}
	if !a.roles.Within(principalFrom(ctx), a.roles.Grants(u.Role)) {
		return errBeyondCallerUser
	}
	return nil
}

var (
	errPlatformAdmin    = errors.New("platform administrators are managed by the platform operator")
	errBeyondCallerUser = errors.New("the user holds permissions you do not; ask someone who holds them")
)

// changeUser applies change in the tenant's transaction, records the audit entry in it, and
// revokes the user's older tokens in Redis before committing, so a change that is recorded is
// also in force.
func (a *API) changeUser(w http.ResponseWriter, r *http.Request, id uuid.UUID, action string,
	change func(ctx context.Context, tx *store.Tx) (store.User, time.Time, error)) {
	p := principalFrom(r.Context())
	ctx := r.Context()
	var u store.User
	err := a.o.Store.WithTenant(ctx, p.Tenant, func(tx *store.Tx) error {
		var err error
		if u, _, err = change(ctx, tx); err != nil {
			return err
		}
		// Taken once the row is locked by the change: a concurrent refresh has either finished
		// (its token is older, so revoked) or waits and then sees the change.
		at := a.o.Now()
		if err := tx.Audit(ctx, a.auditEntry(r, p, action, "success", "warning", "",
			map[string]any{"user_id": u.ID, "role": u.Role})); err != nil {
			return err
		}
		return a.o.Revocation.RevokeSubjectBeforeIn(ctx, tx, u.ID.String(), at)
	})
	switch {
	case errors.Is(err, errPlatformAdmin), errors.Is(err, errBeyondCallerUser):
		problem.Write(w, http.StatusForbidden, err.Error())
	case errors.Is(err, store.ErrNotFound):
		problem.Write(w, http.StatusNotFound, "user not found")
	case errors.Is(err, store.ErrInvalid):
		problem.Write(w, http.StatusBadRequest, "unknown role")
	case err != nil:
		logFrom(r).Error(action, "err", err)
		problem.Write(w, http.StatusServiceUnavailable, "could not change the user right now; retry shortly")
	default:
		writeJSON(w, http.StatusOK, viewUser(u))
	}
}
