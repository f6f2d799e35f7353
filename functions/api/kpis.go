package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/problem"
	"github.com/phoenixotel/phoenix/shared/store"
)

// maxKPIWindows bounds one answer: a week-long experiment with 15 s windows has about 40 000
// windows per variant, so clients page with from (the last window_end they saw).
const maxKPIWindows = 5000

// listKPIs is GET /v1/experiments/{id}/kpis?variant=&from=&to=&limit=: the experiment's closed KPI
// windows, oldest first — raw counts, the KPIs computed from them, and whether the window is
// complete (only complete windows feed the analysis). from and to are RFC 3339 times bounding
// window_start (inclusive) and window_end (inclusive).
func (a *API) listKPIs(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	f := store.KPIFilter{Variant: experiment.Variant(q.Get("variant")), Limit: 1000}
	if f.Variant != "" && !f.Variant.Valid() {
		problem.Write(w, http.StatusBadRequest, "variant must be baseline or candidate")
		return
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				problem.Write(w, http.StatusBadRequest, p.name+" must be an RFC 3339 time, e.g. 2026-01-02T15:04:05Z")
				return
			}
			*p.dst = t
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && f.To.Before(f.From) {
		problem.Write(w, http.StatusBadRequest, "to must not be before from")
		return
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxKPIWindows {
			problem.Write(w, http.StatusBadRequest, "limit must be a whole number between 1 and "+strconv.Itoa(maxKPIWindows))
			return
		}
		f.Limit = n
	}
	var ws []store.KPIWindow
	err := a.o.Store.WithTenant(r.Context(), principalFrom(r.Context()).Tenant, func(tx *store.Tx) error {
		if _, err := tx.Experiment(r.Context(), id); err != nil {
			return err
		}
		var err error
		ws, err = tx.KPIWindows(r.Context(), id, f)
		return err
	})
	if err != nil {
		storeError(w, r, err, "experiment")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": ws})
}
