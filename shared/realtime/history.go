package realtime

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// ErrHistoryGap means a channel's history no longer holds every event after the requested number:
// it was trimmed or expired, or the channel's numbering restarted. The events in between are lost
// to the caller, who must reload state from the source of truth instead.
var ErrHistoryGap = errors.New("realtime: the history no longer reaches back that far")

// Event is one event of a channel as subscribers see it.
type Event struct {
	// Seq is the event's number on its channel: 1, 2, 3, … without gaps.
	Seq uint64
	// Data is the payload as published, a JSON document.
	Data string
	// First marks the first event of a numbering (read from the history only): nothing of the
	// channel came before it that a subscriber could still need.
	First bool
}

// Decode parses a message received on a channel: "<seq> <payload>".
func Decode(message string) (Event, error) {
	n, data, ok := strings.Cut(message, " ")
	seq, err := strconv.ParseUint(n, 10, 64)
	if !ok || err != nil || seq == 0 {
		return Event{}, fmt.Errorf("realtime: message does not start with a sequence number")
	}
	return Event{Seq: seq, Data: data}, nil
}

// History reads the events channels keep, for subscribers catching up. It is safe for concurrent
// use.
type History struct {
	// rdb holds the counters and streams.
	rdb *redis.Client
	// prefix must be the publishers'.
	prefix string
}

// NewHistory returns a History over rdb for channels named with prefix. rdb stays owned by the
// caller.
func NewHistory(rdb *redis.Client, prefix string) *History {
	return &History{rdb: rdb, prefix: prefix}
}

// Latest returns the number of the channel's most recent event, 0 if it never had one (or was
// quiet for longer than its counter lives).
func (h *History) Latest(ctx context.Context, ch Channel) (uint64, error) {
	n, err := h.rdb.Get(ctx, ch.CounterKey(h.prefix)).Uint64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read the latest sequence number of %s: %w", ch.Name(h.prefix), err)
	}
	return n, nil
}

// After returns, oldest first, up to limit events of the channel numbered after seq, and the
// channel's latest number. No events and latest == seq means the caller is up to date. seq 0
// means none seen: the events from the first of the channel's numbering, if the history still
// holds it. If the history cannot supply seq+1 (or, for 0, the first event) although the channel
// went past seq, or the channel's numbers are below seq, it returns ErrHistoryGap with the latest
// number.
func (h *History) After(ctx context.Context, ch Channel, seq uint64, limit int) ([]Event, uint64, error) {
	var rng *redis.XMessageSliceCmd
	var counter *redis.StringCmd
	_, err := h.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		rng = p.XRangeN(ctx, ch.historyKey(h.prefix), "(0-"+strconv.FormatUint(seq, 10), "+", int64(max(limit, 1)))
		counter = p.Get(ctx, ch.CounterKey(h.prefix))
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, 0, fmt.Errorf("read the history of %s after %d: %w", ch.Name(h.prefix), seq, err)
	}
	latest, err := counter.Uint64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, 0, fmt.Errorf("read the latest sequence number of %s: %w", ch.Name(h.prefix), err)
	}
	events := make([]Event, 0, len(rng.Val()))
	for _, m := range rng.Val() {
		e, err := historyEvent(m)
		if err != nil {
			return nil, 0, fmt.Errorf("read the history of %s: %w", ch.Name(h.prefix), err)
		}
		events = append(events, e)
	}
	if len(events) > 0 {
		latest = max(latest, events[len(events)-1].Seq)
	}
	switch {
	case latest < seq:
		return nil, latest, ErrHistoryGap
	case latest == seq:
		return nil, latest, nil
	case len(events) == 0 || events[0].Seq != seq+1 && !(seq == 0 && events[0].First):
		return nil, latest, ErrHistoryGap
	}
	return events, latest, nil
}

// historyEvent converts a stream entry "0-<seq>" {d: payload[, s: 1]} into an Event.
func historyEvent(m redis.XMessage) (Event, error) {
	n, ok := strings.CutPrefix(m.ID, "0-")
	seq, err := strconv.ParseUint(n, 10, 64)
	data, isString := m.Values["d"].(string)
	if !ok || err != nil || !isString {
		return Event{}, fmt.Errorf("unexpected history entry %q", m.ID)
	}
	_, first := m.Values["s"]
	return Event{Seq: seq, Data: data, First: first}, nil
}
