package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// client is one WebSocket connection. Its reader goroutine (the handshake's
// handler goroutine) reads and answers frames and owns subs; its writer
// goroutine is the only one that writes to conn. Everything else reaches the
// socket by queueing on send, or by close.
type client struct {
	// id tells connections apart in logs.
	id string
	// identity is who authenticated the handshake; it scopes every channel.
	identity Identity
	// conn is the WebSocket connection.
	conn *websocket.Conn
	// hub tracks the client and its subscriptions.
	hub *hub
	// opts are the gateway's resolved options.
	opts *Options
	// log carries the client's id and identity.
	log *slog.Logger

	// send queues frames for the writer; when it is full the client is a
	// slow consumer and is disconnected.
	send chan []byte
	// pongs queues the payload of the client's pings for the writer to
	// answer; one pending answer is enough.
	pongs chan []byte

	// ctx is canceled by close, aborting a subscribe that waits for Redis.
	ctx context.Context
	// cancel cancels ctx.
	cancel context.CancelFunc
	// closeOnce makes close take effect once.
	closeOnce sync.Once
	// done is closed by close: the writer sends the close frame and ends.
	done chan struct{}
	// closeCode is the close frame's status code, 0 for no close frame.
	// Written before done is closed, read by the writer after.
	closeCode int
	// closeText is the close frame's reason.
	closeText string
	// readerDone is closed when the reader has returned: the client's close
	// frame arrived or the connection failed.
	readerDone chan struct{}
	// writerDone is closed when the writer has returned and closed conn.
	writerDone chan struct{}

	// subs maps the client-side names of the held channels to broker
	// channels. Owned by the reader goroutine.
	subs map[string]string
}

// newClient wraps an upgraded connection.
func newClient(id string, identity Identity, conn *websocket.Conn, h *hub, opts *Options) *client {
	ctx, cancel := context.WithCancel(context.Background())
	return &client{
		id:         id,
		identity:   identity,
		conn:       conn,
		hub:        h,
		opts:       opts,
		log:        opts.Logger.With("client", id, "tenant", identity.Tenant, "subject", identity.Subject),
		send:       make(chan []byte, opts.SendBuffer),
		pongs:      make(chan []byte, 1),
		ctx:        ctx,
		cancel:     cancel,
		done:       make(chan struct{}),
		readerDone: make(chan struct{}),
		writerDone: make(chan struct{}),
		subs:       make(map[string]string),
	}
}

// run serves the connection on the calling goroutine, which becomes the
// reader, until both goroutines have ended and the client left the hub.
func (c *client) run() {
	defer c.hub.remove(c)
	go c.writeLoop()
	c.readLoop()
	close(c.readerDone)
	c.close(0, "")
	for _, channel := range c.subs {
		c.hub.unsubscribe(c, channel)
	}
	<-c.writerDone
}

// close asks the writer to send a close frame with code (none if 0) and
// end the connection. Only the first call counts; it reports whether it was
// this one. Safe from any goroutine.
func (c *client) close(code int, text string) bool {
	first := false
	c.closeOnce.Do(func() {
		c.closeCode, c.closeText = code, text
		close(c.done)
		c.cancel()
		first = true
	})
	return first
}

// abort closes the socket under both goroutines, for a shutdown that ran
// out of time. Closing is not writing, so the writer stays the only writer.
func (c *client) abort() {
	_ = c.conn.Close()
}

// deliver queues frame for the writer without blocking. A full queue means
// the client does not keep up; it is disconnected so that neither the hub
// nor other clients wait for it.
func (c *client) deliver(frame []byte) {
	select {
	case c.send <- frame:
		return
	case <-c.done:
		return
	default:
	}
	if c.close(websocket.ClosePolicyViolation, "slow consumer") {
		c.hub.metrics.slowConsumers.Inc()
		c.log.Warn("gateway: disconnecting slow consumer", "buffered", len(c.send))
	}
}

// readLoop reads frames until the connection ends. Its handlers only queue
// work for the writer; they never write.
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
		select {
		case c.pongs <- []byte(data):
		default:
		}
		return nil
	})
	c.conn.SetCloseHandler(func(code int, _ string) error {
		// RFC 6455 §5.5.1: answer with a close frame echoing the status.
		c.close(code, "")
		return nil
	})
	for {
		typ, data, err := c.conn.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				c.close(websocket.CloseMessageTooBig, "message too big")
			}
			return
		}
		alive()
		c.handle(typ, data)
	}
}

