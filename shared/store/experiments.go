package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/pipeline"
)

// PipelineChoice is one variant's pipeline: an embedded template and its parameters, or a
// tenant's own pipeline (Pipeline) — which the API resolves at creation into its version and a
// copy of its processors (template "custom"), so that what an experiment ran never changes.
type PipelineChoice struct {
	Template   string         `json:"template,omitempty"`   // template name, e.g. process-topk, or custom
	Parameters map[string]any `json:"parameters,omitempty"` // validated against the template
	Pipeline   string         `json:"pipeline,omitempty"`   // a saved pipeline's name
	Version    int            `json:"version,omitempty"`    // its version: 0 asks for the newest
	// Custom is the saved pipeline's processors, copied at creation.
	Custom *pipeline.Custom `json:"custom,omitempty"`
}

// Request is what rendering c takes from c itself: its template, its parameters (the critical
// processes filled in where the template takes them and c names none), and its processors. The
// caller says for which experiment, variant, target and output it renders.
func (c PipelineChoice) Request(critical []string) pipeline.Request {
	return pipeline.Request{Template: c.Template, Params: pipeline.ParamsFor(c.Template, c.Parameters, critical), Custom: c.Custom}
}

// NewExperiment is what a caller supplies to create an experiment.
type NewExperiment struct {
	Name            string          // 1-100 characters
	Description     string          // free text
	Baseline        PipelineChoice  // the pipeline running today
	Candidate       PipelineChoice  // the cheaper pipeline under test
	Spec            experiment.Spec // targets, critical processes, criteria (validated by the caller)
	DurationSeconds int             // how long both variants run before analysis
	CreatedBy       string          // subject of the caller's token
	// BaselinePipeline and CandidatePipeline are the saved pipeline versions the variants run,
	// when they run one.
	BaselinePipeline, CandidatePipeline *uuid.UUID
	// Recommendation is the recommendation the experiment confirms, when it was started from one.
	Recommendation *uuid.UUID
}

// Experiment is an experiment as stored.
type Experiment struct {
	ID              uuid.UUID        `json:"id"`
	TenantID        uuid.UUID        `json:"tenant_id"`
	Name            string           `json:"name"`
	Description     string           `json:"description"`
	State           experiment.State `json:"state"`
	Baseline        PipelineChoice   `json:"baseline"`
	Candidate       PipelineChoice   `json:"candidate"`
	Spec            experiment.Spec  `json:"spec"` // decoded once, here: every reader gets the typed spec
	DurationSeconds int              `json:"duration_seconds"`
	// PlannedDurationSeconds is the duration the experiment was created with; DurationSeconds
	// grows when the analysis extends the run.
	PlannedDurationSeconds int        `json:"planned_duration_seconds"`
	CreatedBy              string     `json:"created_by"`
	Verdict                *string    `json:"verdict,omitempty"`
	FailureReason          *string    `json:"failure_reason,omitempty"`
	Version                int64      `json:"version"`
	StateChangedAt         time.Time  `json:"state_changed_at"`
	RunStartedAt           *time.Time `json:"run_started_at,omitempty"`
	CreatedAt              time.Time  `json:"created_at"`
	// RecommendationID is the recommendation the experiment confirms, when it was started from one.
	RecommendationID *uuid.UUID `json:"recommendation_id,omitempty"`
}

// Schedule is what the clock needs to know of e.
func (e Experiment) Schedule() experiment.Schedule {
	return experiment.Schedule{State: e.State, StateChangedAt: e.StateChangedAt, RunStartedAt: e.RunStartedAt,
		Duration: time.Duration(e.DurationSeconds) * time.Second}
}

const experimentColumns = `id, tenant_id, name, description, state, baseline, candidate, spec,
	duration_seconds, coalesce(planned_duration_seconds, duration_seconds), created_by, verdict, failure_reason, version,
	state_changed_at, run_started_at, created_at, recommendation_id`

