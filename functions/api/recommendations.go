package api

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/phoenixotel/phoenix/shared/apiclient"
	"github.com/phoenixotel/phoenix/shared/problem"
	"github.com/phoenixotel/phoenix/shared/recommend"
	"github.com/phoenixotel/phoenix/shared/store"
)

// recommendResponse is what POST /v1/captures/{id}/recommendations answers.
type recommendResponse struct {
	Items    []store.Recommendation `json:"items"`    // ranked, cheapest first
	Rejected []recommend.Rejection  `json:"rejected"` // candidates left out, and why
	Usage    recommend.Usage        `json:"usage"`    // the metrics the supplied rules and dashboards use
	// Cardinality is what costs the most in the capture: metrics and processes by series,
	// attributes by distinct values (the ten largest of each).
	Cardinality recommend.Cardinality `json:"cardinality"`
}

// recommendCapture proposes pipelines for a capture: each candidate previewed with the real
// collector, those that lose a critical process or a used series left out, the rest ranked by
// predicted cost, explained, and stored so that an experiment can be started from one.
func (a *API) recommendCapture(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var req apiclient.Recommend
	if !problem.DecodeJSON(w, r, &req) {
		return
	}
	usage, errs := readUsage(req)
	if len(errs) > 0 {
		problem.Write(w, http.StatusBadRequest, "a rule file or dashboard could not be read; see errors", errs...)
		return
	}
	rp, err := a.replayerFor(r, id, nil)
	if err != nil {
		replayerError(w, r, err)
		return
	}
	recs, rejected, err := recommend.Rank(r.Context(), recommend.Candidates(rp.data.In, rp.exp.Spec.CriticalProcesses, rp.interval.String()), rp.result, usage)
	if err != nil {
		previewError(w, r, "candidate", err)
		return
	}
	p := principalFrom(r.Context())
	resp := recommendResponse{Items: []store.Recommendation{}, Rejected: append([]recommend.Rejection{}, rejected...), Usage: usage,
		Cardinality: recommend.Costliest(rp.data.In, 10)}
	err = a.o.Store.WithTenant(r.Context(), p.Tenant, func(tx *store.Tx) error {
		for _, rec := range recs {
			raw, err := json.Marshal(rec.Preview)
			if err != nil {
				return err
			}
			saved, err := tx.SaveRecommendation(r.Context(), store.Recommendation{CaptureID: &rp.capture.ID, ExperimentID: rp.exp.ID,
				Rank: rec.Rank, Name: rec.Name, Explanation: rec.Explanation, Choice: rec.Choice, Preview: raw, CreatedBy: p.Subject})
			if err != nil {
				return err
			}
			resp.Items = append(resp.Items, saved)
		}
		return tx.Audit(r.Context(), a.auditEntry(r, p, "capture.recommend", "success", "info", "",
			map[string]any{"capture": id, "recommended": len(recs), "rejected": len(rejected)}))
	})
	if err != nil {
		storeError(w, r, err, "recommendation")
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// readUsage reads the supplied rule files and dashboards.
func readUsage(req apiclient.Recommend) (recommend.Usage, []problem.FieldError) {
	var all []recommend.Usage
	var errs []problem.FieldError
	for i, f := range req.Rules {
		u, err := recommend.FromRules([]byte(f))
		if err != nil {
			errs = append(errs, problem.FieldError{Field: fmt.Sprintf("rules[%d]", i), Message: err.Error()})
		}
		all = append(all, u)
	}
	for i, f := range req.Dashboards {
		u, err := recommend.FromDashboard([]byte(f))
		if err != nil {
			errs = append(errs, problem.FieldError{Field: fmt.Sprintf("dashboards[%d]", i), Message: err.Error()})
		}
		all = append(all, u)
	}
	return recommend.Merge(all...), errs
}

func (a *API) getRecommendation(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var rec store.Recommendation
	err := a.o.Store.WithTenant(r.Context(), principalFrom(r.Context()).Tenant, func(tx *store.Tx) (err error) {
		rec, err = tx.Recommendation(r.Context(), id)
		return err
	})
	if err != nil {
		storeError(w, r, err, "recommendation")
		return
	}
	writeJSON(w, http.StatusOK, rec)
}
