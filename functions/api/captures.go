package api

import (
	"cmp"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/phoenixotel/phoenix/shared/apiclient"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/problem"
	"github.com/phoenixotel/phoenix/shared/store"
)

// Capture bounds (docs/pipelines.md): long enough to see every process of a host several times,
// short and small enough that a preview replays it in seconds.
const (
	minCapture        = 10 * time.Second
	maxCapture        = 10 * time.Minute
	defaultCapture    = 2 * time.Minute
	captureMaxBytes   = 64 << 20
	captureRetention  = 7 * 24 * time.Hour
	captureNameLength = 100
)

// captureView is a capture as the API shows it.
type captureView struct {
	store.Capture
	State     string `json:"state"`     // capturing or complete
	Truncated bool   `json:"truncated"` // some requests did not fit under max_bytes
}

func (a *API) viewCapture(c store.Capture) captureView {
	return captureView{Capture: c, State: c.State(a.o.Now()), Truncated: c.Dropped > 0}
}

// createCapture opens a capture of a running experiment's baseline output.
func (a *API) createCapture(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var req apiclient.NewCapture
	if !problem.DecodeJSON(w, r, &req) {
		return
	}
	d := time.Duration(cmp.Or(req.DurationSeconds, int(defaultCapture/time.Second))) * time.Second
	if d < minCapture || d > maxCapture {
		problem.Write(w, http.StatusBadRequest, "duration_seconds must be between 10 and 600",
			problem.FieldError{Field: "duration_seconds", Message: "between 10 and 600 (default 120)"})
		return
	}
	name := strings.TrimSpace(req.Name)
	if err := experiment.ValidateName(cmp.Or(name, "x")); err != nil || len(name) > captureNameLength {
		problem.Write(w, http.StatusBadRequest, "the name is invalid", problem.FieldError{Field: "name", Message: "at most 100 printable characters"})
		return
	}
	p := principalFrom(r.Context())
	var c store.Capture
	err := a.o.Store.WithTenant(r.Context(), p.Tenant, func(tx *store.Tx) error {
		e, err := tx.Experiment(r.Context(), id)
		if err != nil {
			return err
		}
		if e.State != experiment.Running {
			return errNotRunning{e.State}
		}
		c, err = tx.CreateCapture(r.Context(), store.NewCapture{Name: cmp.Or(name, "baseline of "+e.Name), ExperimentID: id,
			Duration: d, MaxBytes: captureMaxBytes, Retention: captureRetention, CreatedBy: p.Subject})
		if err != nil {
			return err
		}
		return tx.Audit(r.Context(), a.auditEntry(r, p, "capture.create", "success", "info", "", map[string]any{"capture": c.ID, "experiment": id}))
	})
	var nr errNotRunning
	switch {
	case errors.As(err, &nr):
		problem.Write(w, http.StatusConflict, "the experiment is "+string(nr.state)+": a capture records a running experiment's baseline; start it first")
		return
	case errors.Is(err, store.ErrLimit):
		problem.Write(w, http.StatusConflict, "your tenant holds 20 captures, the most it may: delete one (DELETE /v1/captures/{id})")
		return
	case err != nil:
		storeError(w, r, err, "experiment")
		return
	}
	w.Header().Set("Location", "/v1/captures/"+c.ID.String())
	writeJSON(w, http.StatusCreated, a.viewCapture(c))
}

// errNotRunning says an experiment is not in the state an action needs.
type errNotRunning struct{ state experiment.State }

func (e errNotRunning) Error() string { return "experiment is " + string(e.state) }

func (a *API) listCaptures(w http.ResponseWriter, r *http.Request) {
	var items []store.Capture
	err := a.o.Store.WithTenant(r.Context(), principalFrom(r.Context()).Tenant, func(tx *store.Tx) (err error) {
		items, err = tx.Captures(r.Context())
		return err
	})
	if err != nil {
		storeError(w, r, err, "captures")
		return
	}
	views := make([]captureView, 0, len(items))
	for _, c := range items {
		views = append(views, a.viewCapture(c))
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": views})
}

func (a *API) getCapture(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var c store.Capture
	err := a.o.Store.WithTenant(r.Context(), principalFrom(r.Context()).Tenant, func(tx *store.Tx) (err error) {
		c, err = tx.Capture(r.Context(), id)
		return err
	})
	if err != nil {
		storeError(w, r, err, "capture")
		return
	}
	writeJSON(w, http.StatusOK, a.viewCapture(c))
}

func (a *API) deleteCapture(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	p := principalFrom(r.Context())
	err := a.o.Store.WithTenant(r.Context(), p.Tenant, func(tx *store.Tx) error {
		if err := tx.DeleteCapture(r.Context(), id); err != nil {
			return err
		}
		return tx.Audit(r.Context(), a.auditEntry(r, p, "capture.delete", "success", "info", "", map[string]any{"capture": id}))
	})
	if err != nil {
		storeError(w, r, err, "capture")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
