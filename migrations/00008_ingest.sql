-- Measurement: the ingest tokens collectors present when they send their output and their own
-- telemetry to Phoenix, and each closed KPI window with the raw counts it was computed from. The
-- KPI values the analyzer compares stay in kpi_samples, written in the same transaction as the
-- window they come from.

-- +goose Up
-- One ingest token, scoped to one variant of one experiment. Only the SHA-256 of the token is
-- kept: the token itself reaches the collector through a Kubernetes Secret or the local runner's
-- environment, never through a stored manifest.
CREATE TABLE ingest_tokens (
    tenant_id     uuid        NOT NULL,
    id            uuid        NOT NULL DEFAULT gen_random_uuid(),
    experiment_id uuid        NOT NULL,
    variant       text        NOT NULL CHECK (variant IN ('baseline', 'candidate')),
    token_sha256  bytea       NOT NULL CHECK (length(token_sha256) = 32),
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, token_sha256),
    CHECK (expires_at > created_at),
    FOREIGN KEY (tenant_id, experiment_id) REFERENCES experiments (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX ingest_tokens_tenant_experiment_idx ON ingest_tokens (tenant_id, experiment_id, variant);

-- One closed measurement window of one variant: what was counted, exactly. complete is false for
-- a window the run did not span entirely (its start or its end); such a window is kept here for
-- the record and the charts but gives no kpi_samples, so partial windows never bias the analysis.
CREATE TABLE kpi_windows (
    tenant_id           uuid             NOT NULL,
    experiment_id       uuid             NOT NULL,
    variant             text             NOT NULL CHECK (variant IN ('baseline', 'candidate')),
    window_start        timestamptz      NOT NULL,
    window_end          timestamptz      NOT NULL,
    complete            boolean          NOT NULL,
    series              bigint           NOT NULL CHECK (series >= 0),
    datapoints          bigint           NOT NULL CHECK (datapoints >= 0),
    payload_bytes       bigint           NOT NULL CHECK (payload_bytes >= 0),
    requests            bigint           NOT NULL CHECK (requests >= 0),
    rejected_datapoints bigint           NOT NULL CHECK (rejected_datapoints >= 0),
    critical_covered    text[]           NOT NULL DEFAULT '{}',
    critical_missing    text[]           NOT NULL DEFAULT '{}',
    -- The collectors' own figures, NULL when no self-telemetry (or no CPU interval) arrived.
    collector_cpu       double precision,
    collector_memory    double precision,
    collectors          integer          NOT NULL DEFAULT 0 CHECK (collectors >= 0),
    -- Every KPI of the window by name (the same values kpi_samples holds for a complete window).
    kpis                jsonb            NOT NULL CHECK (jsonb_typeof(kpis) = 'object'),
    closed_at           timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, experiment_id, variant, window_start),
    CHECK (window_end > window_start),
    FOREIGN KEY (tenant_id, experiment_id) REFERENCES experiments (tenant_id, id) ON DELETE CASCADE
);

ALTER TABLE ingest_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE ingest_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ingest_tokens FOR ALL TO phoenix_app
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
-- Tokens are issued and revoked, never edited otherwise or deleted (they go with the experiment).
GRANT SELECT, INSERT ON ingest_tokens TO phoenix_app;
GRANT UPDATE (revoked_at) ON ingest_tokens TO phoenix_app;

ALTER TABLE kpi_windows ENABLE ROW LEVEL SECURITY;
ALTER TABLE kpi_windows FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON kpi_windows FOR ALL TO phoenix_app
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
-- A closed window is a measurement: written once, never changed.
GRANT SELECT, INSERT ON kpi_windows TO phoenix_app;

-- +goose Down
DROP TABLE kpi_windows;
DROP TABLE ingest_tokens;