func scanExperiment(row pgx.Row) (Experiment, error) {
	var e Experiment
	err := row.Scan(&e.ID, &e.TenantID, &e.Name, &e.Description, &e.State, &e.Baseline, &e.Candidate,
		&e.Spec, &e.DurationSeconds, &e.PlannedDurationSeconds, &e.CreatedBy, &e.Verdict, &e.FailureReason, &e.Version,
		&e.StateChangedAt, &e.RunStartedAt, &e.CreatedAt, &e.RecommendationID)
	return e, err
}

// CreateExperiment stores a new experiment in state pending.
func (tx *Tx) CreateExperiment(ctx context.Context, n NewExperiment) (Experiment, error) {
	e, err := scanExperiment(tx.QueryRow(ctx, `INSERT INTO experiments
		(tenant_id, name, description, baseline, candidate, spec, duration_seconds, planned_duration_seconds, created_by,
		 baseline_pipeline_id, candidate_pipeline_id, recommendation_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9, $10, $11) RETURNING `+experimentColumns,
		tx.tenant, n.Name, n.Description, n.Baseline, n.Candidate, n.Spec, n.DurationSeconds, n.CreatedBy,
		n.BaselinePipeline, n.CandidatePipeline, n.Recommendation))
	if err != nil {
		return Experiment{}, fmt.Errorf("create experiment %q: %w", n.Name, err)
	}
	return e, nil
}

