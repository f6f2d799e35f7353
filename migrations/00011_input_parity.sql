-- Input parity: what each variant's collectors received, before their processors, per KPI
-- window. Both pipelines scrape the same hosts, so their receivers should accept about the same
-- points; when they do not (a collector restarted, fell behind or was refused), comparing their
-- outputs compares different inputs, and the analysis must be able to tell (a sample-ratio-
-- mismatch check) from the window itself.
--
-- received_points and refused_points are the increase over the window of the collectors' own
-- otelcol_receiver_accepted_metric_points and otelcol_receiver_refused_metric_points, summed over
-- receivers and over the variant's collectors; NULL when no interval between two readings of a
-- collector ended in the window (no self-telemetry, or only first readings), as for
-- collector_cpu. received_seconds is the time those intervals span, summed likewise: readings
-- do not line up with windows (a window may end one interval or two, and a variant's first
-- interval starts inside a window), so the input is compared as points a collector-second,
-- not per window. restarts counts the collector restarts seen in the window (a collector's
-- cumulative counter fell or its process started anew); the interval across a restart adds
-- nothing. Windows closed before this migration have NULL and 0: no evidence, not evidence of
-- parity.

-- +goose Up
ALTER TABLE kpi_windows
    ADD COLUMN received_points bigint CHECK (received_points >= 0),
    ADD COLUMN received_seconds double precision CHECK (received_seconds >= 0),
    ADD COLUMN refused_points  bigint CHECK (refused_points >= 0),
    ADD COLUMN restarts        integer NOT NULL DEFAULT 0 CHECK (restarts >= 0);

-- +goose Down
ALTER TABLE kpi_windows
    DROP COLUMN restarts,
    DROP COLUMN refused_points,
    DROP COLUMN received_seconds,
    DROP COLUMN received_points;
