package store

import (
	"context"
	"fmt"
	"net/netip"
)

// AuditEntry is one row of the append-only audit log. It never holds a secret.
type AuditEntry struct {
	ActorType string         // user, service_account, system or anonymous
	ActorID   string         // user or service-account id, or the system component's name
	Action    string         // what was attempted, e.g. "tenant.create", "auth.login"
	Outcome   string         // success, failure or denied
	Severity  string         // info (default), warning or critical
	Reason    string         // why it failed or was denied, in words an operator understands
	SourceIP  netip.Addr     // the caller's address; zero when not over the network
	UserAgent string         // the caller's User-Agent, truncated to 512 bytes
	RequestID string         // correlates with logs
	Details   map[string]any // ids and names, never tokens or passwords
}

// Audit appends e to the transaction tenant's audit log.
func (tx *Tx) Audit(ctx context.Context, e AuditEntry) error {
	if e.Severity == "" {
		e.Severity = "info"
	}
	if e.Details == nil {
		e.Details = map[string]any{}
	}
	if len(e.UserAgent) > 512 {
		e.UserAgent = e.UserAgent[:512]
	}
	var ip *netip.Addr
	if e.SourceIP.IsValid() {
		ip = &e.SourceIP
	}
	_, err := tx.Exec(ctx, `INSERT INTO audit_log
		(tenant_id, actor_type, actor_id, action, outcome, severity, reason, source_ip, user_agent, request_id, details)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		tx.tenant, e.ActorType, e.ActorID, e.Action, e.Outcome, e.Severity, e.Reason, ip, e.UserAgent, e.RequestID, e.Details)
	if err != nil {
		return fmt.Errorf("append audit %s: %w", e.Action, err)
	}
	return nil
}