// Experiment reads one experiment of the transaction's tenant; ErrNotFound if it has none by id.
func (tx *Tx) Experiment(ctx context.Context, id uuid.UUID) (Experiment, error) {
	e, err := scanExperiment(tx.QueryRow(ctx, `SELECT `+experimentColumns+` FROM experiments
		WHERE tenant_id = $1 AND id = $2`, tx.tenant, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Experiment{}, fmt.Errorf("experiment %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Experiment{}, fmt.Errorf("read experiment %s: %w", id, err)
	}
	return e, nil
}

// ExperimentFilter narrows a listing; the zero value lists the newest 50 of any state.
type ExperimentFilter struct {
	State experiment.State // only this state when not empty
	Limit int              // page size, 1-200 (default 50)
	After *Cursor          // keyset cursor: only experiments listed after this one
}

// Cursor is a position in the newest-first listing of experiments: creation time, then id, so
// experiments created in the same instant are neither skipped nor repeated across pages.
type Cursor struct {
	CreatedAt time.Time // the last listed experiment's creation time
	ID        uuid.UUID // the last listed experiment's id
}

// Experiments lists the tenant's experiments, newest first.
func (tx *Tx) Experiments(ctx context.Context, f ExperimentFilter) ([]Experiment, error) {
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	var at *time.Time
	var id *uuid.UUID
	if f.After != nil {
		at, id = &f.After.CreatedAt, &f.After.ID
	}
	return collect(ctx, tx.Tx, "list experiments", scanExperiment, `SELECT `+experimentColumns+` FROM experiments
		WHERE tenant_id = $1 AND ($2 = '' OR state = $2)
		  AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4::uuid))
		ORDER BY created_at DESC, id DESC LIMIT $5`, tx.tenant, string(f.State), at, id, f.Limit)
}

// ErrStateChanged means the experiment was no longer in the expected state: another delivery or
// replica moved it first.
var ErrStateChanged = errors.New("experiment state changed concurrently")

// SetVerdict records the analysis verdict of an experiment.
func (tx *Tx) SetVerdict(ctx context.Context, id uuid.UUID, verdict string) error {
	if _, err := tx.Exec(ctx, `UPDATE experiments SET verdict = $3, updated_at = now()
		WHERE tenant_id = $1 AND id = $2`, tx.tenant, id, verdict); err != nil {
		return fmt.Errorf("record verdict of %s: %w", id, err)
	}
	return nil
}

// ScheduledExperiment is the scheduler's view of an active experiment: ids and times only.
type ScheduledExperiment struct {
	TenantID uuid.UUID           // whose experiment
	ID       uuid.UUID           // which experiment
	Schedule experiment.Schedule // what the clock needs to know
}

// ActiveExperiments lists, across tenants, every experiment in a state that time can move.
func (tx *PlatformTx) ActiveExperiments(ctx context.Context) ([]ScheduledExperiment, error) {
	return collect(ctx, tx.Tx, "list active experiments", func(r pgx.Row) (ScheduledExperiment, error) {
		var e ScheduledExperiment
		var secs int
		var baseline, candidate *time.Time
		if err := r.Scan(&e.TenantID, &e.ID, &e.Schedule.State, &e.Schedule.StateChangedAt, &e.Schedule.RunStartedAt, &secs,
			&baseline, &candidate); err != nil {
			return e, err
		}
		e.Schedule.Duration = time.Duration(secs) * time.Second
		e.Schedule.Delivered = map[experiment.Variant]time.Time{}
		for v, at := range map[experiment.Variant]*time.Time{experiment.Baseline: baseline, experiment.Candidate: candidate} {
			if at != nil {
				e.Schedule.Delivered[v] = *at
			}
		}
		return e, nil
	}, `SELECT tenant_id, id, state, state_changed_at, run_started_at, duration_seconds,
			baseline_delivered_at, candidate_delivered_at
		FROM experiments WHERE state IN ('generating', 'deploying', 'running', 'analyzing')
		ORDER BY state_changed_at LIMIT 10000`)
}

// LockExperiment reads an experiment and locks its row until the transaction ends: concurrent
// deliveries for one experiment (two variants becoming ready at once) then run one after the other
// and each sees what the other wrote.
func (tx *Tx) LockExperiment(ctx context.Context, id uuid.UUID) (Experiment, error) {
	e, err := scanExperiment(tx.QueryRow(ctx, `SELECT `+experimentColumns+` FROM experiments
		WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, tx.tenant, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Experiment{}, fmt.Errorf("experiment %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Experiment{}, fmt.Errorf("lock experiment %s: %w", id, err)
	}
	return e, nil
}

// ExtendRun sets the run duration of an experiment to seconds (the analysis asked for more data).
func (tx *Tx) ExtendRun(ctx context.Context, id uuid.UUID, seconds int) error {
	tag, err := tx.Exec(ctx, `UPDATE experiments SET duration_seconds = $3, updated_at = now()
		WHERE tenant_id = $1 AND id = $2`, tx.tenant, id, seconds)
	if err != nil {
		return fmt.Errorf("extend the run of %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// RunSpan is what closing a KPI window needs to know of its experiment.
type RunSpan struct {
	Started           *time.Time // when the run started; nil if it never did
	Ended             *time.Time // when the run ended (the experiment left running); nil while it runs
	CriticalProcesses []string   // spec.critical_processes
	// Pipelines are the variants' pipeline choices (how often each scrapes its hosts).
	Pipelines map[experiment.Variant]PipelineChoice
}

// Complete reports whether the run spanned the whole window [start, end).
func (r RunSpan) Complete(start, end time.Time) bool {
	if r.Started == nil || start.Before(*r.Started) {
		return false
	}
	return r.Ended == nil || !end.After(*r.Ended)
}

// ExperimentRun reads an experiment's run span, critical processes and pipelines; ErrNotFound if
// the tenant has no such experiment.
func (tx *Tx) ExperimentRun(ctx context.Context, experimentID uuid.UUID) (RunSpan, error) {
	var r RunSpan
	var critical []byte
	var baseline, candidate PipelineChoice
	err := tx.QueryRow(ctx, `SELECT run_started_at, run_ended_at, coalesce(spec->'critical_processes', '[]'), baseline, candidate
		FROM experiments WHERE tenant_id = $1 AND id = $2`, tx.tenant, experimentID).Scan(&r.Started, &r.Ended, &critical, &baseline, &candidate)
	r.Pipelines = map[experiment.Variant]PipelineChoice{experiment.Baseline: baseline, experiment.Candidate: candidate}
	r, err = found(r, err, "experiment "+experimentID.String())
	if err != nil {
		return RunSpan{}, err
	}
	if err := json.Unmarshal(critical, &r.CriticalProcesses); err != nil {
		return RunSpan{}, fmt.Errorf("critical processes of %s: %w", experimentID, err)
	}
	return r, nil
}