// handle answers one client frame. Mistakes get an error frame and leave
// the connection open.
func (c *client) handle(typ int, data []byte) {
	if typ != websocket.TextMessage {
		c.deliver(errorFrame(codeBadRequest, "frames must be JSON text"))
		return
	}
	var m inbound
	if err := json.Unmarshal(data, &m); err != nil || m.Type == "" {
		c.deliver(errorFrame(codeBadRequest, `frame must be a JSON object with a "type"`))
		return
	}
	switch m.Type {
	case typePing:
		c.deliver(pongFrame)
	case typeSubscribe:
		c.subscribe(m.Channel)
	case typeUnsubscribe:
		c.unsubscribe(m.Channel)
	default:
		c.deliver(errorFrame(codeUnknownType, "unknown frame type "+quote(m.Type)))
	}
}

// subscribe holds the named channel and acknowledges it once Redis has
// confirmed; holding it already is acknowledged again.
func (c *client) subscribe(name string) {
	canonical, channel, err := parseChannel(c.opts.ChannelPrefix, c.identity.Tenant, name)
	if err != nil {
		c.deliver(errorFrame(codeInvalidChannel, err.Error()))
		return
	}
	ack := encode(outbound{Type: typeSubscribed, Channel: canonical})
	if _, ok := c.subs[canonical]; ok {
		c.deliver(ack)
		return
	}
	if len(c.subs) >= c.opts.MaxSubscriptions {
		c.deliver(errorFrame(codeTooManySubscriptions, "subscription limit reached"))
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.SubscribeTimeout)
	defer cancel()
	if err := c.hub.subscribe(ctx, c, canonical, channel, ack); err != nil {
		if c.ctx.Err() != nil {
			return // closing; nobody to tell
		}
		c.log.Warn("gateway: subscribe", "channel", canonical, "error", err)
		c.deliver(errorFrame(codeUnavailable, "could not subscribe, try again"))
		return
	}
	c.subs[canonical] = channel
}

// unsubscribe releases the named channel; releasing one not held is
// acknowledged all the same. No event of it follows the acknowledgement.
func (c *client) unsubscribe(name string) {
	canonical, _, err := parseChannel(c.opts.ChannelPrefix, c.identity.Tenant, name)
	if err != nil {
		c.deliver(errorFrame(codeInvalidChannel, err.Error()))
		return
	}
	if channel, ok := c.subs[canonical]; ok {
		c.hub.unsubscribe(c, channel)
		delete(c.subs, canonical)
	}
	c.deliver(encode(outbound{Type: typeUnsubscribed, Channel: canonical}))
}

// writeLoop is the only writer of conn: queued frames, pongs, pings and
// finally the close frame. It closes conn when it returns.
func (c *client) writeLoop() {
	defer close(c.writerDone)
	defer c.conn.Close()
	ping := time.NewTicker(c.opts.PingInterval)
	defer ping.Stop()
	recheck := time.NewTicker(c.opts.RecheckInterval)
	defer recheck.Stop()
	var expired <-chan time.Time
	if !c.identity.ExpiresAt.IsZero() {
		t := time.NewTimer(time.Until(c.identity.ExpiresAt))
		defer t.Stop()
		expired = t.C
	}
	for {
		// A closing client gets no more frames, however many are queued.
		select {
		case <-c.done:
			c.writeClose()
			return
		default:
		}
		var err error
		select {
		case <-c.done:
			c.writeClose()
			return
		case frame := <-c.send:
			_ = c.conn.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
			if err = c.conn.WriteMessage(websocket.TextMessage, frame); err == nil {
				c.hub.metrics.messagesSent.Inc()
			}
		case data := <-c.pongs:
			err = c.conn.WriteControl(websocket.PongMessage, data, time.Now().Add(c.opts.WriteTimeout))
		case <-ping.C:
			err = c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.opts.WriteTimeout))
		case <-expired:
			c.log.Info("gateway: token expired; closing")
			c.close(CloseTokenExpired, "token expired")
			continue
		case <-recheck.C:
			if c.revoked() {
				c.log.Info("gateway: token revoked; closing")
				c.close(CloseTokenRevoked, "token revoked")
			}
			continue
		}
		if err != nil {
			c.log.Debug("gateway: write", "error", err)
			c.close(0, "")
			return
		}
	}
}

// revoked asks whether the connection's credential has been revoked since the handshake. A check
// that fails (Redis unreachable) keeps the connection: the next interval asks again.
func (c *client) revoked() bool {
	if c.identity.Revoked == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(c.ctx, 2*time.Second)
	defer cancel()
	yes, err := c.identity.Revoked(ctx)
	if err != nil {
		c.log.Warn("gateway: revocation check failed", "error", err)
		return false
	}
	return yes
}

// writeClose sends the close frame, if any, and gives the client until the
// write timeout to answer with its own, so that closing the socket does not
// reset a connection with our close frame still in flight.
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
