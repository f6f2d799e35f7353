package api

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/auth"
	"github.com/phoenixotel/phoenix/shared/function"
	"github.com/phoenixotel/phoenix/shared/store"
)

// audit appends an entry to tenant's audit log in a transaction of its own, so that a failure is
// recorded even when the request's own work rolled back. p may be the zero Principal (anonymous).
// An audit write that fails is logged, never shown to the caller.
func (a *API) audit(r *http.Request, tenant uuid.UUID, p auth.Principal, action, outcome, severity, reason string, details map[string]any) {
	e := a.auditEntry(r, p, action, outcome, severity, reason, details)
	// The caller may have gone; the record must still be written.
	ctx := context.WithoutCancel(r.Context())
	err := a.o.Store.WithTenant(ctx, tenant, func(tx *store.Tx) error { return tx.Audit(ctx, e) })
	if err != nil {
		logFrom(r).Error("audit write failed", "action", action, "err", err)
	}
}

// auditEntry describes the request and caller for the audit log.
func (a *API) auditEntry(r *http.Request, p auth.Principal, action, outcome, severity, reason string, details map[string]any) store.AuditEntry {
	actorType, actorID := "anonymous", ""
	if p.Subject != "" {
		actorType, actorID = p.SubjectType, p.Subject
	}
	return store.AuditEntry{
		ActorType: actorType, ActorID: actorID, Action: action, Outcome: outcome, Severity: severity,
		Reason: reason, SourceIP: a.clientIP(r), UserAgent: r.UserAgent(), RequestID: function.RequestID(r),
		Details: details,
	}
}

// clientIP is the caller's address: the peer, or with TrustedProxies > 0 the X-Forwarded-For
// entry that many hops from the right — entries further left were written by the client and
// could be anything.
func (a *API) clientIP(r *http.Request) netip.Addr {
	if n := a.o.TrustedProxies; n > 0 {
		var hops []string
		for _, h := range r.Header.Values("X-Forwarded-For") {
			for _, part := range strings.Split(h, ",") {
				hops = append(hops, strings.TrimSpace(part))
			}
		}
		if len(hops) >= n {
			if ip, err := netip.ParseAddr(hops[len(hops)-n]); err == nil {
				return ip.Unmap()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, _ := netip.ParseAddr(host)
	return ip.Unmap()
}

// clientKey is the client's address as a rate-limit key: an IPv4 address whole, an IPv6 address
// by its /64 — one host commonly holds a whole /64, and per-address limits would not bind it.
func (a *API) clientKey(r *http.Request) string {
	ip := a.clientIP(r)
	if ip.Is6() {
		if p, err := ip.Prefix(64); err == nil {
			return p.String()
		}
	}
	return ip.String()
}
