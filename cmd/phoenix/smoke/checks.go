package smoke

import (
	"fmt"
	"net/http"

	"github.com/phoenixotel/phoenix/shared/apiclient"
	"github.com/phoenixotel/phoenix/shared/experiment"
)

// channelSeq follows one channel's sequence numbers: each event must be the previous plus one
// (docs/websocket.md: gap-free per channel).
type channelSeq struct {
	name string // the channel
	last int64  // the last number applied; starts at the subscribed seq (0: the channel had no event)
}

// next applies an event's number, or says how it breaks the sequence.
func (c *channelSeq) next(seq int64) error {
	switch {
	case seq == c.last+1, c.last == 0 && seq > 0:
		// A channel that had no event when subscribed starts its numbering at any number
		// (Redis's clock: docs/websocket.md); each later event must follow it.
		c.last = seq
		return nil
	case seq <= c.last:
		return fmt.Errorf("channel %s: seq %d arrived after %d (repeated or out of order)", c.name, seq, c.last)
	case seq == c.last+2:
		return fmt.Errorf("channel %s: seq jumped from %d to %d: event %d is missing", c.name, c.last, seq, c.last+1)
	default:
		return fmt.Errorf("channel %s: seq jumped from %d to %d: events %d–%d are missing", c.name, c.last, seq, c.last+1, seq-1)
	}
}

// transitionLog is an experiment's transitions as a client applies them: in order by their own
// seq, each leaving the state the previous one entered. Repeats (the controller republishes a
// transition when its cause is redelivered) are allowed when identical and applied once.
type transitionLog struct {
	items []transitionView // applied, seq 1 first
}

// add applies t, reporting whether it was new, or says how it breaks the history.
func (l *transitionLog) add(t transitionView) (bool, error) {
	n := int64(len(l.items))
	switch {
	case t.Seq <= 0:
		return false, fmt.Errorf("transition %s has no valid seq", t)
	case t.Seq <= n:
		if prev := l.items[t.Seq-1]; prev.From != t.From || prev.To != t.To {
			return false, fmt.Errorf("transition %d arrived twice and differently: %s, then %s", t.Seq, prev, t)
		}
		return false, nil
	case t.Seq > n+1:
		return false, fmt.Errorf("transition %s arrived after %d transition(s) %v: transition %d is missing", t, n, l.items, n+1)
	case n == 0 && t.From != experiment.Pending:
		return false, fmt.Errorf("the first transition is %s, want one leaving pending", t)
	case n > 0 && t.From != l.items[n-1].To:
		return false, fmt.Errorf("transition %s does not leave %s, the state %s entered", t, l.items[n-1].To, l.items[n-1])
	}
	l.items = append(l.items, t)
	return true, nil
}

// state is where the applied transitions left the experiment (pending before any).
func (l *transitionLog) state() experiment.State {
	if len(l.items) == 0 {
		return experiment.Pending
	}
	return l.items[len(l.items)-1].To
}

// hidden judges an answer to another tenant's request for a resource: only 404 keeps the
// resource's existence secret (docs/auth.md: a resource of another tenant answers 404).
func hidden(r apiclient.Reply) error {
	switch {
	case r.Status == http.StatusNotFound:
		return nil
	case r.Status < 300:
		return fmt.Errorf("%s: tenant isolation is broken, another tenant's experiment was served", r)
	case r.Status == http.StatusConflict:
		return fmt.Errorf("%s: the command was judged against another tenant's experiment, so its existence and state leak; want 404", r)
	case r.Status == http.StatusForbidden:
		return fmt.Errorf("%s: a permission check answered before the tenant check; want 404", r)
	default:
		return fmt.Errorf("%s, want 404", r)
	}
}
