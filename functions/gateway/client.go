package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/phoenixotel/phoenix/shared/wsproto"
)

// client is one WebSocket connection. Its reader goroutine reads and answers frames and owns
// subs and bucket; its writer goroutine, which runs while there is something to write (see
// mailbox), is the only one that writes to conn. Everything else reaches the socket by queueing
// on queue, or by close.
type client struct {
	// id tells connections apart in logs.
	id uint64
	// owner is the tenant and subject the connection counts against; re-authentication keeps it.
	owner userKey
	// identity is the current credential; in-band re-authentication replaces it.
	identity atomic.Pointer[Identity]
	// conn is the WebSocket connection.
	conn *websocket.Conn
	// hub tracks the client and its subscriptions.
	hub *hub
	// opts are the gateway's resolved options.
	opts *Options

	// queue holds what the writer has to do, and starts it.
	queue mailbox
	// out writes data frames; used by the writer only.
	out sender
	// pinger queues a ping every PingInterval; reset by the writer after each ping.
	pinger *time.Timer
	// expiry closes the connection when its credential expires; re-armed by the writer.
	expiry *time.Timer

	// closeOnce makes close take effect once.
	closeOnce sync.Once
	// done is closed by close: the writer sends the close frame and ends.
	done chan struct{}
	// closeCode is the close frame's status code, 0 for no close frame. Written before done is
	// closed, read by the writer after.
	closeCode int
	// closeText is the close frame's reason.
	closeText string
	// reason is why the connection ended, for the disconnect metric; written with closeCode.
	reason string
	// readerDone is closed when the reader has returned: the client's close frame arrived or
	// the connection failed.
	readerDone chan struct{}
	// writerDone is closed when the last writer has sent the close frame and closed conn.
	writerDone chan struct{}

	// subs are the held channels. Owned by whichever goroutine handles frames (one at a time);
	// a slice, since a map per idle connection costs more than scanning MaxSubscriptions entries.
	subs []held
	// bucket limits the client's frame rate. Owned like subs.
	bucket *rate.Limiter
}

// held is one channel a client holds.
type held struct {
	// name is the client-side channel name.
	name string
	// redisName is the Redis channel.
	redisName string
}

// newClient wraps an upgraded connection.
func newClient(id uint64, identity Identity, conn *websocket.Conn, h *hub) *client {
	c := &client{
		id:         id,
		owner:      userKey{identity.Tenant, identity.Subject},
		conn:       conn,
		hub:        h,
		opts:       h.opts,
		done:       make(chan struct{}),
		readerDone: make(chan struct{}),
		writerDone: make(chan struct{}),
		bucket:     newLimiter(h.opts.MessageRate),
	}
	c.queue.init(h.opts.SendQueue)
	c.out = sender{conn: conn.NetConn(), timeout: h.opts.WriteTimeout, pool: &h.batches}
	c.identity.Store(&identity)
	// The timers are armed before anyone else can see the client (its writer uses them).
	afterFunc(&c.pinger, h.opts.PingInterval, c.pingDue)
	c.arm()
	return c
}

// log returns a logger naming the connection. It is built when needed: a logger per idle
// connection would cost memory for nothing.
func (c *client) log() *slog.Logger {
	return c.hub.log.With("client", c.id, "tenant", c.owner.tenant, "subject", c.owner.subject)
}

// start runs the connection's reader on a new goroutine, so that the handshake's goroutine (and
// the HTTP server's state for it) is released. The reader cleans up when the connection has
// ended.
func (c *client) start() {
	go c.run()
}

// refuse ends a client that will never start, with code: its writer sends the close frame.
func (c *client) refuse(code int, text, reason string) {
	close(c.readerDone) // no reader will answer the close frame
	c.close(code, text, reason)
}

// startWriter runs the writer; called by whoever the mailbox tells to.
func (c *client) startWriter() { go c.writeRun() }

// pingDue queues a ping; the pinger's function.
func (c *client) pingDue() {
	if c.queue.owePing() {
		c.startWriter()
	}
}

