package api

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"regexp"
	"strconv"

	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/apiclient"
	"github.com/phoenixotel/phoenix/shared/distribution"
	"github.com/phoenixotel/phoenix/shared/pipeline"
	"github.com/phoenixotel/phoenix/shared/problem"
	"github.com/phoenixotel/phoenix/shared/store"
)

// pipelineName is a saved pipeline's name: a slug, usable in URLs and on the command line.
var pipelineName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,99}$`)

// hostfs is the Kubernetes target's root_path line.
var hostfs = regexp.MustCompile(`(?m)^\s+root_path: /hostfs\n`)

// reservedNames would shadow the routes beside /v1/pipelines/{name}.
var reservedNames = map[string]bool{"templates": true, "validate": true}

// checkPipeline renders choice exactly as the generator would and checks the result: the
// template's parameters or the custom processors, Phoenix's own rules (pipeline.Check), and —
// for a custom pipeline — the real collector's validation. It returns the configuration and the
// problems, each a sentence; an error only when the check itself could not run.
func (a *API) checkPipeline(ctx context.Context, choice store.PipelineChoice, variant string, target pipeline.Target) ([]byte, []string, error) {
	req := choice.Request(nil)
	req.ExperimentID, req.Variant, req.Target = uuid.New(), variant, target
	req.Output = pipeline.Output{Endpoint: "http://phoenix-ingest.phoenix.svc.cluster.local", Headers: pipeline.IngestHeaders()}
	cfg, err := pipeline.Render(req)
	var pe *pipeline.ParamError
	switch {
	case errors.As(err, &pe):
		return nil, pe.Problems, nil
	case err != nil:
		return nil, []string{err.Error()}, nil
	}
	if problems := pipeline.Check(cfg); len(problems) > 0 || choice.Template != pipeline.CustomTemplate {
		return cfg, problems, nil
	}
	// The templates are proven against the collector by their tests; a tenant's own processors
	// are checked by the collector itself, every time (about 0.2 s).
	var refused *distribution.Refusal
	switch err := a.o.Collector.Validate(ctx, localized(cfg, target)); {
	case errors.As(err, &refused):
		return cfg, []string{refused.Message}, nil
	case err != nil:
		return cfg, nil, err
	}
	return cfg, nil, nil
}

// localized is cfg as the collector on this machine can load it: a Kubernetes configuration reads
// the node's filesystem at /hostfs, which only exists on a node.
func localized(cfg []byte, target pipeline.Target) []byte {
	if target != pipeline.Kubernetes {
		return cfg
	}
	return hostfs.ReplaceAll(cfg, nil)
}

// checkUnavailable answers when the collector could not be asked.
func checkUnavailable(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, distribution.ErrNoBinary) {
		problem.Write(w, http.StatusServiceUnavailable, "this Phoenix cannot check custom pipelines: its API has no collector binary (set PHOENIX_COLLECTOR_BINARY)")
		return
	}
	logFrom(r).Error("collector validation failed to run", "err", err)
	problem.Write(w, http.StatusServiceUnavailable, "the collector could not check the pipeline right now; retry shortly")
}

// validatePipeline renders a template with parameters, or custom processors, exactly as the
// generator would and answers whether it is valid, the problems, and the configuration.
func (a *API) validatePipeline(w http.ResponseWriter, r *http.Request) {
	var req apiclient.ValidatePipeline
	if !problem.DecodeJSON(w, r, &req) {
		return
	}
	if req.Custom != nil && req.Template == "" {
		req.Template = pipeline.CustomTemplate
	}
	target := pipeline.Target(cmp.Or(req.Target, string(pipeline.Kubernetes)))
	cfg, problems, err := a.checkPipeline(r.Context(), store.PipelineChoice{Template: req.Template, Parameters: req.Parameters, Custom: req.Custom},
		cmp.Or(req.Variant, "candidate"), target)
	if err != nil {
		checkUnavailable(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"valid": len(problems) == 0, "errors": append([]string{}, problems...), "config": string(cfg)})
}

// createPipeline saves a tenant's own pipeline as the next version of its name, once the
// collector accepts it.
func (a *API) createPipeline(w http.ResponseWriter, r *http.Request) {
	var req apiclient.NewPipeline
	if !problem.DecodeJSON(w, r, &req) {
		return
	}
	var errs []problem.FieldError
	if !pipelineName.MatchString(req.Name) || reservedNames[req.Name] {
		errs = append(errs, problem.FieldError{Field: "name", Message: "1-100 lowercase letters, digits, . _ - (starting with a letter or digit); not templates or validate"})
	}
	if len(req.Description) > 2000 {
		errs = append(errs, problem.FieldError{Field: "description", Message: "at most 2000 characters"})
	}
	_, problems, err := a.checkPipeline(r.Context(), store.PipelineChoice{Template: pipeline.CustomTemplate, Custom: &req.Definition},
		"candidate", pipeline.Local)
	if err != nil {
		checkUnavailable(w, r, err)
		return
	}
	for _, m := range problems {
		errs = append(errs, problem.FieldError{Field: "definition", Message: m})
	}
	if len(errs) > 0 {
		problem.Write(w, http.StatusBadRequest, "the pipeline is invalid; see errors", errs...)
		return
	}
	p := principalFrom(r.Context())
	var saved store.Pipeline
	err = a.o.Store.WithTenant(r.Context(), p.Tenant, func(tx *store.Tx) (err error) {
		if saved, err = tx.SavePipeline(r.Context(), req.Name, req.Description, req.Definition, p.Subject); err != nil {
			return err
		}
		return tx.Audit(r.Context(), a.auditEntry(r, p, "pipeline.save", "success", "info", "",
			map[string]any{"pipeline": saved.Name, "version": saved.Version}))
	})
	if err != nil {
		storeError(w, r, err, "pipeline")
		return
	}
	w.Header().Set("Location", "/v1/pipelines/"+saved.Name+"?version="+strconv.Itoa(saved.Version))
	writeJSON(w, http.StatusCreated, saved)
}

func (a *API) listPipelines(w http.ResponseWriter, r *http.Request) {
	var items []store.Pipeline
	err := a.o.Store.WithTenant(r.Context(), principalFrom(r.Context()).Tenant, func(tx *store.Tx) (err error) {
		items, err = tx.Pipelines(r.Context())
		return err
	})
	if err != nil {
		storeError(w, r, err, "pipelines")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": append([]store.Pipeline{}, items...)})
}

// getPipeline answers one version of a saved pipeline (?version=N; the newest without).
func (a *API) getPipeline(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	version, err := strconv.Atoi(cmp.Or(r.URL.Query().Get("version"), "0"))
	if err != nil || version < 0 {
		problem.Write(w, http.StatusBadRequest, "version must be a whole number of 1 or more", problem.FieldError{Field: "version", Message: "a whole number, 1 or more"})
		return
	}
	var p store.Pipeline
	err = a.o.Store.WithTenant(r.Context(), principalFrom(r.Context()).Tenant, func(tx *store.Tx) (err error) {
		p, err = tx.Pipeline(r.Context(), name, version)
		return err
	})
	if err != nil {
		storeError(w, r, err, "pipeline")
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// resolvePipelines replaces each variant's saved-pipeline reference by the version it names (the
// newest when none) and a copy of its processors, and returns the versions' ids. A reference to
// a pipeline the tenant does not have is a field error.
func resolvePipelines(ctx context.Context, tx *store.Tx, req *apiclient.NewExperiment) (ids [2]*uuid.UUID, errs []problem.FieldError, err error) {
	for i, v := range []struct {
		field  string
		choice *store.PipelineChoice
	}{{"baseline", &req.Baseline}, {"candidate", &req.Candidate}} {
		var ferrs []problem.FieldError
		if ids[i], ferrs, err = resolveChoice(ctx, tx, v.field, v.choice); err != nil {
			return ids, nil, err
		}
		errs = append(errs, ferrs...)
	}
	return ids, errs, nil
}

// resolveChoice resolves one choice (field names it in errors) as resolvePipelines does; an error
// only when the store could not be read.
func resolveChoice(ctx context.Context, tx *store.Tx, field string, c *store.PipelineChoice) (*uuid.UUID, []problem.FieldError, error) {
	fail := func(f, msg string) (*uuid.UUID, []problem.FieldError, error) {
		return nil, []problem.FieldError{{Field: f, Message: msg}}, nil
	}
	if c.Pipeline == "" {
		if c.Template == pipeline.CustomTemplate || c.Custom != nil {
			return fail(field+".pipeline", "a custom pipeline is saved first (POST /v1/pipelines) and named here")
		}
		return nil, nil, nil
	}
	if c.Template != "" || c.Custom != nil {
		return fail(field, "name a saved pipeline or a template, not both")
	}
	p, err := tx.Pipeline(ctx, c.Pipeline, c.Version)
	if errors.Is(err, store.ErrNotFound) {
		return fail(field+".pipeline", "your tenant has no pipeline "+strconv.Quote(c.Pipeline)+versionNote(c.Version)+" (GET /v1/pipelines lists them)")
	}
	if err != nil {
		return nil, nil, err
	}
	c.Template, c.Version, c.Custom = pipeline.CustomTemplate, p.Version, &p.Definition
	return &p.ID, nil, nil
}

func versionNote(v int) string {
	if v == 0 {
		return ""
	}
	return " at version " + strconv.Itoa(v)
}
