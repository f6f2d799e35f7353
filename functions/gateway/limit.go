package gateway

import (
	"math"
	"time"

	"golang.org/x/time/rate"
)

// newLimiter admits r events per second with bursts of one second's worth (at least one),
// refilling continuously; a negative r admits everything. It is x/time/rate's token bucket, safe
// for concurrent use: one per connection (its frame rate) and one per replica (handshakes).
func newLimiter(r float64) *rate.Limiter {
	if r < 0 {
		return rate.NewLimiter(rate.Inf, 1)
	}
	return rate.NewLimiter(rate.Limit(r), int(math.Ceil(max(r, 1))))
}

// retryAfter is how long until lim admits one more event after now, at least a second (for
// Retry-After). It reserves nothing.
func retryAfter(lim *rate.Limiter, now time.Time) time.Duration {
	res := lim.ReserveN(now, 1)
	defer res.CancelAt(now)
	if !res.OK() {
		return time.Second
	}
	return max(time.Second, res.DelayFrom(now))
}
