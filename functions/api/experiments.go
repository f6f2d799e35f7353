package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/apiclient"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/logging"
	"github.com/phoenixotel/phoenix/shared/pipeline"
	"github.com/phoenixotel/phoenix/shared/problem"
	"github.com/phoenixotel/phoenix/shared/store"
)

func logFrom(r *http.Request) *slog.Logger { return logging.FromContext(r.Context()) }

var templateName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// validateExperiment decodes the spec (empty: the zero spec) and returns it with one message per invalid
// field.
func validateExperiment(c apiclient.NewExperiment) (experiment.Spec, []problem.FieldError) {
	var errs []problem.FieldError
	add := func(field, msg string) { errs = append(errs, problem.FieldError{Field: field, Message: msg}) }
	if err := experiment.ValidateName(c.Name); err != nil {
		add("name", err.Error())
	}
	if len(c.Description) > 2000 {
		add("description", "at most 2000 characters")
	}
	var spec experiment.Spec
	if len(c.Spec) > 0 {
		var fes []problem.FieldError
		spec, fes = decodeSpec(c.Spec)
		errs = append(errs, fes...)
	}
	if c.AA && c.Candidate.Template != "" && !sameJSON(c.Candidate, c.Baseline) {
		add("candidate", "leave it out with aa: an A/A run uses the baseline's pipeline as the candidate")
	}
	for _, v := range []struct {
		field string
		p     store.PipelineChoice
	}{{"baseline", c.Baseline}, {"candidate", c.Candidate}} {
		field, p := v.field, v.p
		if p.Pipeline != "" && p.Custom == nil {
			continue // a saved pipeline that could not be resolved: reported by resolvePipelines
		}
		if !templateName.MatchString(p.Template) {
			add(field+".template", "required: a pipeline template name (GET /v1/pipelines/templates lists them)")
			continue
		}
		if len(p.Parameters) > 50 {
			add(field+".parameters", "at most 50 parameters")
			continue
		}
		// A dry render with the experiment's critical processes, exactly as the generator will.
		req := p.Request(spec.CriticalProcesses)
		req.ExperimentID, req.Variant, req.Target, req.Output = uuid.New(), field, pipeline.Local, pipeline.Output{Endpoint: "http://127.0.0.1"}
		_, err := pipeline.Render(req)
		var pe *pipeline.ParamError
		switch {
		case errors.As(err, &pe):
			for _, msg := range pe.Problems {
				add(field+".parameters", msg)
			}
		case err != nil:
			add(field+".template", err.Error())
		}
	}
	if c.DurationSeconds < 60 || c.DurationSeconds > experiment.MaxRunSeconds {
		add("duration_seconds", fmt.Sprintf("between 60 (one minute) and %d (one week)", experiment.MaxRunSeconds))
	}
	return spec, errs
}

// decodeSpec reads an experiment spec strictly (unknown fields refused) and validates it; field
// paths in the errors start with "spec.".
func decodeSpec(raw json.RawMessage) (experiment.Spec, []problem.FieldError) {
	var s experiment.Spec
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		msg := "must be an object with critical_processes, targets and success_criteria"
		if strings.HasPrefix(err.Error(), "json: unknown field ") {
			msg = "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
		}
		return s, []problem.FieldError{{Field: "spec", Message: msg}}
	}
	var out []problem.FieldError
	for _, e := range s.Validate() {
		out = append(out, problem.FieldError{Field: "spec." + e.Field, Message: e.Message})
	}
	return s, out
}

// sameJSON reports whether a and b encode alike (maps encode with sorted keys).
func sameJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

