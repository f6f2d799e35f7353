package smoke

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/wsproto"
)

// tenantChannel is the gateway's channel of every event of the caller's tenant.
const tenantChannel = "tenant"

// watcher follows one experiment over the gateway as a client does: it applies each channel's
// events in sequence and the experiment's transitions in order, failing on any gap.
type watcher struct {
	s          *session               // whose token authenticates the connection
	gateway    string                 // the gateway's URL
	id         string                 // the experiment
	sock       *socket                // the current connection
	channels   map[string]*channelSeq // the subscribed channels and their last seq
	order      []string               // the channels in subscription order (for resubscribing)
	log        transitionLog          // the experiment's transitions from its own channel
	moves      []string               // CloudEvent ids of those transitions, first deliveries only
	onTenant   map[string]bool        // CloudEvent ids of the experiment's events seen on the tenant channel
	kpis       int                    // KPI window events of the experiment
	reconnects int                    // connections re-established with since
	retries    int                    // how many reconnects are allowed; 0: a lost connection fails
}

// watch connects and subscribes to the experiment's channel, and to the tenant channel when
// withTenant is set.
func watch(ctx context.Context, s *session, gateway, id string, withTenant bool, retries int, deadline time.Time) (*watcher, error) {
	w := &watcher{s: s, gateway: gateway, id: id, channels: map[string]*channelSeq{}, onTenant: map[string]bool{}, retries: retries}
	w.order = []string{channelOf(id)}
	if withTenant {
		w.order = append(w.order, tenantChannel)
	}
	if err := w.connect(ctx, deadline, false); err != nil {
		return nil, err
	}
	return w, nil
}

// connect dials and subscribes every channel, with since when resuming.
func (w *watcher) connect(ctx context.Context, deadline time.Time, resume bool) error {
	tok, err := w.s.token(ctx)
	if err != nil {
		return err
	}
	sock, err := dial(ctx, w.gateway, tok, false)
	if err != nil {
		return err
	}
	for _, ch := range w.order {
		var since *int64
		if resume {
			last := w.channels[ch].last
			since = &last
		}
		seq, err := sock.subscribe(ch, since, deadline)
		if err != nil {
			sock.close()
			return fmt.Errorf("subscribe to %s: %w", ch, err)
		}
		if !resume {
			w.channels[ch] = &channelSeq{name: ch, last: seq}
		}
	}
	w.sock = sock
	return nil
}

// close ends the connection.
func (w *watcher) close() {
	if w.sock != nil {
		w.sock.close()
	}
}

// until applies events until done accepts the experiment's state, failing on a broken sequence,
// on a connection that cannot be resumed, or at the deadline.
func (w *watcher) until(ctx context.Context, deadline time.Time, done func(experiment.State) bool) error {
	for !done(w.log.state()) {
		f, err := w.sock.next(deadline)
		if err != nil {
			if !time.Now().Before(deadline) {
				return fmt.Errorf("no transition arrived by the deadline: the experiment is still %s after %v", w.log.state(), w.log.items)
			}
			if ctx.Err() != nil || w.reconnects >= w.retries {
				return err
			}
			lost := err
			w.reconnects++
			w.sock.close()
			if err := w.connect(ctx, deadline, true); err != nil {
				return fmt.Errorf("the connection was lost (%v) and could not be resumed: %w", lost, err)
			}
			continue
		}
		if err := w.apply(f); err != nil {
			return err
		}
	}
	return nil
}

// apply takes one frame: an event moves its channel's sequence and, for the experiment, its
// transitions; an error frame about a held channel fails.
func (w *watcher) apply(f frame) error {
	switch f.Type {
	case wsproto.Event:
	case wsproto.Error:
		return fmt.Errorf("the gateway sent an error on %q: %s (%s)", f.Channel, f.Code, f.Message)
	default:
		return nil // pong, unsubscribed, authenticated: nothing to apply
	}
	ch, ok := w.channels[f.Channel]
	if !ok {
		return fmt.Errorf("an event arrived on %q, which was never subscribed", f.Channel)
	}
	if err := ch.next(f.seq()); err != nil {
		return err
	}
	e, err := f.event()
	if err != nil {
		return err
	}
	if !strings.EqualFold(e.Subject, w.id) {
		if f.Channel != tenantChannel {
			return fmt.Errorf("channel %s carried an event about %q (%s)", f.Channel, e.Subject, e.Type)
		}
		return nil // another experiment of the tenant
	}
	if f.Channel == tenantChannel {
		w.onTenant[e.ID] = true
		return nil
	}
	switch e.Type {
	case events.KPIWindowClosed:
		w.kpis++
		return nil
	}
	m, isMove, err := e.transition()
	if err != nil || !isMove {
		return err
	}
	fresh, err := w.log.add(m.transitionView)
	if fresh {
		w.moves = append(w.moves, e.ID)
	}
	return err
}

// tenantCaughtUp reads the tenant channel until it has carried every transition the
// experiment's channel did, or the deadline passes.
func (w *watcher) tenantCaughtUp(deadline time.Time) error {
	for {
		var missing []string
		for _, id := range w.moves {
			if !w.onTenant[id] {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		f, err := w.sock.next(deadline)
		if err != nil {
			return fmt.Errorf("the tenant channel never carried transition event(s) %v of the experiment's channel: %w", missing, err)
		}
		if err := w.apply(f); err != nil {
			return err
		}
	}
}
