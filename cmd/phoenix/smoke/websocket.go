package smoke

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/store"
	"github.com/phoenixotel/phoenix/shared/wsproto"
)

// WebSocket checks the gateway's contract (docs/websocket.md) as Credentials.Primary: a handshake
// without a token is refused with 401; a new experiment's channel and the tenant channel
// subscribe; once the experiment is started its transitions arrive in order, with gap-free
// sequence numbers on both channels; while the client is disconnected the experiment is stopped
// (or ends by itself), and a reconnect — authenticated the browser's way, by subprotocol — with
// since replays exactly what was missed: the client's transitions then equal the API's.
func WebSocket(ctx context.Context, t Target, c Credentials, o Options) Result {
	o = o.withDefaults()
	r := newRecorder(ctx, "websocket")
	stream(ctx, r, t, c.Primary, o)
	return r.done()
}

func stream(ctx context.Context, r *recorder, t Target, acct Account, o Options) {
	deadline := func() time.Time { return time.Now().Add(o.Timeout) }
	if !r.step("a handshake without a token is refused with 401", func() (string, error) {
		sock, err := dial(ctx, t.Gateway, "", false)
		if err == nil {
			sock.close()
			return "", errors.New("the gateway accepted a WebSocket without a token")
		}
		var he *handshakeError
		if !errors.As(err, &he) || he.Status != http.StatusUnauthorized {
			return "", fmt.Errorf("%v, want a refusal with 401", err)
		}
		return "401 before the upgrade", nil
	}) {
		return
	}

	a := newAPI(t)
	var (
		s *session
		e store.Experiment
		w *watcher
	)
	if !r.step("subscribe to a new experiment's channel and the tenant channel", func() (string, error) {
		var err error
		if s, err = open(ctx, a, acct); err != nil {
			return "", err
		}
		if e, err = create(ctx, s, "smoke-websocket-"+o.RunID, o); err != nil {
			return "", err
		}
		r.undo("cleanup: stop the experiment", stopUnlessEnded(s, e.ID.String()))
		if w, err = watch(ctx, s, t.Gateway, e.ID.String(), true, 0, deadline()); err != nil {
			return "", err
		}
		r.undo("cleanup: close the connection", func(context.Context) (string, error) { w.close(); return "closed", nil })
		return fmt.Sprintf("experiment %s: channel at seq %d, tenant channel at seq %d", e.ID.String(), w.channels[channelOf(e.ID.String())].last, w.channels[tenantChannel].last), nil
	}) {
		return
	}

	if !r.step("started, its transitions arrive in order with gap-free seq on both channels", func() (string, error) {
		rep, err := command(ctx, s, e.ID.String(), "start")
		if err != nil {
			return "", err
		}
		if err := rep.Want(http.StatusAccepted); err != nil {
			return "", err
		}
		// Two moves (pending → generating → deploying) or an end, whichever comes first.
		err = w.until(ctx, deadline(), func(st experiment.State) bool { return len(w.log.items) >= 2 || ended(st) })
		if err != nil {
			return "", err
		}
		if err := w.tenantCaughtUp(deadline()); err != nil {
			return "", err
		}
		return fmt.Sprintf("%v on %s, the same events on the tenant channel", w.log.items, channelOf(e.ID.String())), nil
	}) {
		return
	}

	missedFrom := w.channels[channelOf(e.ID.String())].last
	if !r.step("while disconnected, the experiment ends", func() (string, error) {
		w.close()
		rep, err := command(ctx, s, e.ID.String(), "stop")
		if err != nil {
			return "", err
		}
		if err := rep.Want(http.StatusAccepted, http.StatusConflict); err != nil {
			return "", err
		}
		end, err := waitState(ctx, s, e.ID.String(), o.Timeout, ended)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("stop answered %d; the experiment is %s", rep.Status, end.State), nil
	}) {
		return
	}

	r.step("a reconnect with since replays exactly what was missed", func() (string, error) {
		tok, err := s.token(ctx)
		if err != nil {
			return "", err
		}
		sock, err := dial(ctx, t.Gateway, tok, true)
		if err != nil {
			return "", fmt.Errorf("reconnect with the token as subprotocol: %w", err)
		}
		w.sock = sock
		latest, err := sock.subscribe(channelOf(e.ID.String()), &missedFrom, deadline())
		if err != nil {
			return "", fmt.Errorf("subscribe with since %d: %w", missedFrom, err)
		}
		if latest <= missedFrom {
			return "", fmt.Errorf("subscribed with since %d answered seq %d: the transitions after the disconnect were never published", missedFrom, latest)
		}
		w.channels = map[string]*channelSeq{channelOf(e.ID.String()): {name: channelOf(e.ID.String()), last: missedFrom}}
		for w.channels[channelOf(e.ID.String())].last < latest {
			f, err := sock.next(deadline())
			if err != nil {
				return "", fmt.Errorf("replay after %d stopped at %d of %d: %w", missedFrom, w.channels[channelOf(e.ID.String())].last, latest, err)
			}
			if err := w.apply(f); err != nil {
				return "", err
			}
		}
		stored, err := history(ctx, s, e.ID.String())
		if err != nil {
			return "", err
		}
		if err := sameTransitions(w.log.items, stored); err != nil {
			return "", err
		}
		if err := sock.send(wsproto.ClientFrame{Type: wsproto.Ping}); err != nil {
			return "", err
		}
		for {
			f, err := sock.next(deadline())
			if err != nil {
				return "", fmt.Errorf("no pong after the replay: %w", err)
			}
			if f.Type == wsproto.Pong {
				break
			}
			if err := w.apply(f); err != nil {
				return "", err
			}
		}
		return fmt.Sprintf("seq %d–%d replayed in order; transitions %v equal the API's; the connection is live (pong)", missedFrom+1, latest, w.log.items), nil
	})
}
