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
)

// PipelineChoice is one variant's pipeline: an embedded template and its parameters.
type PipelineChoice struct {
	Template   string         `json:"template"`             // template name, e.g. process-topk
	Parameters map[string]any `json:"parameters,omitempty"` // validated against the template
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
}

// Schedule is what the clock needs to know of e.
func (e Experiment) Schedule() experiment.Schedule {
	return experiment.Schedule{State: e.State, StateChangedAt: e.StateChangedAt, RunStartedAt: e.RunStartedAt,
		Duration: time.Duration(e.DurationSeconds) * time.Second}
}

const experimentColumns = `id, tenant_id, name, description, state, baseline, candidate, spec,
	duration_seconds, coalesce(planned_duration_seconds, duration_seconds), created_by, verdict, failure_reason, version,
	state_changed_at, run_started_at, created_at`

func scanExperiment(row pgx.Row) (Experiment, error) {
	var e Experiment
	err := row.Scan(&e.ID, &e.TenantID, &e.Name, &e.Description, &e.State, &e.Baseline, &e.Candidate,
		&e.Spec, &e.DurationSeconds, &e.PlannedDurationSeconds, &e.CreatedBy, &e.Verdict, &e.FailureReason, &e.Version,
		&e.StateChangedAt, &e.RunStartedAt, &e.CreatedAt)
	return e, err
}

