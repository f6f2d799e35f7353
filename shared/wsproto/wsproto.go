// Package wsproto is the WebSocket gateway's protocol — its frames, frame types, error codes,
// close codes and channel names — defined once: the gateway speaks it, and the CLI, the smoke
// scenarios, the tests and any third-party client read and write it with these types.
// docs/websocket.md is the contract in words; this package's test checks that it names every
// frame type, error code and close code defined here.
package wsproto

import (
	"encoding/json"

	"github.com/google/uuid"
)

// Frame types a client sends.
const (
	Subscribe   = "subscribe"   // channel, optional since: start receiving a channel's events
	Unsubscribe = "unsubscribe" // channel: stop
	Ping        = "ping"        // the server answers pong
	Auth        = "auth"        // token: renew the connection's credential before it expires
)

// Frame types the server sends.
const (
	Subscribed    = "subscribed"    // channel, seq: the subscription holds; events after seq follow
	Unsubscribed  = "unsubscribed"  // channel
	Event         = "event"         // channel, seq, data: one event (a CloudEvent, structured JSON)
	Pong          = "pong"          // the answer to ping
	Authenticated = "authenticated" // expires_at: the renewed credential holds until then
	Error         = "error"         // code, message, and channel when it concerns one
)

// Codes of error frames: clients switch on them.
const (
	CodeBadRequest           = "bad_request"
	CodeUnknownType          = "unknown_type"
	CodeInvalidChannel       = "invalid_channel"
	CodeNotFound             = "not_found"
	CodeAlreadySubscribed    = "already_subscribed"
	CodeTooManySubscriptions = "too_many_subscriptions"
	CodeRateLimited          = "rate_limited"
	CodeHistoryUnavailable   = "history_unavailable"
	CodeUnauthorized         = "unauthorized"
	CodeForbidden            = "forbidden"
	CodeUnavailable          = "unavailable"
)

// Close codes. Clients refresh their token and reconnect on CloseTokenExpired, log in again on
// CloseTokenRevoked, and reconnect with since on CloseSlowReader and 1001 (going away).
const (
	CloseTokenExpired = 4001
	CloseTokenRevoked = 4003
	CloseSlowReader   = 4008
)

// Channel names, relative to the token's tenant.
const (
	ChannelTenant           = "tenant"      // every event of the tenant
	ChannelExperimentPrefix = "experiment:" // followed by an experiment id: that experiment's events
)

// ExperimentChannel names the channel of one experiment's events.
func ExperimentChannel(id uuid.UUID) string { return ChannelExperimentPrefix + id.String() }

// Subprotocol is what a browser offers in Sec-WebSocket-Protocol, with "bearer.<token>" beside
// it, since it cannot set an Authorization header on a WebSocket.
const Subprotocol = "phoenix.v1"

// ClientFrame is a frame a client sends.
type ClientFrame struct {
	Type    string  `json:"type"`              // Subscribe, Unsubscribe, Ping or Auth
	Channel string  `json:"channel,omitempty"` // of Subscribe and Unsubscribe
	Since   *uint64 `json:"since,omitempty"`   // Subscribe: the events numbered after it first, from the history
	Token   string  `json:"token,omitempty"`   // Auth: the new access token
}

// ServerFrame is a frame the server sends, with every field any type of frame carries.
type ServerFrame struct {
	Type      string          `json:"type"`                 // Subscribed, Unsubscribed, Event, Pong, Authenticated or Error
	Channel   string          `json:"channel,omitempty"`    // the channel it concerns, if any
	Seq       *uint64         `json:"seq,omitempty"`        // Event: its number in the channel; Subscribed: the channel's latest
	ExpiresAt string          `json:"expires_at,omitempty"` // Authenticated: RFC 3339
	Code      string          `json:"code,omitempty"`       // Error: one of the Code… constants
	Message   string          `json:"message,omitempty"`    // Error: in words
	Data      json.RawMessage `json:"data,omitempty"`       // Event: the CloudEvent, structured JSON
}

// Number is the frame's Seq, 0 when it has none.
func (f ServerFrame) Number() uint64 {
	if f.Seq == nil {
		return 0
	}
	return *f.Seq
}
