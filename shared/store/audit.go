package store

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"
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
	// What callers record may come from the request (a User-Agent, an email): PostgreSQL refuses
	// invalid UTF-8 and NUL, and a refused row would be an event missing from the log.
	e.ActorID, e.Reason, e.RequestID = clean(e.ActorID, 200), clean(e.Reason, 1000), clean(e.RequestID, 100)
	e.UserAgent = clean(e.UserAgent, 512)
	details := make(map[string]any, len(e.Details))
	for k, v := range e.Details {
		if str, ok := v.(string); ok {
			v = clean(str, 1000)
		}
		details[clean(k, 100)] = v
	}
	e.Details = details
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

// clean makes s valid UTF-8 without NUL bytes and at most max bytes long, cut at a character
// boundary.
func clean(s string, max int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
