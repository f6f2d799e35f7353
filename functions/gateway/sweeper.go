package gateway

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/wsproto"
)

// revocationWorkers bounds the revocation checks in flight at once during a sweep.
const revocationWorkers = 8

// sweeper closes connections whose credentials were revoked: every connection's credential is
// checked every interval, a tenant's at once when a revocation notice names it, each distinct
// credential once per sweep.
type sweeper struct {
	conns *conns        // whose connections it checks
	every time.Duration // the periodic sweep's interval (Options.RecheckInterval)
	log   *slog.Logger  // diagnostics

	// notices carries tenants named by revocation notices to the loop.
	notices chan uuid.UUID
	// quit ends the loop.
	quit chan struct{}
	// stopOnce makes stopping idempotent.
	stopOnce sync.Once
	// done is closed when the loop has returned.
	done chan struct{}
}

func newSweeper(cs *conns, every time.Duration, log *slog.Logger) *sweeper {
	return &sweeper{conns: cs, every: every, log: log, notices: make(chan uuid.UUID, 64), quit: make(chan struct{}), done: make(chan struct{})}
}

// notice handles a revocation notice (a tenant id) from Redis: that tenant's connections are
// re-checked now. It never blocks the receive goroutine; a notice that does not fit waits for the
// periodic sweep.
func (h *sweeper) notice(payload string) {
	tenant, err := uuid.Parse(payload)
	if err != nil {
		h.log.Warn("gateway: ignored a revocation notice that is not a tenant id")
		return
	}
	select {
	case h.notices <- tenant:
	default:
	}
}

// loop re-checks credentials for revocation: all of them every RecheckInterval, a tenant's
// when a notice names it.
func (h *sweeper) loop() {
	defer close(h.done)
	t := time.NewTicker(h.every)
	defer t.Stop()
	for {
		select {
		case <-h.quit:
			return
		case <-t.C:
			h.sweep(uuid.Nil)
		case tenant := <-h.notices:
			h.sweep(tenant)
		}
	}
}

// sweep asks, once per credential, whether the credentials of tenant's connections (every
// tenant's for uuid.Nil) were revoked, and closes those that were with 4003. A check that fails
// keeps its connections until the next sweep.
func (h *sweeper) sweep(tenant uuid.UUID) {
	type group struct {
		id      *Identity
		clients []*client
	}
	groups := map[string]*group{}
	var solo []*group
	for _, c := range h.conns.list(tenant) {
		id := c.identity.Load()
		if id.Revoked == nil {
			continue
		}
		if id.Credential == "" {
			solo = append(solo, &group{id: id, clients: []*client{c}})
			continue
		}
		g := groups[id.Credential]
		if g == nil {
			g = &group{id: id}
			groups[id.Credential] = g
		}
		g.clients = append(g.clients, c)
	}

	work := make(chan *group)
	var failed, revoked int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range revocationWorkers {
		wg.Go(func() {
			for g := range work {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				yes, err := g.id.Revoked(ctx)
				cancel()
				mu.Lock()
				if err != nil {
					failed++
				} else if yes {
					revoked += len(g.clients)
				}
				mu.Unlock()
				if err != nil || !yes {
					continue
				}
				for _, c := range g.clients {
					// A client that re-authenticated since holds another credential.
					if c.identity.Load().Credential == g.id.Credential {
						c.close(wsproto.CloseTokenRevoked, "token revoked", disconnectRevoked)
					}
				}
			}
		})
	}
	for _, g := range groups {
		work <- g
	}
	for _, g := range solo {
		work <- g
	}
	close(work)
	wg.Wait()
	if failed > 0 {
		h.log.Warn("gateway: revocation checks failed; connections kept until the next check", "failed", failed)
	}
	if revoked > 0 {
		h.log.Info("gateway: closed connections of revoked credentials", "connections", revoked)
	}
}

// stop ends the sweeper and waits for it.
func (h *sweeper) stop() {
	h.stopOnce.Do(func() { close(h.quit) })
	<-h.done
}
