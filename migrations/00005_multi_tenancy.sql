-- Multi-tenancy: PostgreSQL, not application code, keeps tenants apart.
--
-- Every tenant-owned table gets ENABLE and FORCE ROW LEVEL SECURITY (FORCE so that even the table
-- owner is subject to it) and one policy for phoenix_app whose USING and WITH CHECK compare
-- tenant_id with the transaction's app.tenant_id. current_setting(..., true) gives NULL or '' when
-- the setting is absent; NULLIF turns '' into NULL, so a transaction without a tenant reads zero
-- rows and every write fails the check instead of failing to cast '' to uuid.
--
-- The store sets app.tenant_id with set_config(..., true): transaction-local, so a pooled
-- connection never carries one tenant's setting into the next transaction.
--
-- Cross-tenant work (tenant management, resolving a tenant by name at login) uses the separate
-- phoenix_platform role, reached only by SET LOCAL ROLE, which sees the tenants table and nothing
-- else. No role used at runtime has BYPASSRLS.

-- +goose Up
-- +goose StatementBegin
DO $$
DECLARE
    t text;
    tenant_expr constant text := $e$tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid$e$;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'users', 'service_accounts', 'service_account_secrets', 'refresh_token_families',
        'refresh_tokens', 'pipelines', 'experiments', 'experiment_transitions', 'manifests',
        'kpi_samples', 'analysis_results', 'audit_log', 'processed_events']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I FOR ALL TO phoenix_app USING (%s) WITH CHECK (%s)',
                       t, tenant_expr, tenant_expr);
        IF t = 'audit_log' THEN
            EXECUTE format('GRANT SELECT, INSERT ON %I TO phoenix_app', t);
        ELSE
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO phoenix_app', t);
        END IF;
    END LOOP;
END
$$;
-- +goose StatementEnd

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
-- Within a tenant transaction the runtime role sees its own tenant row (status, valid-after).
CREATE POLICY tenant_self ON tenants FOR SELECT TO phoenix_app
    USING (id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
-- The platform path manages tenants; it has no privilege on any tenant-owned table.
CREATE POLICY platform_manage ON tenants FOR ALL TO phoenix_platform
    USING (true) WITH CHECK (true);
GRANT SELECT ON tenants TO phoenix_app;
GRANT SELECT, INSERT, UPDATE ON tenants TO phoenix_platform;

-- The RBAC catalog is global and read-only at runtime.
GRANT SELECT ON roles, permissions, role_permissions TO phoenix_app;

-- +goose Down
REVOKE SELECT ON roles, permissions, role_permissions FROM phoenix_app;
REVOKE SELECT, INSERT, UPDATE ON tenants FROM phoenix_platform;
REVOKE SELECT ON tenants FROM phoenix_app;
DROP POLICY platform_manage ON tenants;
DROP POLICY tenant_self ON tenants;
ALTER TABLE tenants NO FORCE ROW LEVEL SECURITY;
ALTER TABLE tenants DISABLE ROW LEVEL SECURITY;

-- +goose StatementBegin
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'users', 'service_accounts', 'service_account_secrets', 'refresh_token_families',
        'refresh_tokens', 'pipelines', 'experiments', 'experiment_transitions', 'manifests',
        'kpi_samples', 'analysis_results', 'audit_log', 'processed_events']
    LOOP
        EXECUTE format('REVOKE ALL ON %I FROM phoenix_app', t);
        EXECUTE format('DROP POLICY tenant_isolation ON %I', t);
        EXECUTE format('ALTER TABLE %I NO FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I DISABLE ROW LEVEL SECURITY', t);
    END LOOP;
END
$$;
-- +goose StatementEnd
