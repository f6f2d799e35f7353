package store

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5"
)

// AuditRecord is a stored audit entry.
type AuditRecord struct {
	ID         int64           `json:"id"`
	OccurredAt time.Time       `json:"occurred_at"`
	ActorType  string          `json:"actor_type"`
	ActorID    string          `json:"actor_id"`
	Action     string          `json:"action"`
	Outcome    string          `json:"outcome"`
	Severity   string          `json:"severity"`
	Reason     string          `json:"reason,omitempty"`
	SourceIP   *netip.Addr     `json:"source_ip,omitempty"`
	UserAgent  string          `json:"user_agent,omitempty"`
	RequestID  string          `json:"request_id,omitempty"`
	Details    json.RawMessage `json:"details"`
}

// AuditFilter narrows an audit listing; zero fields do not filter.
type AuditFilter struct {
	Since, Until *time.Time // occurred_at in [Since, Until)
	ActorID      string     // exact actor id
	Action       string     // exact action, e.g. auth.login
	Limit        int        // page size, 1-200 (default 50)
	Before       int64      // keyset cursor: only entries with a smaller id
}

// AuditEvents lists the tenant's audit log, newest first.
func (tx *Tx) AuditEvents(ctx context.Context, f AuditFilter) ([]AuditRecord, error) {
	rows, err := tx.Query(ctx, `SELECT id, occurred_at, actor_type, actor_id, action, outcome, severity, reason,
		source_ip, user_agent, request_id, details FROM audit_log
		WHERE tenant_id = $1
		  AND ($2::timestamptz IS NULL OR occurred_at >= $2) AND ($3::timestamptz IS NULL OR occurred_at < $3)
		  AND ($4 = '' OR actor_id = $4) AND ($5 = '' OR action = $5) AND ($6 = 0 OR id < $6)
		ORDER BY id DESC LIMIT $7`, tx.tenant, f.Since, f.Until, f.ActorID, f.Action, f.Before, clampLimit(f.Limit))
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (AuditRecord, error) {
		var r AuditRecord
		err := row.Scan(&r.ID, &r.OccurredAt, &r.ActorType, &r.ActorID, &r.Action, &r.Outcome, &r.Severity,
			&r.Reason, &r.SourceIP, &r.UserAgent, &r.RequestID, &r.Details)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	return out, nil
}
