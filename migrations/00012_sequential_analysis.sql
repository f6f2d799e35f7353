-- Sequential analysis: the analyzer looks at an experiment as each KPI window closes (live looks)
-- and when its planned run or an extension is over (due looks). Every look is kept, so the live
-- view and the console can show an interval narrowing window by window, and so the analyzer knows
-- which due look it is taking (each spends its own share of the error budget). The split of that
-- budget is fixed by the run's planned length, which extensions must not move: it is kept apart
-- from duration_seconds, which they lengthen. A comparison whose two collectors did not receive
-- the same input ends with the verdict "invalid".

-- +goose Up
-- NULL (rows from before, or inserted without it) reads as duration_seconds: not yet extended.
ALTER TABLE experiments ADD COLUMN planned_duration_seconds integer
    CHECK (planned_duration_seconds BETWEEN 60 AND 604800);

CREATE TABLE analysis_looks (
    tenant_id      uuid        NOT NULL,
    experiment_id  uuid        NOT NULL,
    kind           text        NOT NULL CHECK (kind IN ('live', 'planned', 'extension')),
    windows        integer     NOT NULL CHECK (windows >= 0),
    cause_event_id text        NOT NULL,
    verdict        text        NOT NULL CHECK (verdict IN ('promote', 'reject', 'inconclusive', 'continue', 'invalid')),
    -- The look as the gateway streams it: per metric the change and its interval, the verdict.
    look           jsonb       NOT NULL CHECK (jsonb_typeof(look) = 'object'),
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, experiment_id, cause_event_id),
    FOREIGN KEY (tenant_id, experiment_id) REFERENCES experiments (tenant_id, id) ON DELETE CASCADE
);
-- One live look per number of paired windows: the second variant's window closing, or a window
-- closed twice, does not look again at what was looked at.
CREATE UNIQUE INDEX analysis_looks_live ON analysis_looks (tenant_id, experiment_id, windows) WHERE kind = 'live';

ALTER TABLE analysis_looks ENABLE ROW LEVEL SECURITY;
ALTER TABLE analysis_looks FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON analysis_looks FOR ALL TO phoenix_app
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
-- A look is a record of what was seen: written once, never changed.
GRANT SELECT, INSERT ON analysis_looks TO phoenix_app;

-- Every look reads what both collectors received (the input-parity check): one pass over this
-- covering index instead of the whole window rows, 100 ms for 500,000 windows instead of 300.
CREATE INDEX kpi_windows_parity ON kpi_windows (tenant_id, experiment_id, variant, window_start)
    INCLUDE (complete, received_points, received_seconds, refused_points, restarts);
-- …and the candidate's windows that lacked a critical process, the only ones that can hold a
-- miss: none in a run that keeps them all, so the read costs nothing.
CREATE INDEX kpi_windows_gaps ON kpi_windows (tenant_id, experiment_id, window_start)
    WHERE variant = 'candidate' AND complete AND cardinality(critical_missing) > 0;

ALTER TABLE analysis_results DROP CONSTRAINT analysis_results_verdict_check;
ALTER TABLE analysis_results ADD CONSTRAINT analysis_results_verdict_check
    CHECK (verdict IN ('promote', 'reject', 'inconclusive', 'continue', 'invalid'));
ALTER TABLE experiments DROP CONSTRAINT experiments_verdict_check;
ALTER TABLE experiments ADD CONSTRAINT experiments_verdict_check
    CHECK (verdict IN ('promote', 'reject', 'inconclusive', 'invalid'));

-- +goose Down
-- An invalid comparison cannot be expressed in the older schema: it becomes inconclusive.
UPDATE experiments SET verdict = 'inconclusive' WHERE verdict = 'invalid';
UPDATE analysis_results SET verdict = 'inconclusive' WHERE verdict = 'invalid';
ALTER TABLE experiments DROP CONSTRAINT experiments_verdict_check;
ALTER TABLE experiments ADD CONSTRAINT experiments_verdict_check
    CHECK (verdict IN ('promote', 'reject', 'inconclusive'));
ALTER TABLE analysis_results DROP CONSTRAINT analysis_results_verdict_check;
ALTER TABLE analysis_results ADD CONSTRAINT analysis_results_verdict_check
    CHECK (verdict IN ('promote', 'reject', 'inconclusive', 'continue'));
DROP INDEX kpi_windows_gaps;
DROP INDEX kpi_windows_parity;
DROP TABLE analysis_looks;
ALTER TABLE experiments DROP COLUMN planned_duration_seconds;
