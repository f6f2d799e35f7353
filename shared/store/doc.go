// Package store is the only way Phoenix code touches PostgreSQL.
//
// Tenant data is reached only through WithTenant, which opens a transaction and sets the
// transaction-local app.tenant_id before anything else runs; row-level security (migrations
// 00005) then confines every statement to that tenant. Session-level settings are never used:
// they would survive on a pooled connection into another tenant's transaction.
//
// Work that spans tenants (creating tenants, resolving a tenant by name) goes through Platform,
// which switches the transaction to the phoenix_platform role. Nothing here bypasses RLS, and
// VerifyRuntimeRole refuses a connection that could.
//
// Applying the schema is the Migrator's job; it connects as the schema owner, never as the
// runtime role.
package store
