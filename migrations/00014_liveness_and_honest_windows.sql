-- Collector liveness: while an experiment runs, each variant must keep delivering. The ingest
-- function stamps, per variant, the end of the newest window it stored; the controller's clock
-- fails a run whose variant has been silent longer than PHOENIX_TIMEOUT_SILENCE (a collector
-- exited, its node was lost, the platform restarted without it, its token was revoked) instead
-- of letting it run to a verdict measured on nothing. On the experiment row, not read from
-- kpi_windows, so the clock's cross-tenant read stays on the experiments' scheduling columns.

--
-- Honest windows: a window whose data is known to be partial is stored incomplete, with the
-- reason (incomplete_reason), and the analysis leaves it out: a collector restarted in it, or the
-- ingest store (Redis) lost its memory after it began, taking what had arrived with it.

-- A window's data can also turn out partial after it was stored: data for it that comes after it
-- closed (beyond PHOENIX_KPI_LATENESS) is not counted, and the window is marked incomplete then —
-- the only change a stored window may see.

-- +goose Up
ALTER TABLE kpi_windows ADD COLUMN incomplete_reason text CHECK (length(incomplete_reason) <= 500);
GRANT UPDATE (complete, incomplete_reason) ON kpi_windows TO phoenix_app;
ALTER TABLE experiments
    ADD COLUMN baseline_delivered_at  timestamptz,
    ADD COLUMN candidate_delivered_at timestamptz;
GRANT SELECT (baseline_delivered_at, candidate_delivered_at) ON experiments TO phoenix_platform;

-- +goose Down
REVOKE UPDATE (complete, incomplete_reason) ON kpi_windows FROM phoenix_app;
ALTER TABLE kpi_windows DROP COLUMN incomplete_reason;
REVOKE SELECT (baseline_delivered_at, candidate_delivered_at) ON experiments FROM phoenix_platform;
ALTER TABLE experiments
    DROP COLUMN candidate_delivered_at,
    DROP COLUMN baseline_delivered_at;
