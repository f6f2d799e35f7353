-- Collector liveness: while an experiment runs, each variant must keep delivering. The ingest
-- function stamps, per variant, the end of the newest window it stored; the controller's clock
-- fails a run whose variant has been silent longer than PHOENIX_TIMEOUT_SILENCE (a collector
-- exited, its node was lost, the platform restarted without it, its token was revoked) instead
-- of letting it run to a verdict measured on nothing. On the experiment row, not read from
-- kpi_windows, so the clock's cross-tenant read stays on the experiments' scheduling columns.

-- +goose Up
ALTER TABLE experiments
    ADD COLUMN baseline_delivered_at  timestamptz,
    ADD COLUMN candidate_delivered_at timestamptz;
GRANT SELECT (baseline_delivered_at, candidate_delivered_at) ON experiments TO phoenix_platform;

-- +goose Down
REVOKE SELECT (baseline_delivered_at, candidate_delivered_at) ON experiments FROM phoenix_platform;
ALTER TABLE experiments
    DROP COLUMN candidate_delivered_at,
    DROP COLUMN baseline_delivered_at;
