-- Durable revocations: every marker package revocation keeps in Redis is written here first, so a
-- Redis that loses its memory (a restart without persistence, a failover, an eviction) is rebuilt
-- from PostgreSQL instead of letting revoked access tokens live again. Redis stays the per-request
-- cache; these rows are the record it is rebuilt from.
--
-- A row lives only as long as a token it could refuse (expires_at), and each write deletes a
-- bounded batch of expired rows, so both tables stay as small as the last hour of revocations.

-- +goose Up
-- A tenant's markers: a login session ended (logout, refresh-token reuse), and the "valid after"
-- instants of a subject (password or role change, user or service account disabled) and of the
-- tenant itself (suspension).
CREATE TABLE revocations (
    tenant_id   uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind        text        NOT NULL CHECK (kind IN ('session', 'subject', 'tenant')),
    -- The session id or the subject (a user's or service account's id); '' for the tenant.
    target      text        NOT NULL CHECK (length(target) <= 128),
    -- Tokens issued before this instant are refused; NULL for a session, which ends whole.
    valid_after timestamptz,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, kind, target),
    CHECK ((kind = 'session') = (valid_after IS NULL)),
    CHECK ((kind = 'tenant') = (target = ''))
);
-- Pruning and the rebuild's read find a tenant's expired and live rows without a scan.
CREATE INDEX revocations_expiry ON revocations (tenant_id, expires_at);

ALTER TABLE revocations ENABLE ROW LEVEL SECURITY;
ALTER TABLE revocations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON revocations FOR ALL TO phoenix_app
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
-- UPDATE raises a "valid after" instant and extends an expiry; DELETE prunes expired rows.
GRANT SELECT, INSERT, UPDATE, DELETE ON revocations TO phoenix_app;

-- Single access tokens revoked at logout. The API revokes a token by its jti alone (a random
-- UUID, unique across tenants, that says nothing about its tenant or holder), so these rows carry
-- no tenant: the table is global like the role catalog, read and written in a transaction with no
-- tenant set. Row-level security still decides what the runtime role may do: add a marker, read
-- them, and delete only expired ones — never lift a live revocation.
CREATE TABLE revoked_tokens (
    jti        text        PRIMARY KEY CHECK (length(jti) BETWEEN 1 AND 128),
    expires_at timestamptz NOT NULL
);
CREATE INDEX revoked_tokens_expiry ON revoked_tokens (expires_at);

ALTER TABLE revoked_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE revoked_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY token_read ON revoked_tokens FOR SELECT TO phoenix_app USING (true);
CREATE POLICY token_revoke ON revoked_tokens FOR INSERT TO phoenix_app WITH CHECK (true);
CREATE POLICY token_prune ON revoked_tokens FOR DELETE TO phoenix_app USING (expires_at < now());
GRANT SELECT, INSERT, DELETE ON revoked_tokens TO phoenix_app;

-- +goose Down
DROP TABLE revoked_tokens;
DROP TABLE revocations;
