package gateway

import (
	"sync"
	"time"
)

// tokenBucket admits up to rate events per second with bursts of up to burst, refilling
// continuously. The zero value admits nothing; a negative rate admits everything. It is not
// safe for concurrent use: a connection's bucket belongs to its reader goroutine.
type tokenBucket struct {
	// rate is the refill per second.
	rate float64
	// burst is the bucket's capacity.
	burst float64
	// tokens is what the bucket held at last.
	tokens float64
	// last is when tokens was computed.
	last time.Time
}

// newTokenBucket returns a full bucket admitting rate per second with a burst of one second's
// worth (at least one).
func newTokenBucket(rate float64) tokenBucket {
	burst := max(rate, 1)
	return tokenBucket{rate: rate, burst: burst, tokens: burst}
}

// allow takes one token at now, if there is one.
func (b *tokenBucket) allow(now time.Time) bool {
	if b.rate < 0 {
		return true
	}
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// retryAfter is how long until the next token, at least a second (for Retry-After).
func (b *tokenBucket) retryAfter() time.Duration {
	if b.rate <= 0 {
		return time.Second
	}
	return max(time.Second, time.Duration((1-b.tokens)/b.rate*float64(time.Second)))
}

// sharedBucket is a tokenBucket for many goroutines: the replica's handshake rate.
type sharedBucket struct {
	// mu guards b.
	mu sync.Mutex
	// b is the bucket.
	b tokenBucket
}

// allow takes one token at now, or says how long to wait.
func (s *sharedBucket) allow(now time.Time) (bool, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.allow(now) {
		return true, 0
	}
	return false, s.b.retryAfter()
}
