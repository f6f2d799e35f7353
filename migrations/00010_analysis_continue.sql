-- An analysis may conclude that the run should gather more data ("continue"): the controller
-- extends the run and asks again. Only analysis_results records it; an experiment's own verdict
-- stays one of the final three.

-- +goose Up
ALTER TABLE analysis_results DROP CONSTRAINT analysis_results_verdict_check;
ALTER TABLE analysis_results ADD CONSTRAINT analysis_results_verdict_check
    CHECK (verdict IN ('promote', 'reject', 'inconclusive', 'continue'));

-- +goose Down
-- Interim "continue" results cannot be expressed in the older schema; they are removed.
DELETE FROM analysis_results WHERE verdict = 'continue';
ALTER TABLE analysis_results DROP CONSTRAINT analysis_results_verdict_check;
ALTER TABLE analysis_results ADD CONSTRAINT analysis_results_verdict_check
    CHECK (verdict IN ('promote', 'reject', 'inconclusive'));
