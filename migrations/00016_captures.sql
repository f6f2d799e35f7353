-- Captures: a bounded sample of what an experiment's baseline really sends, kept so that a
-- pipeline can be previewed and recommended against real data (docs/pipelines.md). While a
-- capture is open (now < ends_at) the ingest function appends each accepted baseline request's
-- pipeline output (OTLP protobuf, self-telemetry left out) as a chunk, until max_bytes. A capture
-- is the tenant's, under row-level security; it is deleted on request or once past expires_at.

-- +goose Up
CREATE TABLE captures (
    tenant_id     uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id            uuid        NOT NULL DEFAULT gen_random_uuid(),
    name          text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    experiment_id uuid        NOT NULL,
    starts_at     timestamptz NOT NULL DEFAULT now(),
    ends_at       timestamptz NOT NULL,
    max_bytes     bigint      NOT NULL CHECK (max_bytes BETWEEN 1 AND 1073741824),
    bytes         bigint      NOT NULL DEFAULT 0 CHECK (bytes >= 0),
    requests      integer     NOT NULL DEFAULT 0 CHECK (requests >= 0),
    datapoints    bigint      NOT NULL DEFAULT 0 CHECK (datapoints >= 0),
    -- Requests that did not fit under max_bytes: the capture says it is truncated.
    dropped       integer     NOT NULL DEFAULT 0 CHECK (dropped >= 0),
    created_by    text        NOT NULL CHECK (length(created_by) <= 200),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    CHECK (ends_at > starts_at AND expires_at > ends_at),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, experiment_id) REFERENCES experiments (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX captures_open_idx ON captures (tenant_id, experiment_id, ends_at DESC);

CREATE TABLE capture_chunks (
    tenant_id   uuid        NOT NULL,
    capture_id  uuid        NOT NULL,
    seq         integer     NOT NULL CHECK (seq > 0),
    received_at timestamptz NOT NULL DEFAULT now(),
    -- An OTLP ExportMetricsServiceRequest, protobuf; PostgreSQL compresses it on disk.
    body        bytea       NOT NULL,
    PRIMARY KEY (tenant_id, capture_id, seq),
    FOREIGN KEY (tenant_id, capture_id) REFERENCES captures (tenant_id, id) ON DELETE CASCADE
);

-- +goose StatementBegin
DO $$
DECLARE
    t text;
    tenant_expr constant text := $e$tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid$e$;
BEGIN
    FOREACH t IN ARRAY ARRAY['captures', 'capture_chunks'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I FOR ALL TO phoenix_app USING (%s) WITH CHECK (%s)',
                       t, tenant_expr, tenant_expr);
    END LOOP;
END
$$;
-- +goose StatementEnd
GRANT SELECT, INSERT, DELETE ON captures, capture_chunks TO phoenix_app;
GRANT UPDATE (bytes, requests, datapoints, dropped) ON captures TO phoenix_app;

-- +goose Down
DROP TABLE capture_chunks;
DROP TABLE captures;
