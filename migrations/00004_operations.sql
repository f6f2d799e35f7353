-- Operational records: the audit log (append-only) and the ids of processed CloudEvents, which
-- make at-least-once delivery have exactly-once effects.

-- +goose Up
CREATE TABLE audit_log (
    tenant_id   uuid        NOT NULL REFERENCES tenants (id),
    id          bigint      GENERATED ALWAYS AS IDENTITY,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    actor_type  text        NOT NULL CHECK (actor_type IN ('user', 'service_account', 'system', 'anonymous')),
    actor_id    text        NOT NULL DEFAULT '',
    action      text        NOT NULL CHECK (length(action) BETWEEN 1 AND 100),
    outcome     text        NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
    severity    text        NOT NULL DEFAULT 'info' CHECK (severity IN ('info', 'warning', 'critical')),
    reason      text        NOT NULL DEFAULT '',
    source_ip   inet,
    user_agent  text        NOT NULL DEFAULT '' CHECK (length(user_agent) <= 512),
    request_id  text        NOT NULL DEFAULT '',
    -- Never a secret: callers record ids and names, not tokens or passwords.
    details     jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(details) = 'object'),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_log_tenant_time_idx ON audit_log (tenant_id, occurred_at DESC);
CREATE INDEX audit_log_tenant_action_idx ON audit_log (tenant_id, action, occurred_at DESC);
CREATE INDEX audit_log_tenant_actor_idx ON audit_log (tenant_id, actor_id, occurred_at DESC);

-- The runtime role is only granted SELECT and INSERT; this trigger keeps the log append-only for
-- every other role too, so a mistaken maintenance session cannot rewrite history.
-- +goose StatementBegin
CREATE FUNCTION audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

CREATE TABLE processed_events (
    tenant_id    uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- The function that processed it: one event may be consumed by several functions.
    consumer     text        NOT NULL,
    source       text        NOT NULL,
    event_id     text        NOT NULL,
    event_type   text        NOT NULL,
    -- applied, ignored (no longer applies), rejected; replayed deliveries answer the same.
    outcome      text        NOT NULL CHECK (outcome IN ('applied', 'ignored', 'rejected')),
    -- The reply as structured CloudEvent JSON, kept byte for byte (json, not jsonb) so that a
    -- redelivery answers exactly what the first delivery answered.
    reply        json,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, consumer, source, event_id)
);
CREATE INDEX processed_events_tenant_time_idx ON processed_events (tenant_id, processed_at);

-- +goose Down
DROP TABLE processed_events;
DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only();
