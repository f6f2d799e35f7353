package gateway

import (
	"errors"
	"sync"

	"github.com/google/uuid"
)

// Errors of conns.reserve: 503 for the first two, 429 for the caps of one tenant or user.
var (
	errTooManyConnections = errors.New("too many connections on this replica")
	errShuttingDown       = errors.New("shutting down")
	errTenantLimit        = errors.New("too many connections of this tenant")
	errUserLimit          = errors.New("too many connections of this user")
)

// userKey identifies a subject within its tenant, for the per-user cap.
type userKey struct {
	// tenant is the subject's tenant.
	tenant uuid.UUID
	// subject is the user or service account id.
	subject string
}

// conns accounts for this replica's connections: the replica's, each tenant's and each user's
// caps, from the handshake's reservation until both of a client's goroutines have ended.
type conns struct {
	opts    *Options // MaxConnections, MaxConnectionsPerTenant, MaxConnectionsPerUser
	metrics *metrics // connections and disconnects

	// mu guards clients, tenants, users, reserved and closing.
	mu sync.Mutex
	// clients are the connected clients.
	clients map[*client]struct{}
	// tenants counts connections and reservations per tenant.
	tenants map[uuid.UUID]int
	// users counts connections and reservations per subject.
	users map[userKey]int
	// reserved counts handshakes that passed the caps but are not added yet.
	reserved int
	// closing is set by close; no client is added after it.
	closing bool
	// running counts added clients until both their goroutines have ended.
	running sync.WaitGroup
}

func newConns(opts *Options, m *metrics) *conns {
	return &conns{opts: opts, metrics: m, clients: make(map[*client]struct{}), tenants: make(map[uuid.UUID]int),
		users: make(map[userKey]int)}
}

// reserve claims a connection slot for id's handshake about to upgrade, within the replica's,
// the tenant's and the user's caps.
func (h *conns) reserve(id Identity) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	user := userKey{id.Tenant, id.Subject}
	switch {
	case h.closing:
		return errShuttingDown
	case len(h.clients)+h.reserved >= h.opts.MaxConnections:
		return errTooManyConnections
	case h.tenants[id.Tenant] >= h.opts.MaxConnectionsPerTenant:
		return errTenantLimit
	case h.users[user] >= h.opts.MaxConnectionsPerUser:
		return errUserLimit
	}
	h.reserved++
	h.tenants[id.Tenant]++
	h.users[user]++
	return nil
}

// release gives back the slot of a handshake that did not upgrade.
func (h *conns) release(id Identity) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reserved--
	h.unreserve(userKey{id.Tenant, id.Subject})
}

// unreserve drops user from the per-tenant and per-user counts. mu must be held.
func (h *conns) unreserve(user userKey) {
	if h.tenants[user.tenant]--; h.tenants[user.tenant] <= 0 {
		delete(h.tenants, user.tenant)
	}
	if h.users[user]--; h.users[user] <= 0 {
		delete(h.users, user)
	}
}

// add turns a reserved slot into a connected client. It fails if shutdown began since the
// reservation, and then gives the slot back.
func (h *conns) add(c *client) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reserved--
	if h.closing {
		h.unreserve(c.owner)
		return errShuttingDown
	}
	h.clients[c] = struct{}{}
	h.running.Add(1)
	h.metrics.connections.Inc()
	return nil
}

// remove forgets a client whose goroutines have both ended.
func (h *conns) remove(c *client) {
	h.metrics.connections.Dec()
	h.metrics.disconnects.WithLabelValues(c.reason).Inc()
	h.mu.Lock()
	delete(h.clients, c)
	h.unreserve(c.owner)
	h.mu.Unlock()
	h.running.Done()
}

// list returns the connected clients of tenant (every tenant's for uuid.Nil).
func (h *conns) list(tenant uuid.UUID) []*client {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*client, 0, len(h.clients))
	for c := range h.clients {
		if tenant == uuid.Nil || c.identity.Load().Tenant == tenant {
			out = append(out, c)
		}
	}
	return out
}

// close stops adding clients and returns those connected.
func (h *conns) close() []*client {
	h.mu.Lock()
	h.closing = true
	h.mu.Unlock()
	return h.list(uuid.Nil)
}