func (a *API) createExperiment(w http.ResponseWriter, r *http.Request) {
	var req apiclient.NewExperiment
	if !problem.DecodeJSON(w, r, &req) {
		return
	}
	if req.AA && req.Candidate.Template == "" && req.Candidate.Pipeline == "" {
		req.Candidate = req.Baseline
	}
	p := principalFrom(r.Context())
	var (
		saved [2]*uuid.UUID // the saved pipeline versions the variants run
		errs  []problem.FieldError
	)
	var recommended *uuid.UUID
	if err := a.o.Store.WithTenant(r.Context(), p.Tenant, func(tx *store.Tx) (err error) {
		if saved, errs, err = resolvePipelines(r.Context(), tx, &req); err != nil {
			return err
		}
		if req.FromRecommendation != "" {
			var more []problem.FieldError
			recommended, more, err = fromRecommendation(r.Context(), tx, &req)
			errs = append(errs, more...)
		}
		return err
	}); err != nil {
		storeError(w, r, err, "pipeline")
		return
	}
	spec, verrs := validateExperiment(req)
	if errs = append(errs, verrs...); len(errs) > 0 {
		problem.Write(w, http.StatusBadRequest, "the experiment is invalid; see errors", errs...)
		return
	}
	var e store.Experiment
	err := a.o.Store.WithTenant(r.Context(), p.Tenant, func(tx *store.Tx) (err error) {
		e, err = tx.CreateExperiment(r.Context(), store.NewExperiment{
			Name: strings.TrimSpace(req.Name), Description: req.Description,
			Baseline: req.Baseline, Candidate: req.Candidate, Spec: spec,
			DurationSeconds: req.DurationSeconds, CreatedBy: p.Subject,
			BaselinePipeline: saved[0], CandidatePipeline: saved[1], Recommendation: recommended,
		})
		return err
	})
	if err != nil {
		storeError(w, r, err, "experiment")
		return
	}
	w.Header().Set("Location", "/v1/experiments/"+e.ID.String())
	writeJSON(w, http.StatusCreated, e)
}

func (a *API) listExperiments(w http.ResponseWriter, r *http.Request) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		problem.Write(w, http.StatusBadRequest, "the query string is malformed")
		return
	}
	f := store.ExperimentFilter{Limit: 50}
	if s := q.Get("state"); s != "" {
		if !experiment.State(s).Valid() {
			problem.Write(w, http.StatusBadRequest, fmt.Sprintf("state %q is not a known state", s))
			return
		}
		f.State = experiment.State(s)
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 200 {
			problem.Write(w, http.StatusBadRequest, "limit must be a number between 1 and 200")
			return
		}
		f.Limit = n
	}
	if s := q.Get("after"); s != "" {
		c, err := parseCursor(s)
		if err != nil {
			problem.Write(w, http.StatusBadRequest, "after must be the next cursor of a previous page")
			return
		}
		f.After = &c
	}
	var items []store.Experiment
	err = a.o.Store.WithTenant(r.Context(), principalFrom(r.Context()).Tenant, func(tx *store.Tx) (err error) {
		items, err = tx.Experiments(r.Context(), f)
		return err
	})
	if err != nil {
		storeError(w, r, err, "experiments")
		return
	}
	page := apiclient.ExperimentPage{Items: items}
	if len(items) == f.Limit {
		last := items[len(items)-1]
		page.Next = formatCursor(store.Cursor{CreatedAt: last.CreatedAt, ID: last.ID})
	}
	writeJSON(w, http.StatusOK, page)
}

// pathID parses the {id} path value; on failure it has answered 400.
func pathID(w http.ResponseWriter, r *http.Request) (uuid.UUID, bool) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		problem.Write(w, http.StatusBadRequest, "the id in the path must be a UUID")
		return uuid.Nil, false
	}
	return id, true
}

func (a *API) getExperiment(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var e store.Experiment
	err := a.o.Store.WithTenant(r.Context(), principalFrom(r.Context()).Tenant, func(tx *store.Tx) (err error) {
		e, err = tx.Experiment(r.Context(), id)
		return err
	})
	if err != nil {
		storeError(w, r, err, "experiment")
		return
	}
	writeJSON(w, http.StatusOK, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// formatCursor encodes a listing position as an opaque token.
func formatCursor(c store.Cursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.CreatedAt.UTC().Format(time.RFC3339Nano) + "|" + c.ID.String()))
}