// arm sets the expiry timer for the current credential, replacing the previous one. Called by
// newClient, then by the writer.
func (c *client) arm() {
	if c.expiry != nil {
		c.expiry.Stop()
		c.expiry = nil
	}
	if at := c.identity.Load().ExpiresAt; !at.IsZero() {
		afterFunc(&c.expiry, time.Until(at), func() {
			c.close(wsproto.CloseTokenExpired, "token expired", disconnectExpired)
		})
	}
}

// afterFunc stores in *slot a timer that runs f after d. The timer is stored while idle and set
// afterwards, so that the store happens before f runs (f may start the writer, which uses it).
func afterFunc(slot **time.Timer, d time.Duration, f func()) {
	*slot = time.AfterFunc(time.Duration(1<<63-1), f)
	(*slot).Reset(d)
}

// run is the reader goroutine: it reads until the connection ends, then releases the client's
// subscriptions, waits for the writer and leaves the hub.
func (c *client) run() {
	defer c.hub.conns.remove(c)
	c.readLoop()
	close(c.readerDone)
	c.close(0, "", disconnectLost)
	for _, s := range c.subs {
		c.hub.unsubscribe(c, s.redisName)
	}
	<-c.writerDone
}

// close asks the writer to send a close frame with code (none if 0) and end the connection;
// reason is recorded for the disconnect metric. Only the first call counts; it reports whether
// it was this one. Safe from any goroutine.
func (c *client) close(code int, text, reason string) bool {
	first := false
	c.closeOnce.Do(func() {
		c.closeCode, c.closeText, c.reason = code, text, reason
		close(c.done)
		first = true
	})
	if first && c.queue.close() {
		c.startWriter()
	}
	return first
}

// abort closes the socket under both goroutines, for a shutdown that ran out of time. Closing is
// not writing, so the writer stays the only writer.
func (c *client) abort() {
	_ = c.conn.Close()
}

// deliver queues f for the writer without blocking. A full queue means the client does not keep
// up; it is disconnected so that neither the hub nor other clients wait for it.
func (c *client) deliver(f queued) {
	select {
	case <-c.done:
		return
	default:
	}
	ok, start := c.queue.push(f)
	if start {
		c.startWriter()
	}
	if ok {
		return
	}
	if c.close(wsproto.CloseSlowReader, "slow reader", disconnectSlowReader) {
		c.log().Warn("gateway: disconnecting a slow reader", "queued", c.opts.SendQueue)
	}
}

// deliverWait queues f once there is room, for replayed events; false means the client closed.
func (c *client) deliverWait(f queued) bool {
	return c.queue.pushWait(c.done, f, c.startWriter)
}

// readLoop reads frames until the connection ends. Its handlers only queue work for the writer;
// they never write.
func (c *client) readLoop() {
	c.conn.SetReadLimit(c.opts.MaxMessageSize)
	alive := func() { _ = c.conn.SetReadDeadline(time.Now().Add(c.opts.PongWait)) }
	alive()
	c.conn.SetPongHandler(func(string) error {
		alive()
		return nil
	})
	c.conn.SetPingHandler(func(data string) error {
		alive()
		if c.queue.owePong([]byte(data)) {
			c.startWriter()
		}
		return nil
	})
	c.conn.SetCloseHandler(func(code int, _ string) error {
		// RFC 6455 §5.5.1: answer with a close frame echoing the status.
		c.close(code, "", disconnectClient)
		return nil
	})
	for {
		typ, data, err := c.conn.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				c.close(websocket.CloseMessageTooBig, "message too big", disconnectTooBig)
			}
			return
		}
		alive()
		c.hub.metrics.messagesIn.Inc()
		c.handleAside(typ, data)
	}
}

// handleAside handles a frame on a short-lived goroutine and waits for it, cancelling its work if
// the connection closes meanwhile. Handling (JSON, Redis, the database) needs a deep stack; on a
// goroutine of its own that stack is given back when it is done, instead of staying with the
// reader of every idle connection. Frames are still handled one at a time, in order.
func (c *client) handleAside(typ int, data []byte) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	handled := make(chan struct{})
	go func() {
		defer close(handled)
		c.handle(ctx, typ, data)
	}()
	select {
	case <-handled:
	case <-c.done:
		cancel()
		<-handled
	}
}

