-- Recommendations: pipelines proposed for a capture, each with the preview that justified it, kept
-- so that an experiment can be started from one (experiments.recommendation_id) and its report can
-- compare what was predicted with what was measured.

-- +goose Up
CREATE TABLE recommendations (
    tenant_id     uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id            uuid        NOT NULL DEFAULT gen_random_uuid(),
    -- The capture it was drawn from (gone once the capture is deleted; the preview stays).
    capture_id    uuid,
    -- The experiment whose baseline was captured: the baseline an experiment from it runs against.
    experiment_id uuid        NOT NULL,
    rank          integer     NOT NULL CHECK (rank BETWEEN 1 AND 100),
    name          text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    explanation   text        NOT NULL CHECK (length(explanation) <= 2000),
    choice        jsonb       NOT NULL CHECK (jsonb_typeof(choice) = 'object'),
    preview       jsonb       NOT NULL CHECK (jsonb_typeof(preview) = 'object'),
    created_by    text        NOT NULL CHECK (length(created_by) <= 200),
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, capture_id) REFERENCES captures (tenant_id, id) ON DELETE SET NULL (capture_id),
    FOREIGN KEY (tenant_id, experiment_id) REFERENCES experiments (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX recommendations_capture_idx ON recommendations (tenant_id, capture_id, created_at DESC);
ALTER TABLE recommendations ENABLE ROW LEVEL SECURITY;
ALTER TABLE recommendations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON recommendations FOR ALL TO phoenix_app
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT ON recommendations TO phoenix_app;
-- The capture's deletion sets capture_id to null as the table's owner would: the app may too.
GRANT UPDATE (capture_id) ON recommendations TO phoenix_app;

ALTER TABLE experiments ADD COLUMN recommendation_id uuid,
    ADD FOREIGN KEY (tenant_id, recommendation_id) REFERENCES recommendations (tenant_id, id) ON DELETE SET NULL (recommendation_id);

-- +goose Down
ALTER TABLE experiments DROP COLUMN recommendation_id;
DROP TABLE recommendations;
