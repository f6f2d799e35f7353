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

// mailbox is what a connection's writer has to do: the frames queued for it, a pong owed to the
// client, a ping due, a credential change to re-arm the expiry timer for. Live events never wait for room: a
// full queue means the client does not keep up. Replayed events do wait, and leave half of the
// queue free for the live ones. An idle mailbox holds no buffer and one channel, since every idle
// connection has one.
type mailbox struct {
	// mu guards everything below but ready.
	mu sync.Mutex
	// frames waits for the writer, oldest first.
	frames []queued
	// limit is the most frames that may wait.
	limit int
	// pong is the payload of the last ping to answer, if pongDue.
	pong []byte
	// pongDue says a pong is owed; one pending answer is enough.
	pongDue bool
	// pingDue says the ping interval has passed since the last ping.
	pingDue bool
	// rearm says the credential changed since the writer last looked.
	rearm bool
	// ready wakes the writer when there is something to do.
	ready chan struct{}
	// room wakes a waiting pushWait when the writer has taken frames; made by the first wait.
	room chan struct{}
}

// init prepares an empty mailbox holding at most limit frames.
func (q *mailbox) init(limit int) {
	q.limit, q.ready = limit, make(chan struct{}, 1)
}

// push appends f unless the queue is full, and reports whether it did.
func (q *mailbox) push(f queued) bool {
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
func (q *mailbox) pushWait(done <-chan struct{}, f queued) bool {
	for {
		q.mu.Lock()
		if len(q.frames) < q.limit/2 {
			q.frames = append(q.frames, f)
			q.mu.Unlock()
			wake(q.ready)
			return true
		}
		if q.room == nil {
			q.room = make(chan struct{}, 1)
		}
		room := q.room
		q.mu.Unlock()
		select {
		case <-room:
		case <-done:
			return false
		}
	}
}

// owePong records that the client's ping with payload must be answered.
func (q *mailbox) owePong(payload []byte) {
	q.mu.Lock()
	q.pong, q.pongDue = payload, true
	q.mu.Unlock()
	wake(q.ready)
}

// owePing records that a ping is due.
func (q *mailbox) owePing() {
	q.mu.Lock()
	q.pingDue = true
	q.mu.Unlock()
	wake(q.ready)
}

// credentialChanged tells the writer to re-arm the expiry timer.
func (q *mailbox) credentialChanged() {
	q.mu.Lock()
	q.rearm = true
	q.mu.Unlock()
	wake(q.ready)
}

// work is what take hands the writer.
type work struct {
	// frames are the queued frames, in order.
	frames []queued
	// pong is the payload to answer a ping with, if pongDue.
	pong []byte
	// pongDue says a pong is owed.
	pongDue bool
	// pingDue says a ping is due.
	pingDue bool
	// rearm says the credential changed.
	rearm bool
}

// take moves everything waiting into w (reusing its frames) and returns it.
func (q *mailbox) take(w work) work {
	q.mu.Lock()
	w.frames = append(w.frames[:0], q.frames...)
	clear(q.frames)
	if cap(q.frames) > 64 {
		q.frames = nil // a burst is over; an idle connection keeps no big buffer
	} else {
		q.frames = q.frames[:0]
	}
	w.pong, w.pongDue, w.pingDue, w.rearm = q.pong, q.pongDue, q.pingDue, q.rearm
	q.pong, q.pongDue, q.pingDue, q.rearm = nil, false, false, false
	room := q.room
	q.mu.Unlock()
	if room != nil {
		wake(room)
	}
	return w
}

// wake signals c without blocking; one pending signal is enough.
func wake(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