// handle answers one client frame. Mistakes get an error frame and leave the connection open.
// ctx ends when the connection closes.
func (c *client) handle(ctx context.Context, typ int, data []byte) {
	if !c.bucket.Allow() {
		c.hub.metrics.dropped.WithLabelValues(droppedRateLimited).Inc()
		c.deliver(queued{data: errorFrame(wsproto.CodeRateLimited, "too many frames; this one was ignored")})
		return
	}
	if typ != websocket.TextMessage {
		c.deliver(queued{data: errorFrame(wsproto.CodeBadRequest, "frames must be JSON text")})
		return
	}
	var m wsproto.ClientFrame
	if err := json.Unmarshal(data, &m); err != nil || m.Type == "" {
		c.deliver(queued{data: errorFrame(wsproto.CodeBadRequest, `frame must be a JSON object with a "type" (and "since" a non-negative integer)`)})
		return
	}
	switch m.Type {
	case wsproto.Ping:
		c.deliver(queued{data: pongFrame})
	case wsproto.Subscribe:
		c.subscribe(ctx, m.Channel, m.Since)
	case wsproto.Unsubscribe:
		c.unsubscribe(m.Channel)
	case wsproto.Auth:
		c.reauthenticate(ctx, m.Token)
	default:
		c.deliver(queued{data: errorFrame(wsproto.CodeUnknownType, "unknown frame type "+quote(m.Type))})
	}
}

// subscribe holds the named channel: checked, confirmed by Redis, acknowledged with its latest
// number, and with since preceded by the events after since.
func (c *client) subscribe(ctx context.Context, name string, since *uint64) {
	id := c.identity.Load()
	canonical, ch, err := parseChannel(id.Tenant, name)
	if err != nil {
		c.deliver(queued{data: errorFrame(wsproto.CodeInvalidChannel, err.Error())})
		return
	}
	if c.holding(canonical) >= 0 {
		c.deliver(queued{data: channelErrorFrame(wsproto.CodeAlreadySubscribed, canonical, "already subscribed; unsubscribe first to subscribe with since")})
		return
	}
	if len(c.subs) >= c.opts.MaxSubscriptions {
		c.deliver(queued{data: channelErrorFrame(wsproto.CodeTooManySubscriptions, canonical, "subscription limit reached")})
		return
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.SubscribeTimeout)
	defer cancel()
	if ch.Experiment != uuid.Nil {
		exists, err := c.hub.experiments.ExperimentExists(ctx, id.Tenant, ch.Experiment)
		if err != nil {
			c.log().Warn("gateway: look up experiment", "experiment", ch.Experiment, "error", err)
			c.deliver(queued{data: channelErrorFrame(wsproto.CodeUnavailable, canonical, "could not subscribe, try again")})
			return
		}
		if !exists {
			c.deliver(queued{data: channelErrorFrame(wsproto.CodeNotFound, canonical, "no such experiment in your tenant")})
			return
		}
	}
	if err := c.hub.subscribe(ctx, c, canonical, ch, since); err != nil {
		if c.closing() {
			return // nobody to tell
		}
		c.log().Warn("gateway: subscribe", "channel", canonical, "error", err)
		c.deliver(queued{data: channelErrorFrame(wsproto.CodeUnavailable, canonical, "could not subscribe, try again")})
		return
	}
	c.subs = append(c.subs, held{name: canonical, redisName: ch.Name(c.opts.ChannelPrefix)})
}

// holding returns the index of the named channel in subs, or -1.
func (c *client) holding(name string) int {
	for i, s := range c.subs {
		if s.name == name {
			return i
		}
	}
	return -1
}

// closing reports whether close has been called.
func (c *client) closing() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// unsubscribe releases the named channel; releasing one not held is acknowledged all the same.
// No event of it follows the acknowledgement.
func (c *client) unsubscribe(name string) {
	canonical, _, err := parseChannel(c.owner.tenant, name)
	if err != nil {
		c.deliver(queued{data: errorFrame(wsproto.CodeInvalidChannel, err.Error())})
		return
	}
	if i := c.holding(canonical); i >= 0 {
		c.hub.unsubscribe(c, c.subs[i].redisName)
		c.subs = append(c.subs[:i], c.subs[i+1:]...)
	}
	c.deliver(queued{data: unsubscribedFrame(canonical)})
}

