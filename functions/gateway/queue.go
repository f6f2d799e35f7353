package gateway

import "sync"

// queued is one frame waiting for a connection's writer.
type queued struct {
	// data is the encoded frame, possibly shared with other connections: never modified.
	data []byte
	// at is when the event entered the gateway, as an offset from hub.epoch (monotonic); zero
	// for frames that are not live events. The writer observes the fan-out latency from it.
	at int64
}

// sendQueue holds the frames of one connection until its writer takes them. Live events never
// wait for room: a full queue means the client does not keep up. Replayed events do wait, and
// leave half of the queue free for the live ones. An idle queue holds no buffer.
type sendQueue struct {
	// mu guards frames.
	mu sync.Mutex
	// frames waits for the writer, oldest first.
	frames []queued
	// limit is the most frames that may wait.
	limit int
	// ready wakes the writer when frames is no longer empty.
	ready chan struct{}
	// room wakes a waiting pushWait when the writer has taken frames.
	room chan struct{}
}

// newSendQueue returns an empty queue holding at most limit frames.
func newSendQueue(limit int) *sendQueue {
	return &sendQueue{limit: limit, ready: make(chan struct{}, 1), room: make(chan struct{}, 1)}
}

// push appends f unless the queue is full, and reports whether it did.
func (q *sendQueue) push(f queued) bool {
	q.mu.Lock()
	if len(q.frames) >= q.limit {
		q.mu.Unlock()
		return false
	}
	q.frames = append(q.frames, f)
	q.mu.Unlock()
	wake(q.ready)
	return true
}

// pushWait appends f once the queue is less than half full, or gives up when done is closed.
func (q *sendQueue) pushWait(done <-chan struct{}, f queued) bool {
	for {
		q.mu.Lock()
		if len(q.frames) < q.limit/2 {
			q.frames = append(q.frames, f)
			q.mu.Unlock()
			wake(q.ready)
			return true
		}
		q.mu.Unlock()
		select {
		case <-q.room:
		case <-done:
			return false
		}
	}
}

// take moves every waiting frame into buf (reusing it) and returns it.
func (q *sendQueue) take(buf []queued) []queued {
	q.mu.Lock()
	buf = append(buf, q.frames...)
	clear(q.frames)
	if cap(q.frames) > 64 {
		q.frames = nil // a burst is over; an idle connection keeps no big buffer
	} else {
		q.frames = q.frames[:0]
	}
	q.mu.Unlock()
	wake(q.room)
	return buf
}

// wake signals c without blocking; one pending signal is enough.
func wake(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
