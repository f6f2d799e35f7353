package api

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/store"
	"github.com/phoenixotel/phoenix/test/pgtest"
)

func TestKPIs_ListsClosedWindowsOfTheTenantsExperiment(t *testing.T) {
	t.Parallel()
	f := setup(t)
	exp := pgtest.Experiment(t, f.st, f.acme)
	start := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	err := f.st.WithTenant(context.Background(), f.acme, func(tx *store.Tx) error {
		for i, v := range []experiment.Variant{experiment.Baseline, experiment.Candidate, experiment.Baseline} {
			s := start.Add(time.Duration(i/2) * 15 * time.Second)
			if _, err := tx.SaveKPIWindow(context.Background(), exp, store.KPIWindow{Variant: v, WindowStart: s, WindowEnd: s.Add(15 * time.Second),
				Complete: true, Series: int64(10 + i), KPIs: map[string]float64{"series": float64(10 + i)}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	viewer := f.token(t, f.acme, "viewer")
	base := "/v1/experiments/" + exp.String() + "/kpis"
	tests := []struct {
		name   string
		query  string
		token  string
		status int
		items  int
	}{
		{"every window", "", viewer, http.StatusOK, 3},
		{"one variant", "?variant=baseline", viewer, http.StatusOK, 2},
		{"from", "?from=" + url.QueryEscape(start.Add(15*time.Second).Format(time.RFC3339)), viewer, http.StatusOK, 1},
		{"to", "?to=" + url.QueryEscape(start.Add(15*time.Second).Format(time.RFC3339)), viewer, http.StatusOK, 2},
		{"limit", "?limit=1", viewer, http.StatusOK, 1},
		{"unknown variant", "?variant=other", viewer, http.StatusBadRequest, 0},
		{"bad time", "?from=yesterday", viewer, http.StatusBadRequest, 0},
		{"to before from", "?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", viewer, http.StatusBadRequest, 0},
		{"limit out of range", "?limit=0", viewer, http.StatusBadRequest, 0},
		{"no token", "", "", http.StatusUnauthorized, 0},
		{"another tenant", "", f.token(t, f.other, "admin"), http.StatusNotFound, 0},
	}
	for _, tt := range tests {
		r := f.do(t, http.MethodGet, base+tt.query, tt.token, nil)
		if r.code != tt.status {
			t.Errorf("%s: status %d %v, want %d", tt.name, r.code, r.body, tt.status)
			continue
		}
		if tt.status == http.StatusOK {
			items, _ := r.body["items"].([]any)
			if len(items) != tt.items {
				t.Errorf("%s: %d windows, want %d", tt.name, len(items), tt.items)
			}
		}
	}
	r := f.do(t, http.MethodGet, base+"?variant=candidate", viewer, nil)
	items, _ := r.body["items"].([]any)
	if w, _ := items[0].(map[string]any); w["series"] != float64(11) || w["variant"] != "candidate" || w["complete"] != true ||
		w["kpis"].(map[string]any)["series"] != float64(11) {
		t.Errorf("window %v", w)
	}
	if r := f.do(t, http.MethodGet, "/v1/experiments/"+uuid.NewString()+"/kpis", viewer, nil); r.code != http.StatusNotFound {
		t.Errorf("unknown experiment: %d", r.code)
	}
}
