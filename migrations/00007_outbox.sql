-- The controller's outbox: follow-up events that a tick decided on, written in the same
-- transaction as the move and sent to the broker afterwards. A row stays unsent until the broker
-- has accepted it, so a broker outage delays follow-ups but never loses them; every tick drains
-- what is left.

-- +goose Up
CREATE TABLE outbox (
    tenant_id  uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         uuid        NOT NULL DEFAULT gen_random_uuid(),
    event      json        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX outbox_tenant_unsent_idx ON outbox (tenant_id, created_at) WHERE sent_at IS NULL;

ALTER TABLE outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON outbox FOR ALL TO phoenix_app
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE ON outbox TO phoenix_app;

-- Draining spans tenants: the platform role may read the rows and mark them sent, nothing else.
CREATE POLICY platform_drain_read ON outbox FOR SELECT TO phoenix_platform USING (true);
CREATE POLICY platform_drain_mark ON outbox FOR UPDATE TO phoenix_platform USING (true) WITH CHECK (true);
GRANT SELECT (tenant_id, id, event, created_at, sent_at), UPDATE (sent_at) ON outbox TO phoenix_platform;

-- The workload status that was last applied, so an older update arriving late is ignored.
ALTER TABLE experiment_workloads ADD COLUMN resource_version bigint NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE experiment_workloads DROP COLUMN resource_version;
REVOKE SELECT (tenant_id, id, event, created_at, sent_at), UPDATE (sent_at) ON outbox FROM phoenix_platform;
DROP TABLE outbox;
