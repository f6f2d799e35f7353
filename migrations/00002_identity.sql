-- Identity: tenants, the role/permission catalog, users, service accounts and refresh-token
-- families. Every tenant-owned table keys on (tenant_id, id) so that a foreign key can only point
-- at a row of the same tenant; row-level security is added by 00005_multi_tenancy.

-- +goose Up
CREATE TABLE tenants (
    id                 uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    name               text        NOT NULL UNIQUE
                                   CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$'),
    status             text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    -- Tokens issued before this instant are refused (tenant suspension, mass revocation).
    tokens_valid_after timestamptz NOT NULL DEFAULT '-infinity',
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- The RBAC catalog is the same for every tenant: roles map to (resource, action) permissions.
CREATE TABLE roles (
    name        text PRIMARY KEY CHECK (name ~ '^[a-z][a-z-]{1,40}$'),
    description text NOT NULL,
    -- Platform roles act above tenants (tenant management); tenant roles act within one.
    platform    boolean NOT NULL DEFAULT false
);

CREATE TABLE permissions (
    resource text NOT NULL CHECK (resource ~ '^[a-z][a-z-]{1,40}$'),
    action   text NOT NULL CHECK (action ~ '^[a-z][a-z-]{1,40}$'),
    PRIMARY KEY (resource, action)
);

CREATE TABLE role_permissions (
    role     text NOT NULL REFERENCES roles (name) ON DELETE CASCADE,
    resource text NOT NULL,
    action   text NOT NULL,
    PRIMARY KEY (role, resource, action),
    FOREIGN KEY (resource, action) REFERENCES permissions (resource, action) ON DELETE CASCADE
);

INSERT INTO roles (name, description, platform) VALUES
    ('viewer',         'reads experiments, pipelines and results of the tenant', false),
    ('operator',       'creates and runs experiments and pipelines of the tenant', false),
    ('admin',          'manages users, service accounts and audit of the tenant', false),
    ('platform-admin', 'manages tenants across the platform', true);

INSERT INTO permissions (resource, action) VALUES
    ('experiment', 'read'), ('experiment', 'create'), ('experiment', 'start'),
    ('experiment', 'stop'), ('experiment', 'promote'), ('experiment', 'rollback'),
    ('pipeline', 'read'), ('pipeline', 'write'),
    ('analysis', 'read'),
    ('user', 'read'), ('user', 'write'),
    ('service-account', 'read'), ('service-account', 'write'),
    ('audit', 'read'),
    ('tenant', 'manage');

INSERT INTO role_permissions (role, resource, action)
SELECT 'viewer', resource, action FROM permissions
 WHERE (resource, action) IN (('experiment', 'read'), ('pipeline', 'read'), ('analysis', 'read'));
INSERT INTO role_permissions (role, resource, action)
SELECT 'operator', resource, action FROM permissions
 WHERE resource IN ('experiment', 'pipeline', 'analysis');
INSERT INTO role_permissions (role, resource, action)
SELECT 'admin', resource, action FROM permissions WHERE resource <> 'tenant';
INSERT INTO role_permissions (role, resource, action) VALUES ('platform-admin', 'tenant', 'manage');

CREATE TABLE users (
    tenant_id          uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id                 uuid        NOT NULL DEFAULT gen_random_uuid(),
    email              text        NOT NULL CHECK (length(email) BETWEEN 3 AND 254 AND email LIKE '%_@_%'),
    password_hash      text        NOT NULL,
    role               text        NOT NULL REFERENCES roles (name),
    disabled_at        timestamptz,
    -- Tokens issued before this instant are refused (password change, forced logout).
    tokens_valid_after timestamptz NOT NULL DEFAULT '-infinity',
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX users_tenant_email_key ON users (tenant_id, lower(email));

CREATE TABLE service_accounts (
    tenant_id   uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid        NOT NULL DEFAULT gen_random_uuid(),
    name        text        NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    -- Scoped permissions as "resource:action"; never wider than the tenant's admin role.
    permissions text[]      NOT NULL DEFAULT '{}',
    disabled_at timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name)
);

-- Several secrets may be valid at once so that rotation can overlap.
CREATE TABLE service_account_secrets (
    tenant_id          uuid        NOT NULL,
    id                 uuid        NOT NULL DEFAULT gen_random_uuid(),
    service_account_id uuid        NOT NULL,
    -- SHA-256 of a 256-bit random secret: a fast hash suffices for secrets that cannot be guessed.
    secret_hash        bytea       NOT NULL CHECK (length(secret_hash) = 32),
    created_at         timestamptz NOT NULL DEFAULT now(),
    expires_at         timestamptz,
    revoked_at         timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, service_account_id)
        REFERENCES service_accounts (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX service_account_secrets_account_idx
    ON service_account_secrets (tenant_id, service_account_id);

-- A family is one login's chain of refresh tokens; reuse of a rotated token revokes the family.
CREATE TABLE refresh_token_families (
    tenant_id     uuid        NOT NULL,
    id            uuid        NOT NULL DEFAULT gen_random_uuid(),
    user_id       uuid        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz,
    revoke_reason text,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX refresh_token_families_user_idx ON refresh_token_families (tenant_id, user_id);

CREATE TABLE refresh_tokens (
    tenant_id  uuid        NOT NULL,
    id         uuid        NOT NULL DEFAULT gen_random_uuid(),
    family_id  uuid        NOT NULL,
    -- SHA-256 of the opaque token; the token itself is never stored.
    token_hash bytea       NOT NULL CHECK (length(token_hash) = 32),
    issued_at  timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    -- Set when the token is exchanged; presenting it again is reuse.
    rotated_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, family_id)
        REFERENCES refresh_token_families (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (tenant_id, family_id);

-- +goose Down
DROP TABLE refresh_tokens;
DROP TABLE refresh_token_families;
DROP TABLE service_account_secrets;
DROP TABLE service_accounts;
DROP TABLE users;
DROP TABLE role_permissions;
DROP TABLE permissions;
DROP TABLE roles;
DROP TABLE tenants;
