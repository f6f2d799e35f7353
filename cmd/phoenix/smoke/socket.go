package smoke

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/wsproto"
)

// socketURL turns the gateway's address — its base URL or its WebSocket URL — into the URL of
// GET /ws.
func socketURL(gateway string) (string, error) {
	if gateway == "" {
		return "", errors.New("the gateway's URL is required")
	}
	u, err := url.Parse(gateway)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("the gateway's URL %q is not an absolute URL such as https://phoenix-gateway.example.com", gateway)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	case "ws", "wss":
	default:
		return "", fmt.Errorf("the gateway's URL %q must start with http://, https://, ws:// or wss://", gateway)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/ws"
	}
	return u.String(), nil
}

// frame is one server frame of the gateway's protocol (shared/wsproto, docs/websocket.md).
type frame struct{ wsproto.ServerFrame }

// seq is the frame's sequence number (events: the event's; subscribed: the channel's latest).
func (f frame) seq() int64 { return int64(f.Number()) } // #nosec G115 -- sequence numbers stay far below 2⁶³

// cloudEvent is the part of an event's CloudEvent the scenarios read.
type cloudEvent struct {
	ID      string          `json:"id"`            // unique per event (repeats keep it)
	Type    string          `json:"type"`          // e.g. io.phoenix.experiment.transitioned.v1
	Subject string          `json:"subject"`       // the experiment id
	Tenant  string          `json:"phoenixtenant"` // the tenant id
	Data    json.RawMessage `json:"data"`          // the payload
}

// movedEvent is the payload of a transition event.
type movedEvent struct {
	ExperimentID   string `json:"experiment_id"` // whose transition
	transitionView        // seq, from, to, reason
}

// event decodes an event frame's CloudEvent.
func (f frame) event() (cloudEvent, error) {
	var e cloudEvent
	if err := json.Unmarshal(f.Data, &e); err != nil || e.ID == "" || e.Type == "" {
		return e, fmt.Errorf("channel %s seq %d: the event is not a CloudEvent with an id and a type: %s", f.Channel, f.seq(), truncate(string(f.Data)))
	}
	return e, nil
}

// transition decodes a transition event, reporting false for other event types.
func (e cloudEvent) transition() (movedEvent, bool, error) {
	if e.Type != events.ExperimentMoved {
		return movedEvent{}, false, nil
	}
	var m movedEvent
	if err := json.Unmarshal(e.Data, &m); err != nil || m.Seq <= 0 || m.To == "" {
		return m, true, fmt.Errorf("transition event %s has no seq, from and to: %s", e.ID, truncate(string(e.Data)))
	}
	return m, true, nil
}

func truncate(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// socket is one WebSocket connection to the gateway.
type socket struct {
	conn  *websocket.Conn // the connection
	queue []frame         // frames read while waiting for another, handed out first by next
	stop  func() bool     // stops closing the connection when the context ends
}

// handshakeError is a refused WebSocket handshake, with the gateway's HTTP status.
type handshakeError struct {
	Status int   // 0 when no HTTP answer came
	Err    error // what the dialer said
}

func (e *handshakeError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("the gateway refused the WebSocket handshake with %d", e.Status)
	}
	return fmt.Sprintf("the WebSocket handshake failed: %v", e.Err)
}

// dial opens a connection authenticated with token — in the Authorization header, or as
// browsers do, in the subprotocol — or without a token when it is empty. The connection closes
// when ctx ends.
func dial(ctx context.Context, gateway, token string, subprotocol bool) (*socket, error) {
	u, err := socketURL(gateway)
	if err != nil {
		return nil, err
	}
	d := websocket.Dialer{HandshakeTimeout: 15 * time.Second, Proxy: http.ProxyFromEnvironment}
	h := http.Header{}
	switch {
	case token == "":
	case subprotocol:
		d.Subprotocols = []string{"phoenix.v1", "bearer." + token}
	default:
		h.Set("Authorization", "Bearer "+token)
	}
	conn, res, err := d.DialContext(ctx, u, h)
	if err != nil {
		he := &handshakeError{Err: err}
		if res != nil {
			he.Status = res.StatusCode
		}
		return nil, he
	}
	if subprotocol && conn.Subprotocol() != "phoenix.v1" {
		_ = conn.Close()
		return nil, fmt.Errorf("the gateway selected subprotocol %q, want phoenix.v1", conn.Subprotocol())
	}
	s := &socket{conn: conn}
	s.stop = context.AfterFunc(ctx, func() { _ = conn.Close() })
	return s, nil
}

// close ends the connection with a normal closure.
func (s *socket) close() {
	s.stop()
	_ = s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	_ = s.conn.Close()
}

// send writes one frame.
func (s *socket) send(v any) error {
	_ = s.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := s.conn.WriteJSON(v); err != nil {
		return fmt.Errorf("send to the gateway: %w", err)
	}
	return nil
}

// read takes the next frame off the connection.
func (s *socket) read(deadline time.Time) (frame, error) {
	_ = s.conn.SetReadDeadline(deadline)
	_, raw, err := s.conn.ReadMessage()
	if err != nil {
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return frame{}, fmt.Errorf("the gateway closed the connection: %d %s", ce.Code, ce.Text)
		}
		return frame{}, fmt.Errorf("read from the gateway: %w", err)
	}
	var f frame
	if err := json.Unmarshal(raw, &f); err != nil || f.Type == "" {
		return frame{}, fmt.Errorf("the gateway sent a frame that is not a JSON object with a type: %s", truncate(string(raw)))
	}
	return f, nil
}

// next returns the next frame, those read ahead first.
func (s *socket) next(deadline time.Time) (frame, error) {
	if len(s.queue) > 0 {
		f := s.queue[0]
		s.queue = s.queue[1:]
		return f, nil
	}
	return s.read(deadline)
}

// refusal is an error frame answering a subscription.
type refusal struct {
	Code    string // not_found, invalid_channel, …
	Message string // in words
}

func (r *refusal) Error() string {
	return fmt.Sprintf("the gateway refused the subscription: %s (%s)", r.Code, r.Message)
}

// subscribe asks for channel (replaying after since when it is not nil) and returns the
// channel's latest sequence number from the subscribed answer, or a *refusal. Frames of other
// channels that arrive meanwhile are kept for next.
func (s *socket) subscribe(channel string, since *int64, deadline time.Time) (int64, error) {
	msg := map[string]any{"type": wsproto.Subscribe, "channel": channel}
	if since != nil {
		msg["since"] = *since
	}
	if err := s.send(msg); err != nil {
		return 0, err
	}
	for {
		f, err := s.read(deadline)
		if err != nil {
			return 0, fmt.Errorf("waiting for the answer to subscribe %s: %w", channel, err)
		}
		switch {
		case f.Type == wsproto.Subscribed && f.Channel == channel:
			return f.seq(), nil
		case f.Type == wsproto.Error && (f.Channel == channel || f.Channel == ""):
			return 0, &refusal{Code: f.Code, Message: f.Message}
		default:
			s.queue = append(s.queue, f)
		}
	}
}

// isCode reports whether err is a refusal with code.
func isCode(err error, code string) bool {
	var r *refusal
	return errors.As(err, &r) && r.Code == code
}

// channelOf is the gateway's channel name of an experiment.
func channelOf(id string) string { return "experiment:" + strings.ToLower(id) }
