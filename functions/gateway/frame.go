package gateway

import (
	"encoding/binary"
	"net"
	"sync"
	"time"
)

// maxHeader is the longest header of an unmasked WebSocket frame (RFC 6455 §5.2).
const maxHeader = 10

// keptBatch is the largest batch buffer returned to the pool; a bigger one, from a long replay,
// is left to the collector so the pool does not pin it.
const keptBatch = 64 << 10

// appendTextFrame appends payload as one unfragmented, unmasked text frame: the form a server
// sends (RFC 6455 §5.2: FIN and opcode 1, then the length in 7, 7+16 or 7+64 bits).
func appendTextFrame(b, payload []byte) []byte {
	const finText = 0x80 | 0x1
	n := len(payload)
	switch {
	case n <= 125:
		b = append(b, finText, byte(n))
	case n <= 0xFFFF:
		b = append(b, finText, 126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, finText, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, payload...)
}

// sender writes a connection's data frames to its socket, a batch at a time with one write.
// gorilla/websocket writes one message per write and sets the socket's deadline before each,
// which moves a runtime timer every time; at ten thousand connections per event both show in a
// fan-out. Only the connection's writer goroutine uses a sender; control frames still go through
// gorilla/websocket, from the same goroutine, so frames never interleave.
type sender struct {
	// conn is the connection's socket.
	conn net.Conn
	// timeout bounds a write.
	timeout time.Duration
	// deadline is the socket's write deadline as this sender last set it. Control frames set it
	// later, never earlier, so a write here always has between timeout/2 and timeout.
	deadline time.Time
	// pool lends batch buffers, shared by every connection: an idle one holds none.
	pool *sync.Pool
}

// send writes frames, each as one text frame, in one write.
func (s *sender) send(frames []queued) error {
	now := time.Now()
	if s.deadline.Sub(now) < s.timeout/2 {
		s.deadline = now.Add(s.timeout)
		if err := s.conn.SetWriteDeadline(s.deadline); err != nil {
			return err
		}
	}
	size := 0
	for _, f := range frames {
		size += maxHeader + len(f.data)
	}
	bp, _ := s.pool.Get().(*[]byte)
	if bp == nil || cap(*bp) < size {
		b := make([]byte, 0, max(size, 4<<10))
		bp = &b
	}
	b := (*bp)[:0]
	for _, f := range frames {
		b = appendTextFrame(b, f.data)
	}
	_, err := s.conn.Write(b)
	if cap(b) <= keptBatch {
		*bp = b[:0]
		s.pool.Put(bp)
	}
	return err
}