// reauthenticate replaces the connection's credential with a fresher one of the same tenant and
// subject, which moves its expiry. A token that is not accepted leaves the old credential in
// place, expiry included.
func (c *client) reauthenticate(ctx context.Context, token string) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.SubscribeTimeout)
	defer cancel()
	id, err := authenticate(ctx, c.hub.opts.Authenticator, token)
	switch {
	case errors.Is(err, ErrUnavailable):
		c.deliver(queued{data: errorFrame(wsproto.CodeUnavailable, "could not check the token, try again")})
		return
	case err != nil:
		c.log().Info("gateway: in-band authentication refused", "error", err)
		c.deliver(queued{data: errorFrame(wsproto.CodeUnauthorized, "token not accepted; the connection keeps its current one")})
		return
	case id.Tenant != c.owner.tenant || id.Subject != c.owner.subject:
		c.deliver(queued{data: errorFrame(wsproto.CodeForbidden, "the token is for another tenant or subject")})
		return
	case !id.ReadExperiments:
		c.deliver(queued{data: errorFrame(wsproto.CodeForbidden, "the token may not read experiments")})
		return
	}
	c.identity.Store(&id)
	if c.queue.credentialChanged() {
		c.startWriter()
	}
	c.deliver(queued{data: authenticatedFrame(id.ExpiresAt)})
}

// writeRun is the writer: it writes what the mailbox holds (pongs, pings, queued frames) until
// take finds nothing, then ends; the next producer starts it again. When the connection closes
// it sends the close frame, stops the timers and closes conn.
func (c *client) writeRun() {
	var w work
	for {
		var ok bool
		if w, ok = c.queue.take(w); !ok {
			return
		}
		if w.closed {
			c.finish()
			return
		}
		if w.rearm {
			c.arm()
		}
		var err error
		if w.pongDue {
			err = c.conn.WriteControl(websocket.PongMessage, w.pong, time.Now().Add(c.opts.WriteTimeout))
		}
		if err == nil && w.pingDue {
			err = c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.opts.WriteTimeout))
			c.pinger.Reset(c.opts.PingInterval)
		}
		if err == nil {
			err = c.write(w.frames)
		}
		clear(w.frames)
		if err != nil {
			c.log().Debug("gateway: write", "error", err)
			c.close(0, "", disconnectWriteError) // the next take says closed
		}
	}
}

// finish ends the connection: the close frame, if any, then conn is closed. The last writer
// runs it once.
func (c *client) finish() {
	defer close(c.writerDone)
	c.pinger.Stop()
	if c.expiry != nil {
		c.expiry.Stop()
	}
	c.writeClose()
	_ = c.conn.Close()
}

// write writes frames in order with one write and observes the fan-out latency of live events.
// A batch already taken is written even if the client starts closing meanwhile: it is bounded by
// the send queue and the write timeout.
func (c *client) write(frames []queued) error {
	if len(frames) == 0 {
		return nil
	}
	if err := c.out.send(frames); err != nil {
		return err
	}
	c.hub.metrics.messagesOut.Add(float64(len(frames)))
	at := c.hub.now()
	for _, f := range frames {
		if f.at != 0 {
			c.hub.metrics.fanout.Observe(time.Duration(at - f.at).Seconds())
		}
	}
	return nil
}

// writeClose sends the close frame, if any, and gives the client until the write timeout to
// answer with its own, so that closing the socket does not reset a connection with our close
// frame still in flight.
func (c *client) writeClose() {
	if c.closeCode == 0 {
		return
	}
	msg := websocket.FormatCloseMessage(c.closeCode, c.closeText)
	if err := c.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(c.opts.WriteTimeout)); err != nil {
		return
	}
	wait := time.NewTimer(c.opts.WriteTimeout)
	defer wait.Stop()
	select {
	case <-c.readerDone:
	case <-wait.C:
	}
}

// quote renders a client-supplied string for an error message, truncated.
func quote(s string) string {
	const limit = 64
	if len(s) > limit {
		s = s[:limit] + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}
