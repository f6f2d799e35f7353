-- Experiments and everything they produce: the pipelines they compare, their transitions, the
-- manifests generated for each variant, the KPI samples measured per window and the analysis
-- results. All tenant-owned and keyed on (tenant_id, id).

-- +goose Up
-- A saved pipeline choice: one of the embedded templates plus validated parameters.
CREATE TABLE pipelines (
    tenant_id   uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid        NOT NULL DEFAULT gen_random_uuid(),
    name        text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    template    text        NOT NULL CHECK (template ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    parameters  jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(parameters) = 'object'),
    description text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name)
);

CREATE TABLE experiments (
    tenant_id             uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id                    uuid        NOT NULL DEFAULT gen_random_uuid(),
    name                  text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    description           text        NOT NULL DEFAULT '',
    state                 text        NOT NULL DEFAULT 'pending' CHECK (state IN (
                              'pending', 'generating', 'deploying', 'running', 'analyzing',
                              'completed', 'failed', 'cancelled', 'promoted', 'rolled_back')),
    -- Each variant's pipeline as {template, parameters}; copied at creation so that editing a saved
    -- pipeline later never changes what an experiment ran.
    baseline              jsonb       NOT NULL CHECK (jsonb_typeof(baseline) = 'object'),
    candidate             jsonb       NOT NULL CHECK (jsonb_typeof(candidate) = 'object'),
    baseline_pipeline_id  uuid,
    candidate_pipeline_id uuid,
    -- Targets, critical processes, success criteria: validated by the API, read by the functions.
    spec                  jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(spec) = 'object'),
    duration_seconds      integer     NOT NULL CHECK (duration_seconds BETWEEN 60 AND 604800),
    created_by            text        NOT NULL,
    verdict               text        CHECK (verdict IN ('promote', 'reject', 'inconclusive')),
    failure_reason        text,
    state_changed_at      timestamptz NOT NULL DEFAULT now(),
    run_started_at        timestamptz,
    run_ended_at          timestamptz,
    -- The number of transitions so far: the next transition's seq is version + 1.
    version               bigint      NOT NULL DEFAULT 0,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, baseline_pipeline_id) REFERENCES pipelines (tenant_id, id),
    FOREIGN KEY (tenant_id, candidate_pipeline_id) REFERENCES pipelines (tenant_id, id)
);
CREATE INDEX experiments_tenant_state_idx ON experiments (tenant_id, state, created_at DESC, id DESC);
CREATE INDEX experiments_tenant_created_idx ON experiments (tenant_id, created_at DESC, id DESC);

CREATE TABLE experiment_transitions (
    tenant_id          uuid        NOT NULL,
    id                 uuid        NOT NULL DEFAULT gen_random_uuid(),
    experiment_id      uuid        NOT NULL,
    -- Gap-free order within the experiment (the experiment's version after the move).
    seq                bigint      NOT NULL CHECK (seq > 0),
    from_state         text        NOT NULL,
    to_state           text        NOT NULL,
    cause_event_id     text        NOT NULL,
    cause_event_source text        NOT NULL,
    reason             text        NOT NULL DEFAULT '',
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, experiment_id, seq),
    FOREIGN KEY (tenant_id, experiment_id) REFERENCES experiments (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE manifests (
    tenant_id      uuid        NOT NULL,
    id             uuid        NOT NULL DEFAULT gen_random_uuid(),
    experiment_id  uuid        NOT NULL,
    variant        text        NOT NULL CHECK (variant IN ('baseline', 'candidate')),
    kind           text        NOT NULL,
    name           text        NOT NULL,
    content        text        NOT NULL,
    content_sha256 bytea       NOT NULL CHECK (length(content_sha256) = 32),
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, experiment_id, variant, kind, name),
    FOREIGN KEY (tenant_id, experiment_id) REFERENCES experiments (tenant_id, id) ON DELETE CASCADE
);

-- One KPI of one variant over one closed measurement window.
CREATE TABLE kpi_samples (
    tenant_id     uuid             NOT NULL,
    experiment_id uuid             NOT NULL,
    variant       text             NOT NULL CHECK (variant IN ('baseline', 'candidate')),
    metric        text             NOT NULL CHECK (metric ~ '^[a-z][a-z0-9_]{0,62}$'),
    window_start  timestamptz      NOT NULL,
    window_end    timestamptz      NOT NULL,
    value         double precision NOT NULL,
    created_at    timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, experiment_id, variant, metric, window_start),
    CHECK (window_end > window_start),
    FOREIGN KEY (tenant_id, experiment_id) REFERENCES experiments (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE analysis_results (
    tenant_id      uuid        NOT NULL,
    id             uuid        NOT NULL DEFAULT gen_random_uuid(),
    experiment_id  uuid        NOT NULL,
    cause_event_id text        NOT NULL,
    verdict        text        NOT NULL CHECK (verdict IN ('promote', 'reject', 'inconclusive')),
    -- The full per-metric report: tests, intervals, corrections, windows used.
    report         jsonb       NOT NULL CHECK (jsonb_typeof(report) = 'object'),
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, experiment_id, cause_event_id),
    FOREIGN KEY (tenant_id, experiment_id) REFERENCES experiments (tenant_id, id) ON DELETE CASCADE
);

-- +goose Down
DROP TABLE analysis_results;
DROP TABLE kpi_samples;
DROP TABLE manifests;
DROP TABLE experiment_transitions;
DROP TABLE experiments;
DROP TABLE pipelines;
