package api

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/phoenixotel/phoenix/shared/problem"
	"github.com/phoenixotel/phoenix/shared/store"
)

// listAudit serves GET /v1/audit-events?since=&until=&actor=&action=&limit=&after=, newest first.
func (a *API) listAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.AuditFilter{ActorID: q.Get("actor"), Action: q.Get("action")}
	var ok bool
	if f.Limit, ok = queryLimit(w, r); !ok {
		return
	}
	for name, dst := range map[string]**time.Time{"since": &f.Since, "until": &f.Until} {
		if s := q.Get(name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				problem.Write(w, http.StatusBadRequest, name+" must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
				return
			}
			*dst = &t
		}
	}
	if len(f.ActorID) > 100 || len(f.Action) > 100 {
		problem.Write(w, http.StatusBadRequest, "actor and action filters are at most 100 characters")
		return
	}
	if s := q.Get("after"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			problem.Write(w, http.StatusBadRequest, "after must be the next cursor of a previous page")
			return
		}
		f.Before = n
	}
	var items []store.AuditRecord
	err := a.o.Store.WithTenant(r.Context(), principalFrom(r.Context()).Tenant, func(tx *store.Tx) (err error) {
		items, err = tx.AuditEvents(r.Context(), f)
		return err
	})
	if err != nil {
		storeError(w, r, err, "audit events")
		return
	}
	page := map[string]any{"items": items}
	if len(items) == f.Limit {
		page["next"] = strconv.FormatInt(items[len(items)-1].ID, 10)
	}
	writeJSON(w, http.StatusOK, page)
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

func sortStrings(s []string) { slices.Sort(s) }
