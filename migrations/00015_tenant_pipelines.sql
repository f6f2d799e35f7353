-- A tenant's own pipelines: named, versioned processor chains (shared/pipeline.Custom). Saving a
-- name again adds a version; a version never changes, so an experiment that names the row it ran
-- (baseline_pipeline_id, candidate_pipeline_id) and copies its definition can always be read back
-- as it ran. The table has had row-level security since 00005.

-- +goose Up
ALTER TABLE pipelines DROP CONSTRAINT pipelines_tenant_id_name_key;
ALTER TABLE pipelines
    ADD COLUMN version    integer NOT NULL DEFAULT 1 CHECK (version BETWEEN 1 AND 1000000),
    ADD COLUMN definition jsonb   CHECK (definition IS NULL OR (jsonb_typeof(definition) = 'object'
                                         AND octet_length(definition::text) <= 131072)),
    ADD COLUMN created_by text    NOT NULL DEFAULT '' CHECK (length(created_by) <= 200),
    ADD CONSTRAINT pipelines_tenant_id_name_version_key UNIQUE (tenant_id, name, version),
    ADD CONSTRAINT pipelines_name_slug CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,99}$');
-- Versions are immutable.
REVOKE UPDATE ON pipelines FROM phoenix_app;

-- +goose Down
GRANT UPDATE ON pipelines TO phoenix_app;
ALTER TABLE pipelines
    DROP CONSTRAINT pipelines_name_slug,
    DROP CONSTRAINT pipelines_tenant_id_name_version_key,
    DROP COLUMN created_by,
    DROP COLUMN definition,
    DROP COLUMN version;
ALTER TABLE pipelines ADD CONSTRAINT pipelines_tenant_id_name_key UNIQUE (tenant_id, name);
