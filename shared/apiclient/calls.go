package apiclient

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/phoenixotel/phoenix/shared/pipeline"
	"github.com/phoenixotel/phoenix/shared/store"
)

// Tokens is the API's answer to a login, a refresh or a client-credentials grant.
type Tokens struct {
	AccessToken  string `json:"access_token"`            // the bearer token
	TokenType    string `json:"token_type"`              // Bearer
	ExpiresIn    int    `json:"expires_in"`              // seconds the access token lives
	RefreshToken string `json:"refresh_token,omitempty"` // rotated on every refresh (users only)
}

// Login is the body of POST /v1/auth/login.
type Login struct {
	Tenant   string `json:"tenant"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

// NewPipeline is the body of POST /v1/pipelines: a tenant's own pipeline, saved as the next
// version of its name.
type NewPipeline struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Definition  pipeline.Custom `json:"definition"`
}

// ValidatePipeline is the body of POST /v1/pipelines/validate: a template and its parameters, or
// custom processors, rendered for a variant and a target (default candidate, kubernetes).
type ValidatePipeline struct {
	Template   string           `json:"template,omitempty"`
	Parameters map[string]any   `json:"parameters,omitempty"`
	Custom     *pipeline.Custom `json:"custom,omitempty"`
	Variant    string           `json:"variant,omitempty"`
	Target     string           `json:"target,omitempty"`
}

// NewCapture is the body of POST /v1/experiments/{id}/captures.
type NewCapture struct {
	Name            string `json:"name,omitempty"`             // default: "baseline of <experiment>"
	DurationSeconds int    `json:"duration_seconds,omitempty"` // 10-600; default 120
}

// Preview is the body of POST /v1/captures/{id}/preview: the pipeline to preview (a template with
// parameters, or a saved pipeline), and optionally another to compare it with.
type Preview struct {
	Pipeline store.PipelineChoice  `json:"pipeline"`
	Against  *store.PipelineChoice `json:"against,omitempty"`
}

// Recommend is the body of POST /v1/captures/{id}/recommendations: optionally the team's usage —
// Prometheus rule files (YAML) and Grafana dashboards (JSON), as text — so that nothing they
// query is dropped.
type Recommend struct {
	Rules      []string `json:"rules,omitempty"`
	Dashboards []string `json:"dashboards,omitempty"`
}

// NewExperiment is the body of POST /v1/experiments.
type NewExperiment struct {
	Name            string               `json:"name"`
	Description     string               `json:"description,omitempty"`
	Baseline        store.PipelineChoice `json:"baseline"`
	Candidate       store.PipelineChoice `json:"candidate"`
	DurationSeconds int                  `json:"duration_seconds"`
	Spec            json.RawMessage      `json:"spec,omitempty"` // experiment.Spec as JSON; decoded strictly by the API
	// AA runs the baseline's pipeline as the candidate too: an A/A run, whose report says whether
	// the platform's false-alarm rate holds.
	AA bool `json:"aa,omitempty"`
	// FromRecommendation starts the experiment that confirms a recommendation: its pipeline as
	// the candidate, and — where left out — the captured experiment's baseline, critical
	// processes and planned duration, and a name saying what it confirms.
	FromRecommendation string `json:"from_recommendation,omitempty"`
}

// ExperimentPage is one page of GET /v1/experiments; Next is the cursor of the following page.
type ExperimentPage struct {
	Items []store.Experiment `json:"items"`
	Next  string             `json:"next,omitempty"`
}

// Command is the body of POST /v1/experiments/{id}/{start,stop,promote,rollback}.
type Command struct {
	Reason string `json:"reason,omitempty"`
}

// Items is the API's answer listing an experiment's records.
type Items[T any] struct {
	Items []T `json:"items"`
}

// LogIn exchanges a password for tokens.
func (c *Client) LogIn(ctx context.Context, l Login) (Tokens, error) {
	var t Tokens
	return t, c.Call(ctx, http.MethodPost, "/v1/auth/login", l, &t)
}

// Refresh exchanges a refresh token for new tokens.
func (c *Client) Refresh(ctx context.Context, refreshToken string) (Tokens, error) {
	var t Tokens
	return t, c.Call(ctx, http.MethodPost, "/v1/auth/refresh", map[string]string{"refresh_token": refreshToken}, &t)
}

// CreateExperiment creates an experiment (pending).
func (c *Client) CreateExperiment(ctx context.Context, n NewExperiment) (store.Experiment, error) {
	var e store.Experiment
	return e, c.Call(ctx, http.MethodPost, "/v1/experiments", n, &e)
}

// Experiment reads one experiment.
func (c *Client) Experiment(ctx context.Context, id string) (store.Experiment, error) {
	var e store.Experiment
	return e, c.Call(ctx, http.MethodGet, "/v1/experiments/"+url.PathEscape(id), nil, &e)
}

// Experiments lists experiments, newest first, in state (any when empty), up to limit.
func (c *Client) Experiments(ctx context.Context, state string, limit int) (ExperimentPage, error) {
	q := url.Values{}
	if state != "" {
		q.Set("state", state)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var p ExperimentPage
	return p, c.Call(ctx, http.MethodGet, "/v1/experiments?"+q.Encode(), nil, &p)
}

// Transitions lists an experiment's transitions in order.
func (c *Client) Transitions(ctx context.Context, id string) ([]store.Transition, error) {
	var p Items[store.Transition]
	return p.Items, c.Call(ctx, http.MethodGet, "/v1/experiments/"+url.PathEscape(id)+"/transitions", nil, &p)
}

// KPIWindows lists an experiment's closed KPI windows of variant (both when empty), oldest first.
func (c *Client) KPIWindows(ctx context.Context, id, variant string) ([]store.KPIWindow, error) {
	q := url.Values{"limit": {"5000"}}
	if variant != "" {
		q.Set("variant", variant)
	}
	var p Items[store.KPIWindow]
	return p.Items, c.Call(ctx, http.MethodGet, "/v1/experiments/"+url.PathEscape(id)+"/kpis?"+q.Encode(), nil, &p)
}

// Act sends a command (start, stop, promote or rollback) and returns the experiment as it was
// when the command was accepted (the controller then makes the move).
func (c *Client) Act(ctx context.Context, id, verb, reason string) (store.Experiment, error) {
	var e store.Experiment
	return e, c.Call(ctx, http.MethodPost, "/v1/experiments/"+url.PathEscape(id)+"/"+url.PathEscape(verb), Command{Reason: reason}, &e)
}