func parseCursor(s string) (store.Cursor, error) {
	if len(s) > 128 {
		return store.Cursor{}, errors.New("cursor too long")
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return store.Cursor{}, err
	}
	at, id, ok := strings.Cut(string(b), "|")
	if !ok {
		return store.Cursor{}, errors.New("malformed cursor")
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return store.Cursor{}, err
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return store.Cursor{}, err
	}
	return store.Cursor{CreatedAt: t, ID: u}, nil
}

func (a *API) getAnalysis(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var rec store.AnalysisRecord
	err := a.o.Store.WithTenant(r.Context(), principalFrom(r.Context()).Tenant, func(tx *store.Tx) (err error) {
		if _, err := tx.Experiment(r.Context(), id); err != nil {
			return err
		}
		rec, err = tx.LatestAnalysis(r.Context(), id)
		return err
	})
	if err != nil {
		storeError(w, r, err, "analysis")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": rec.ID, "verdict": rec.Verdict, "created_at": rec.CreatedAt, "report": rec.Report})
}

// experimentItems serves a list of an experiment's records as {"items": …}, read in the caller's
// tenant once the experiment is found there (404 otherwise): transitions, manifests, looks.
func experimentItems[T any](a *API, read func(tx *store.Tx, ctx context.Context, id uuid.UUID) ([]T, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID(w, r)
		if !ok {
			return
		}
		var items []T
		err := a.o.Store.WithTenant(r.Context(), principalFrom(r.Context()).Tenant, func(tx *store.Tx) (err error) {
			if _, err := tx.Experiment(r.Context(), id); err != nil {
				return err
			}
			items, err = read(tx, r.Context(), id)
			return err
		})
		if err != nil {
			storeError(w, r, err, "experiment")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": items})
	}
}

// fromRecommendation fills what req leaves out from the recommendation it names: its pipeline as
// the candidate (checked when it was previewed), and the captured experiment's baseline, spec
// (critical processes, targets, criteria, analysis settings), planned duration, and a name saying
// what is confirmed.
func fromRecommendation(ctx context.Context, tx *store.Tx, req *apiclient.NewExperiment) (*uuid.UUID, []problem.FieldError, error) {
	bad := func(msg string) (*uuid.UUID, []problem.FieldError, error) {
		return nil, []problem.FieldError{{Field: "from_recommendation", Message: msg}}, nil
	}
	id, err := uuid.Parse(req.FromRecommendation)
	if err != nil {
		return bad("a recommendation id (a UUID)")
	}
	rec, err := tx.Recommendation(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return bad("your tenant has no such recommendation")
	}
	if err != nil {
		return nil, nil, err
	}
	src, err := tx.Experiment(ctx, rec.ExperimentID)
	if err != nil {
		return nil, nil, err
	}
	if req.Candidate.Template == "" && req.Candidate.Pipeline == "" {
		req.Candidate = rec.Choice
	}
	if req.Baseline.Template == "" && req.Baseline.Pipeline == "" {
		req.Baseline = src.Baseline
	}
	if len(req.Spec) == 0 {
		// The captured experiment's spec whole: its critical processes and targets, and the
		// criteria and analysis settings (extension, early stop) it was judged by.
		if req.Spec, err = json.Marshal(src.Spec); err != nil {
			return nil, nil, err
		}
	}
	if req.DurationSeconds == 0 {
		req.DurationSeconds = src.PlannedDurationSeconds
	}
	if req.Name == "" {
		req.Name = truncateName("confirm: " + rec.Name)
	}
	return &rec.ID, nil, nil
}

// truncateName keeps a generated name within the 100 characters a name may have.
func truncateName(s string) string {
	if r := []rune(s); len(r) > 100 {
		return string(r[:99]) + "…"
	}
	return s
}
