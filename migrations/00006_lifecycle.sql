-- The experiment lifecycle: each variant's collector workload as last reported (ApiServerSource or
-- the local deployer), dead letters recorded from the broker, and the scheduler's read-only view of
-- active experiments across tenants for the controller's ticks.

-- +goose Up
CREATE TABLE experiment_workloads (
    tenant_id     uuid        NOT NULL,
    experiment_id uuid        NOT NULL,
    variant       text        NOT NULL CHECK (variant IN ('baseline', 'candidate')),
    kind          text        NOT NULL,
    name          text        NOT NULL,
    ready         boolean     NOT NULL,
    message       text        NOT NULL DEFAULT '',
    observed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, experiment_id, variant),
    FOREIGN KEY (tenant_id, experiment_id) REFERENCES experiments (tenant_id, id) ON DELETE CASCADE
);

-- Events the broker gave up on, with why (Knative's knativeerror* extensions).
CREATE TABLE dead_letters (
    tenant_id    uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id           uuid        NOT NULL DEFAULT gen_random_uuid(),
    received_at  timestamptz NOT NULL DEFAULT now(),
    event_id     text        NOT NULL,
    event_type   text        NOT NULL,
    event_source text        NOT NULL,
    error_dest   text        NOT NULL DEFAULT '',
    error_code   integer,
    error_data   text        NOT NULL DEFAULT '' CHECK (length(error_data) <= 4096),
    event        json        NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, event_source, event_id, error_dest)
);
CREATE INDEX dead_letters_tenant_time_idx ON dead_letters (tenant_id, received_at DESC);

ALTER TABLE experiment_workloads ENABLE ROW LEVEL SECURITY;
ALTER TABLE experiment_workloads FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON experiment_workloads FOR ALL TO phoenix_app
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON experiment_workloads TO phoenix_app;

ALTER TABLE dead_letters ENABLE ROW LEVEL SECURITY;
ALTER TABLE dead_letters FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON dead_letters FOR ALL TO phoenix_app
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT ON dead_letters TO phoenix_app;

-- The controller's ticks must find, across tenants, experiments whose run or phase is over. The
-- platform role may read only the scheduling columns (no names, pipelines or results) and change
-- nothing; each move itself then happens in the tenant's own transaction.
CREATE POLICY platform_schedule ON experiments FOR SELECT TO phoenix_platform USING (true);
GRANT SELECT (tenant_id, id, state, state_changed_at, run_started_at, duration_seconds)
    ON experiments TO phoenix_platform;

-- +goose Down
REVOKE SELECT (tenant_id, id, state, state_changed_at, run_started_at, duration_seconds)
    ON experiments FROM phoenix_platform;
DROP POLICY platform_schedule ON experiments;
DROP TABLE dead_letters;
DROP TABLE experiment_workloads;