// CreateExperiment stores a new experiment in state pending.
func (tx *Tx) CreateExperiment(ctx context.Context, n NewExperiment) (Experiment, error) {
	e, err := scanExperiment(tx.QueryRow(ctx, `INSERT INTO experiments
		(tenant_id, name, description, baseline, candidate, spec, duration_seconds, planned_duration_seconds, created_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8) RETURNING `+experimentColumns,
		tx.tenant, n.Name, n.Description, n.Baseline, n.Candidate, n.Spec, n.DurationSeconds, n.CreatedBy))
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
	rows, err := tx.Query(ctx, `SELECT `+experimentColumns+` FROM experiments
		WHERE tenant_id = $1 AND ($2 = '' OR state = $2)
		  AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4::uuid))
		ORDER BY created_at DESC, id DESC LIMIT $5`, tx.tenant, string(f.State), at, id, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("list experiments: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Experiment, error) { return scanExperiment(r) })
	if err != nil {
		return nil, fmt.Errorf("list experiments: %w", err)
	}
	return out, nil
}

// Transition is one recorded move of an experiment between states.
type Transition struct {
	Seq         int64            `json:"seq"`
	From        experiment.State `json:"from"`
	To          experiment.State `json:"to"`
	CauseID     string           `json:"cause_event_id"`
	CauseSource string           `json:"cause_event_source"`
	Reason      string           `json:"reason"`
	At          time.Time        `json:"at"`
}

// ErrStateChanged means the experiment was no longer in the expected state: another delivery or
// replica moved it first.
var ErrStateChanged = errors.New("experiment state changed concurrently")

// Move changes an experiment from one state to another with compare-and-set on its current state
// and records the transition in the same transaction. It returns the transition's sequence number.
// The run starts when the experiment first enters running and ends each time it leaves it; a run
// extended after an analysis (analyzing → running) keeps its start and is open again, so the
// windows of the extension count, and its duration runs from the first start.
func (tx *Tx) Move(ctx context.Context, id uuid.UUID, from, to experiment.State, causeID, causeSource, reason string) (int64, error) {
	var seq int64
	err := tx.QueryRow(ctx, `UPDATE experiments
		SET state = $3, version = version + 1, state_changed_at = now(), updated_at = now(),
		    run_started_at = CASE WHEN $3 = 'running' THEN coalesce(run_started_at, now()) ELSE run_started_at END,
		    run_ended_at = CASE WHEN $4 = 'running' THEN now() WHEN $3 = 'running' THEN NULL ELSE run_ended_at END,
		    failure_reason = CASE WHEN $3 = 'failed' THEN $5 ELSE failure_reason END
		WHERE tenant_id = $1 AND id = $2 AND state = $4
		RETURNING version`, tx.tenant, id, to, from, reason).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("move experiment %s from %s to %s: %w", id, from, to, ErrStateChanged)
	}
	if err != nil {
		return 0, fmt.Errorf("move experiment %s: %w", id, err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO experiment_transitions
		(tenant_id, experiment_id, seq, from_state, to_state, cause_event_id, cause_event_source, reason)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, tx.tenant, id, seq, from, to, causeID, causeSource, reason)
	if err != nil {
		return 0, fmt.Errorf("record transition of %s: %w", id, err)
	}
	return seq, nil
}

// Transitions lists an experiment's transitions in order.
func (tx *Tx) Transitions(ctx context.Context, id uuid.UUID) ([]Transition, error) {
	rows, err := tx.Query(ctx, `SELECT seq, from_state, to_state, cause_event_id, cause_event_source, reason, created_at
		FROM experiment_transitions WHERE tenant_id = $1 AND experiment_id = $2 ORDER BY seq`, tx.tenant, id)
	if err != nil {
		return nil, fmt.Errorf("list transitions of %s: %w", id, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Transition, error) {
		var t Transition
		err := r.Scan(&t.Seq, &t.From, &t.To, &t.CauseID, &t.CauseSource, &t.Reason, &t.At)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("list transitions of %s: %w", id, err)
	}
	return out, nil
}

// SetVerdict records the analysis verdict of an experiment.
func (tx *Tx) SetVerdict(ctx context.Context, id uuid.UUID, verdict string) error {
	if _, err := tx.Exec(ctx, `UPDATE experiments SET verdict = $3, updated_at = now()
		WHERE tenant_id = $1 AND id = $2`, tx.tenant, id, verdict); err != nil {
		return fmt.Errorf("record verdict of %s: %w", id, err)
	}
	return nil
}

// WorkloadStatus is a variant's collector workload as last reported.
type WorkloadStatus struct {
	Variant experiment.Variant // baseline or candidate
	Kind    string             // DaemonSet or Deployment
	Name    string             // the workload's name
	Ready   bool               // rolled out and every pod ready
	Message string             // why not ready
	// ResourceVersion orders updates of one workload; 0 when unknown (always applied).
	ResourceVersion int64
}

// SetWorkload records a variant's workload status and returns whether both variants are ready.
func (tx *Tx) SetWorkload(ctx context.Context, id uuid.UUID, w WorkloadStatus) (bool, error) {
	// An update older than the one applied (a late delivery) changes nothing.
	_, err := tx.Exec(ctx, `INSERT INTO experiment_workloads (tenant_id, experiment_id, variant, kind, name, ready, message, resource_version)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (tenant_id, experiment_id, variant) DO UPDATE
		SET kind = EXCLUDED.kind, name = EXCLUDED.name, ready = EXCLUDED.ready, message = EXCLUDED.message,
		    resource_version = EXCLUDED.resource_version, observed_at = now()
		WHERE experiment_workloads.resource_version <= EXCLUDED.resource_version`,
		tx.tenant, id, w.Variant, w.Kind, w.Name, w.Ready, w.Message, w.ResourceVersion)
	if err != nil {
		return false, fmt.Errorf("record workload of %s: %w", id, err)
	}
	var ready int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM experiment_workloads
		WHERE tenant_id = $1 AND experiment_id = $2 AND ready`, tx.tenant, id).Scan(&ready); err != nil {
		return false, fmt.Errorf("read workloads of %s: %w", id, err)
	}
	return ready == 2, nil
}

// ScheduledExperiment is the scheduler's view of an active experiment: ids and times only.
type ScheduledExperiment struct {
	TenantID uuid.UUID           // whose experiment
	ID       uuid.UUID           // which experiment
	Schedule experiment.Schedule // what the clock needs to know
}

// ActiveExperiments lists, across tenants, every experiment in a state that time can move.
func (tx *PlatformTx) ActiveExperiments(ctx context.Context) ([]ScheduledExperiment, error) {
	rows, err := tx.Query(ctx, `SELECT tenant_id, id, state, state_changed_at, run_started_at, duration_seconds,
			baseline_delivered_at, candidate_delivered_at
		FROM experiments WHERE state IN ('generating', 'deploying', 'running', 'analyzing')
		ORDER BY state_changed_at LIMIT 10000`)
	if err != nil {
		return nil, fmt.Errorf("list active experiments: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ScheduledExperiment, error) {
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
	})
	if err != nil {
		return nil, fmt.Errorf("list active experiments: %w", err)
	}
	return out, nil
}

// DeadLetter is an event the broker gave up delivering.
type DeadLetter struct {
	ID          uuid.UUID       `json:"id"`
	ReceivedAt  time.Time       `json:"received_at"`
	EventID     string          `json:"event_id"`
	EventType   string          `json:"event_type"`
	EventSource string          `json:"event_source"`
	ErrorDest   string          `json:"error_dest"`           // the subscriber that failed
	ErrorCode   *int            `json:"error_code,omitempty"` // its last HTTP status
	ErrorData   string          `json:"error_data,omitempty"` // the start of its last answer
	Event       json.RawMessage `json:"event"`                // the event, structured JSON
}

// AddDeadLetter records a dead letter; the same event failing at the same subscriber is kept once.
// The error text is a subscriber's answer, cut short by the broker: it is made storable the way
// audit strings are.
func (tx *Tx) AddDeadLetter(ctx context.Context, d DeadLetter) error {
	d.ErrorData = clean(d.ErrorData, 4096)
	_, err := tx.Exec(ctx, `INSERT INTO dead_letters (tenant_id, event_id, event_type, event_source, error_dest, error_code, error_data, event)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
		tx.tenant, d.EventID, d.EventType, d.EventSource, d.ErrorDest, d.ErrorCode, d.ErrorData, d.Event)
	if err != nil {
		return fmt.Errorf("record dead letter %s: %w", d.EventID, err)
	}
	return nil
}

// DeadLetters lists the tenant's dead letters, newest first.
func (tx *Tx) DeadLetters(ctx context.Context, limit int) ([]DeadLetter, error) {
	rows, err := tx.Query(ctx, `SELECT id, received_at, event_id, event_type, event_source, error_dest, error_code, error_data, event
		FROM dead_letters WHERE tenant_id = $1 ORDER BY received_at DESC, id LIMIT $2`, tx.tenant, clampLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (DeadLetter, error) {
		var d DeadLetter
		err := r.Scan(&d.ID, &d.ReceivedAt, &d.EventID, &d.EventType, &d.EventSource, &d.ErrorDest, &d.ErrorCode, &d.ErrorData, &d.Event)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	return out, nil
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

// Enqueue writes an event to the outbox in this transaction; Outbox drains it after the commit.
func (tx *Tx) Enqueue(ctx context.Context, event json.RawMessage) error {
	if _, err := tx.Exec(ctx, `INSERT INTO outbox (tenant_id, event) VALUES ($1, $2)`, tx.tenant, event); err != nil {
		return fmt.Errorf("enqueue follow-up: %w", err)
	}
	return nil
}

// OutboxItem is an event waiting to be sent.
type OutboxItem struct {
	TenantID uuid.UUID       // whose event
	ID       uuid.UUID       // the outbox row
	Event    json.RawMessage // structured CloudEvent JSON
}

// DrainOutbox hands up to limit unsent events, oldest first and across tenants, to send, and
// marks each sent once send returns nil. It stops at the first failure: that row and the rest stay
// for the next drain. Rows are locked while being sent (SKIP LOCKED), so replicas draining at once
// never send one twice.
func (s *Store) DrainOutbox(ctx context.Context, limit int, send func(OutboxItem) error) (int, error) {
	sent := 0
	err := s.Platform(ctx, func(tx *PlatformTx) error {
		rows, err := tx.Query(ctx, `SELECT tenant_id, id, event FROM outbox WHERE sent_at IS NULL
			ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED`, limit)
		if err != nil {
			return fmt.Errorf("read outbox: %w", err)
		}
		items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (OutboxItem, error) {
			var it OutboxItem
			err := r.Scan(&it.TenantID, &it.ID, &it.Event)
			return it, err
		})
		if err != nil {
			return fmt.Errorf("read outbox: %w", err)
		}
		for _, it := range items {
			if err := send(it); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE outbox SET sent_at = now() WHERE tenant_id = $1 AND id = $2`, it.TenantID, it.ID); err != nil {
				return fmt.Errorf("mark outbox row sent: %w", err)
			}
			sent++
		}
		return nil
	})
	return sent, err
}

// ManifestRecord is one stored manifest of a variant.
type ManifestRecord struct {
	Variant experiment.Variant `json:"variant"`
	Kind    string             `json:"kind"`
	Name    string             `json:"name"`
	Content string             `json:"content"`
	SHA256  string             `json:"sha256"` // hex
}

// SaveManifests replaces what is stored for the experiment's variant with ms.
func (tx *Tx) SaveManifests(ctx context.Context, id uuid.UUID, variant experiment.Variant, ms []ManifestRecord, hashes [][]byte) error {
	if _, err := tx.Exec(ctx, `DELETE FROM manifests WHERE tenant_id = $1 AND experiment_id = $2 AND variant = $3`, tx.tenant, id, variant); err != nil {
		return fmt.Errorf("replace manifests of %s: %w", id, err)
	}
	for i, m := range ms {
		if _, err := tx.Exec(ctx, `INSERT INTO manifests (tenant_id, experiment_id, variant, kind, name, content, content_sha256)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, tx.tenant, id, variant, m.Kind, m.Name, m.Content, hashes[i]); err != nil {
			return fmt.Errorf("store manifest %s/%s of %s: %w", m.Kind, m.Name, id, err)
		}
	}
	return nil
}

// Manifests lists an experiment's stored manifests, baseline first, in a stable order.
func (tx *Tx) Manifests(ctx context.Context, id uuid.UUID) ([]ManifestRecord, error) {
	rows, err := tx.Query(ctx, `SELECT variant, kind, name, content, encode(content_sha256, 'hex') FROM manifests
		WHERE tenant_id = $1 AND experiment_id = $2 ORDER BY variant, created_at, kind`, tx.tenant, id)
	if err != nil {
		return nil, fmt.Errorf("list manifests of %s: %w", id, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ManifestRecord, error) {
		var m ManifestRecord
		err := r.Scan(&m.Variant, &m.Kind, &m.Name, &m.Content, &m.SHA256)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("list manifests of %s: %w", id, err)
	}
	return out, nil
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
