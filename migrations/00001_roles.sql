-- Database roles Phoenix relies on.
--
-- phoenix_app      the runtime role every function connects as: LOGIN, not superuser, NOBYPASSRLS,
--                  NOINHERIT, owns nothing. Its password (if any) is set by the operator, never here.
-- phoenix_platform the explicit path for operations that span tenants (tenant management, login's
--                  tenant lookup). NOLOGIN; phoenix_app may only reach it with SET LOCAL ROLE,
--                  because NOINHERIT means membership grants no privileges by itself.
--
-- Roles are cluster-wide and shared by every database of the cluster (a test run creates many), so
-- creation tolerates a concurrent creator and Down leaves the roles in place: it reverts only what
-- this migration did inside this database.

-- +goose Up
-- +goose StatementBegin
DO $$
BEGIN
    BEGIN
        CREATE ROLE phoenix_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOBYPASSRLS NOREPLICATION;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;
    END;
    BEGIN
        CREATE ROLE phoenix_platform NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOBYPASSRLS NOREPLICATION;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;
    END;
    IF NOT pg_has_role('phoenix_app', 'phoenix_platform', 'MEMBER') THEN
        BEGIN
            GRANT phoenix_platform TO phoenix_app;
        EXCEPTION WHEN OTHERS THEN
            -- A concurrent migration of another database granted it first.
            IF NOT pg_has_role('phoenix_app', 'phoenix_platform', 'MEMBER') THEN
                RAISE;
            END IF;
        END;
    END IF;
END
$$;
-- +goose StatementEnd

GRANT USAGE ON SCHEMA public TO phoenix_app, phoenix_platform;

-- +goose Down
REVOKE USAGE ON SCHEMA public FROM phoenix_app, phoenix_platform;
