package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/phoenixotel/phoenix/shared/wsproto"
)

// loadConn is one connection of the test and what its reader saw.
type loadConn struct {
	ws       *websocket.Conn // the connection
	tenant   int             // index of its tenant
	next     uint64          // the sequence number it expects next; 0: the channel's first, any number
	got      int             // events received in order
	dup      int             // events with a number already seen
	gaps     int             // numbers skipped
	latency  []time.Duration // cause-to-receipt time of each event
	errFrame string          // the first error frame, if any
	ended    error           // why the connection ended before the test closed it
}

// openAll opens and subscribes every connection with bounded concurrency, retrying refusals the
// gateway asks to retry (503, 429 with Retry-After), as a well-behaved client does.
func openAll(ctx context.Context, o loadOptions, tokenFor func(int) (string, int, error), rep *loadReport) ([]*loadConn, error) {
	dialers := make([]*websocket.Dialer, o.sources)
	loopback := isLoopback(o.gateway)
	for i := range dialers {
		nd := &net.Dialer{Timeout: 30 * time.Second}
		if loopback && o.sources > 1 {
			nd.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i))}
		}
		dialers[i] = &websocket.Dialer{NetDialContext: nd.DialContext, HandshakeTimeout: 30 * time.Second,
			ReadBufferSize: 1024, WriteBufferSize: 512}
	}
	conns := make([]*loadConn, o.connections)
	times := make([]time.Duration, o.connections)
	var failed atomic.Int64
	var mu sync.Mutex
	next := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range o.concurrency {
		wg.Go(func() {
			for i := range next {
				t0 := time.Now()
				c, err := openOne(ctx, dialers[i%len(dialers)], o.gateway, tokenFor, i)
				if err != nil {
					failed.Add(1)
					mu.Lock()
					if len(rep.Failed) < 5 {
						rep.Failed = append(rep.Failed, err.Error())
					}
					mu.Unlock()
					continue
				}
				times[i] = time.Since(t0)
				conns[i] = c
			}
		})
	}
	for i := range o.connections {
		select {
		case next <- i:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(next)
	wg.Wait()
	rep.ConnectWall = time.Since(start)
	rep.FailedCount = int(failed.Load())
	for i, c := range conns {
		if c != nil {
			rep.Opened++
			rep.Connect = append(rep.Connect, times[i])
		}
	}
	return conns, ctx.Err()
}

// openOne opens connection i and subscribes it to its tenant channel.
func openOne(ctx context.Context, d *websocket.Dialer, gw string, tokenFor func(int) (string, int, error), i int) (*loadConn, error) {
	token, tenant, err := tokenFor(i)
	if err != nil {
		return nil, err
	}
	header := http.Header{"Authorization": {"Bearer " + token}}
	var ws *websocket.Conn
	for attempt := 0; ; attempt++ {
		var resp *http.Response
		ws, resp, err = d.DialContext(ctx, gw, header)
		if err == nil {
			break
		}
		if resp == nil || (resp.StatusCode != http.StatusServiceUnavailable && resp.StatusCode != http.StatusTooManyRequests) || attempt >= 30 {
			if resp != nil {
				return nil, fmt.Errorf("connection %d: %s", i, resp.Status)
			}
			return nil, fmt.Errorf("connection %d: %w", i, err)
		}
		wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		// Back off as told, at most 2 s, with jitter so the retries do not arrive together.
		backoff := min(time.Duration(max(wait, 1))*time.Second, 2*time.Second)
		if !sleepCtx(ctx, backoff/2+rand.N(backoff/2)) { // #nosec G404 -- retry jitter
			return nil, ctx.Err()
		}
	}
	c := &loadConn{ws: ws, tenant: tenant}
	_ = ws.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if err := ws.WriteJSON(wsproto.ClientFrame{Type: wsproto.Subscribe, Channel: wsproto.ChannelTenant}); err != nil {
		_ = ws.Close()
		return nil, fmt.Errorf("connection %d: subscribe: %w", i, err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	var f wsproto.ServerFrame
	if err := ws.ReadJSON(&f); err != nil || f.Type != wsproto.Subscribed {
		_ = ws.Close()
		return nil, fmt.Errorf("connection %d: subscribe answered %+v, %v", i, f, err)
	}
	// A channel that never had an event (seq 0) starts its numbering at any number (Redis's
	// clock, see docs/websocket.md): its first event is expected, whatever it is.
	if n := f.Number(); n > 0 {
		c.next = n + 1
	}
	return c, nil
}

// How the gateway's error and event frames begin (it writes "type" first), for scanning frames
// without decoding them.
const (
	errorFramePrefix = `{"type":"` + wsproto.Error + `"`
	eventFramePrefix = `{"type":"` + wsproto.Event + `"`
)

// read receives events until the connection is closed, calling done once it has want of the
// events stamp recognises (stamp gives the time each was caused). Frames are read into one reused
// buffer and scanned for the few fields the test needs: at ten thousand connections the tool
// must cost less than the gateway it measures.
func (c *loadConn) read(want int, deadline time.Time, stamp func(frame []byte) (time.Time, bool), done func()) {
	c.latency = make([]time.Duration, 0, want)
	signalled := false
	signal := func() {
		if !signalled {
			signalled = true
			done()
		}
	}
	defer signal()
	_ = c.ws.SetReadDeadline(deadline)
	var buf bytes.Buffer
	for {
		_, r, err := c.ws.NextReader()
		if err == nil {
			buf.Reset()
			_, err = buf.ReadFrom(r)
		}
		at := time.Now()
		if err != nil {
			var ce *websocket.CloseError
			if !errors.Is(err, net.ErrClosed) && !(errors.As(err, &ce) && ce.Code == websocket.CloseNormalClosure) {
				c.ended = err
			}
			return
		}
		frame := buf.Bytes()
		switch {
		case bytes.HasPrefix(frame, []byte(errorFramePrefix)):
			if c.errFrame == "" {
				c.errFrame = string(frame)
			}
		case !bytes.HasPrefix(frame, []byte(eventFramePrefix)):
		default:
			seq, okSeq := numberAfter(frame, `"seq":`) // the gateway's, which precedes the event's data
			switch {
			case !okSeq:
				if c.errFrame == "" {
					c.errFrame = "unreadable event " + string(frame)
				}
			case seq < c.next:
				c.dup++
			default:
				if c.next == 0 {
					c.next = seq
				}
				c.gaps += int(seq - c.next) // #nosec G115 -- seq ≥ next here and counts events of this run
				c.next = seq + 1
				sent, ours := stamp(frame)
				if !ours {
					continue // another event of the tenant: in sequence, not one the test caused
				}
				c.got++
				c.latency = append(c.latency, at.Sub(sent))
				if c.got == want {
					signal()
				}
			}
		}
	}
}

// numberAfter reads the unsigned integer that follows the first key in frame.
func numberAfter(frame []byte, key string) (uint64, bool) {
	rest, ok := after(frame, key)
	end := 0
	for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	n, err := strconv.ParseUint(string(rest[:end]), 10, 64)
	return n, ok && err == nil
}

// stringAfter reads the JSON string (without escapes) that follows the first key in frame, the
// key including the opening quote of the value.
func stringAfter(frame []byte, key string) (string, bool) {
	rest, ok := after(frame, key)
	end := bytes.IndexByte(rest, '"')
	if !ok || end < 0 {
		return "", false
	}
	return string(rest[:end]), true
}

// after is what follows the first key in frame, or false when frame lacks it.
func after(frame []byte, key string) ([]byte, bool) {
	i := bytes.Index(frame, []byte(key))
	if i < 0 {
		return nil, false
	}
	return frame[i+len(key):], true
}

// closeAll closes every connection with a close frame, in parallel.
func closeAll(conns []*loadConn) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 256)
	for _, c := range conns {
		if c == nil {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
			_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
			_ = c.ws.Close()
		})
	}
	wg.Wait()
}

// ensureOpenFiles raises the soft open-files limit to need if the hard limit allows, since every
// connection is a file descriptor.
func ensureOpenFiles(need uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return nil // cannot tell; the dials will say
	}
	if lim.Cur >= need {
		return nil
	}
	if lim.Max >= need {
		lim.Cur = need
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil {
			return nil
		}
	}
	return fmt.Errorf("the open-files limit is %d (hard %d) but %d connections need about %d: raise it (ulimit -n) or open fewer",
		lim.Cur, lim.Max, need-256, need)
}

// isLoopback reports whether the gateway URL names a loopback host.
func isLoopback(gw string) bool {
	u, err := url.Parse(gw)
	if err != nil {
		return false
	}
	if u.Hostname() == "localhost" {
		return true
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback() && ip.To4() != nil
}
