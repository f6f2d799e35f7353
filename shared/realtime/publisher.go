package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// Defaults of the history a Publisher keeps per channel.
const (
	// DefaultHistoryLength is how many events each channel's history keeps, at least.
	DefaultHistoryLength = 1000
	// DefaultHistoryTTL is how long a channel's history outlives its last event.
	DefaultHistoryTTL = 24 * time.Hour
	// DefaultCounterTTL is how long a channel's sequence counter outlives its last event. It is
	// longer than the history so that a channel that goes quiet does not restart at 1 while a
	// client may still hold one of its old numbers.
	DefaultCounterTTL = 30 * 24 * time.Hour
)

// ErrInvalidPayload is returned by Publish when the payload is not valid
// JSON; subscribers embed payloads verbatim in JSON frames, so anything else
// would be dropped on the way out.
var ErrInvalidPayload = errors.New("realtime: payload is not valid JSON")

// publishScript numbers, records and publishes one event on the tenant channel and the
// experiment channel, atomically: a subscriber never sees a number that the history does not
// hold, nor two publishers interleave within one channel.
//
// A channel without a counter starts a numbering. It continues after the history's newest entry
// when the history survived (the counter expired, or was lost alone); otherwise it starts at
// Redis's clock in microseconds, and the history marks that entry (field s) as the first of its
// numbering. Starting there rather than at 1 is what keeps a loss of Redis's memory from going
// unnoticed: an earlier numbering of the channel started at an earlier microsecond and rose by
// one an event, so every number it gave out is below the new start (unless it gave out more than
// one event a microsecond for its whole life). A gateway or client holding an old number sees a
// jump that the history cannot fill and is told history_unavailable — never a repeat of numbers
// it already had, which it would drop as duplicates (measured before: a client connected through
// a Redis restart silently missed 51 s of events). Numbers stay below 2⁵³ until the year 2255,
// exact in a JavaScript number.
//
// KEYS: counter and history of the tenant channel, then of the experiment channel.
// ARGV: the two pub/sub channels, the payload, history length, history TTL, counter TTL (seconds).
var publishScript = redis.NewScript(`
for i = 0, 1 do
  local counter, stream = KEYS[2*i+1], KEYS[2*i+2]
  local seq
  local first = false
  if redis.call('EXISTS', counter) == 1 then
    seq = redis.call('INCR', counter)
  else
    local top = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
    if #top > 0 then
      seq = tonumber(string.match(top[1][1], '%-(%d+)$')) + 1
    else
      local t = redis.call('TIME')
      seq = tonumber(t[1]) * 1000000 + tonumber(t[2])
      first = true
    end
    redis.call('SET', counter, string.format('%d', seq))
  end
  redis.call('EXPIRE', counter, ARGV[6])
  local id = string.format('%d', seq)
  if first then
    redis.call('XADD', stream, 'MAXLEN', '~', ARGV[4], '0-' .. id, 'd', ARGV[3], 's', '1')
  else
    redis.call('XADD', stream, 'MAXLEN', '~', ARGV[4], '0-' .. id, 'd', ARGV[3])
  end
  redis.call('EXPIRE', stream, ARGV[5])
  redis.call('PUBLISH', ARGV[i+1], id .. ' ' .. ARGV[3])
end
return 1
`)

// Publisher publishes experiment events to the tenant and experiment channels. It is safe for
// concurrent use.
type Publisher struct {
	// rdb runs the publish script.
	rdb *redis.Client
	// prefix namespaces the channel names and keys, see TenantChannel.
	prefix string
	// opts bound the history.
	opts options
}

// options are what Option adjusts.
type options struct {
	// historyLength is the stream MAXLEN (approximate, so at least this many are kept).
	historyLength int
	// historyTTL is how long a history outlives its last event.
	historyTTL time.Duration
	// counterTTL is how long a sequence counter outlives its last event.
	counterTTL time.Duration
}

// Option adjusts a Publisher.
type Option func(*options)

// WithHistory keeps at least length events per channel, for ttl after the channel's last event
// (the sequence counter lives at least as long). Values below 1 keep the defaults.
func WithHistory(length int, ttl time.Duration) Option {
	return func(o *options) {
		if length >= 1 {
			o.historyLength = length
		}
		if ttl >= time.Second {
			o.historyTTL = ttl
			o.counterTTL = max(o.counterTTL, ttl)
		}
	}
}

// NewPublisher returns a Publisher that publishes through rdb on channels named with prefix,
// keeping DefaultHistoryLength events per channel unless an Option says otherwise. rdb stays
// owned by the caller. It requires Redis 7 or later.
func NewPublisher(rdb *redis.Client, prefix string, opts ...Option) *Publisher {
	o := options{historyLength: DefaultHistoryLength, historyTTL: DefaultHistoryTTL, counterTTL: DefaultCounterTTL}
	for _, opt := range opts {
		opt(&o)
	}
	return &Publisher{rdb: rdb, prefix: prefix, opts: o}
}

// Publish sends payload, an opaque JSON document (a structured CloudEvent), to the channel of
// tenant and to the channel of experiment within it. On each it takes the channel's next sequence
// number and records the event in the channel's history before publishing it, all in one script,
// so a subscriber of both sees both or neither. The tenant channel is published first.
func (p *Publisher) Publish(ctx context.Context, tenant, experiment uuid.UUID, payload []byte) error {
	if !json.Valid(payload) {
		return fmt.Errorf("publish event of experiment %s: %w", experiment, ErrInvalidPayload)
	}
	t, e := Channel{Tenant: tenant}, Channel{Tenant: tenant, Experiment: experiment}
	keys := []string{t.CounterKey(p.prefix), t.historyKey(p.prefix), e.CounterKey(p.prefix), e.historyKey(p.prefix)}
	args := []any{t.Name(p.prefix), e.Name(p.prefix), payload, p.opts.historyLength,
		seconds(p.opts.historyTTL), seconds(p.opts.counterTTL)}
	if err := publishScript.Run(ctx, p.rdb, keys, args...).Err(); err != nil {
		return fmt.Errorf("publish event of experiment %s: %w", experiment, err)
	}
	return nil
}

// PublishRevocation tells every gateway that credentials of tenant were just revoked (a logout,
// a disabled user, a suspended tenant), so they re-check that tenant's connections now rather than
// at their next periodic check. Call it after the revocation is recorded.
func (p *Publisher) PublishRevocation(ctx context.Context, tenant uuid.UUID) error {
	if err := p.rdb.Publish(ctx, RevocationChannel(p.prefix), tenant.String()).Err(); err != nil {
		return fmt.Errorf("publish revocation notice of tenant %s: %w", tenant, err)
	}
	return nil
}

// seconds renders d for EXPIRE, at least 1.
func seconds(d time.Duration) string {
	return strconv.FormatInt(max(int64(d/time.Second), 1), 10)
}
