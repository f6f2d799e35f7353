// Package ratelimit limits request rates per key (an IP, an account, a tenant, a token) across
// every replica, with the GCRA limiter of go-redis/redis_rate. It owns the limit syntax used in
// configuration ("10/m") and the keys' namespace; it does not decide what is limited — callers do.
package ratelimit

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Limit is a rate: Rate events per Period, with bursts up to Rate.
type Limit struct {
	Rate   int           // events allowed per Period; 0 disables the limit
	Period time.Duration // one second, minute or hour
}

func (l Limit) String() string {
	unit := map[time.Duration]string{time.Second: "s", time.Minute: "m", time.Hour: "h"}[l.Period]
	return fmt.Sprintf("%d/%s", l.Rate, unit)
}

// Parse reads a limit written as N/s, N/m or N/h ("0/m" or "off" disables it).
func Parse(s string) (Limit, error) {
	if strings.TrimSpace(s) == "off" {
		return Limit{}, nil
	}
	n, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	rate, err := strconv.Atoi(n)
	periods := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour}
	period, known := periods[unit]
	if !ok || err != nil || rate < 0 || rate > 1_000_000 || !known {
		return Limit{}, fmt.Errorf("%q is not a rate like 10/m (units s, m, h) or off", s)
	}
	return Limit{Rate: rate, Period: period}, nil
}

// Limiter checks keys against limits in Redis.
type Limiter struct {
	rdb    *redis.Client       // the Redis both live in
	gcra   *redis_rate.Limiter // the shared GCRA state in Redis
	prefix string              // namespace of the keys
}

// New returns a limiter whose keys start with prefix.
func New(rdb *redis.Client, prefix string) *Limiter {
	return &Limiter{rdb: rdb, gcra: redis_rate.NewLimiter(rdb), prefix: prefix}
}

// Decision is the outcome of one check.
type Decision struct {
	Allowed    bool          // whether the event may proceed
	RetryAfter time.Duration // when refused: how long until one more event is allowed
}

// Allow counts one event for key under lim. A disabled limit always allows.
func (l *Limiter) Allow(ctx context.Context, key string, lim Limit) (Decision, error) {
	if lim.Rate == 0 {
		return Decision{Allowed: true}, nil
	}
	res, err := l.gcra.Allow(ctx, l.prefix+":rate:"+key, redis_rate.Limit{Rate: lim.Rate, Burst: lim.Rate, Period: lim.Period})
	if err != nil {
		return Decision{}, fmt.Errorf("rate limit %s: %w", lim, err)
	}
	if res.Allowed > 0 {
		return Decision{Allowed: true}, nil
	}
	return Decision{RetryAfter: res.RetryAfter}, nil
}

// RetryAfterSeconds renders d for a Retry-After header: whole seconds, at least 1.
func RetryAfterSeconds(d time.Duration) string {
	s := int((d + time.Second - 1) / time.Second)
	return strconv.Itoa(max(s, 1))
}

// FirstRefusal reports whether this is the first refusal for key in the current window (it
// remembers for window). Callers audit only the first, so a flood of refused requests does not
// become a flood of audit writes.
func (l *Limiter) FirstRefusal(ctx context.Context, key string, window time.Duration) bool {
	ok, err := l.rdb.SetNX(ctx, l.prefix+":refused:"+key, "1", max(window, time.Second)).Result()
	return err == nil && ok
}
