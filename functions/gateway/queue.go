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
// client, a ping due, a credential change to re-arm the expiry timer for, the close. Live events
// never wait for room: a full queue means the client does not keep up. Replayed events do wait,
// and leave half of the queue free for the live ones.
//
// The writer goroutine runs only while there is something to do: the producer that finds the
// mailbox idle is told to start it (every method returning start), and the writer ends when
// take finds nothing. At most one runs at a time, so the writer is still the only one writing;
// an idle connection holds no writer stack (most connections are idle most of the time).
type mailbox struct {
	// mu guards everything below.
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
	// closed says the connection is closing: the writer sends the close frame and ends it.
	closed bool
	// writing says a writer goroutine is running (or about to); only it clears it.
	writing bool
	// room wakes a waiting pushWait when the writer has taken frames; made by the first wait.
	room chan struct{}
}

// init prepares an empty mailbox holding at most limit frames.
func (q *mailbox) init(limit int) {
	q.limit = limit
}

// claim marks the mailbox as having a writer and reports whether it needs one started. q.mu
// must be held.
func (q *mailbox) claim() (start bool) {
	start = !q.writing
	q.writing = true
	return start
}

// push appends f unless the queue is full. ok reports whether it did; start that the caller must
// start the writer.
func (q *mailbox) push(f queued) (ok, start bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.frames) >= q.limit {
		return false, false
	}
	q.frames = append(q.frames, f)
	return true, q.claim()
}

// pushWait appends f once the queue is less than half full, or gives up when done is closed.
// start is as for push.
func (q *mailbox) pushWait(done <-chan struct{}, f queued, startWriter func()) bool {
	for {
		q.mu.Lock()
		if len(q.frames) < q.limit/2 {
			q.frames = append(q.frames, f)
			start := q.claim()
			q.mu.Unlock()
			if start {
				startWriter()
			}
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
func (q *mailbox) owePong(payload []byte) (start bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pong, q.pongDue = payload, true
	return q.claim()
}

// owePing records that a ping is due.
func (q *mailbox) owePing() (start bool) { return q.mark(&q.pingDue) }

// credentialChanged tells the writer to re-arm the expiry timer.
func (q *mailbox) credentialChanged() (start bool) { return q.mark(&q.rearm) }

// close tells the writer to send the close frame and end the connection.
func (q *mailbox) close() (start bool) { return q.mark(&q.closed) }

// mark sets one of the mailbox's flags and claims it for a writer.
func (q *mailbox) mark(flag *bool) (start bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	*flag = true
	return q.claim()
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
	// closed says the connection is closing; the rest is then empty.
	closed bool
}

// take moves everything waiting into w and returns it, with ok false when there was nothing:
// the writer then ends, and the next producer starts another. Once closed, take reports only
// that, and the writer that sees it keeps the mailbox claimed for good. The frame buffers are
// swapped rather than copied, so one connection keeps at most one small buffer between bursts.
func (q *mailbox) take(w work) (_ work, ok bool) {
	q.mu.Lock()
	w.frames = w.frames[:0]
	if cap(w.frames) > 64 {
		w.frames = nil // a burst is over; an idle connection keeps no big buffer
	}
	if q.closed {
		q.mu.Unlock()
		return work{closed: true}, true
	}
	if len(q.frames) == 0 && !q.pongDue && !q.pingDue && !q.rearm {
		if q.frames == nil {
			q.frames = w.frames
		}
		q.writing = false
		q.mu.Unlock()
		return work{}, false
	}
	w.frames, q.frames = q.frames, w.frames
	w.pong, w.pongDue, w.pingDue, w.rearm = q.pong, q.pongDue, q.pingDue, q.rearm
	q.pong, q.pongDue, q.pingDue, q.rearm = nil, false, false, false
	room := q.room
	q.mu.Unlock()
	if room != nil {
		wake(room)
	}
	return w, true
}

// wake signals c without blocking; one pending signal is enough.
func wake(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
