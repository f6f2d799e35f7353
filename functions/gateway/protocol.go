package gateway

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/realtime"
)

// Frame types of the protocol; docs/websocket.md is the contract.
const (
	typeSubscribe     = "subscribe"
	typeUnsubscribe   = "unsubscribe"
	typePing          = "ping"
	typeAuth          = "auth"
	typeSubscribed    = "subscribed"
	typeUnsubscribed  = "unsubscribed"
	typeEvent         = "event"
	typePong          = "pong"
	typeAuthenticated = "authenticated"
	typeError         = "error"
)

// Codes of error frames. They are part of the protocol: clients switch on them.
const (
	codeBadRequest           = "bad_request"
	codeUnknownType          = "unknown_type"
	codeInvalidChannel       = "invalid_channel"
	codeNotFound             = "not_found"
	codeAlreadySubscribed    = "already_subscribed"
	codeTooManySubscriptions = "too_many_subscriptions"
	codeRateLimited          = "rate_limited"
	codeHistoryUnavailable   = "history_unavailable"
	codeUnauthorized         = "unauthorized"
	codeForbidden            = "forbidden"
	codeUnavailable          = "unavailable"
)

// Client-side channel names; see parseChannel.
const (
	channelTenant           = "tenant"
	channelExperimentPrefix = "experiment:"
)

// inbound is a frame sent by a client.
type inbound struct {
	// Type is one of typeSubscribe, typeUnsubscribe, typePing, typeAuth.
	Type string `json:"type"`
	// Channel is the client-side channel name of (un)subscribe.
	Channel string `json:"channel,omitempty"`
	// Since, on subscribe, asks for the channel's events numbered after it.
	Since *uint64 `json:"since,omitempty"`
	// Token is the new access token of an auth frame.
	Token string `json:"token,omitempty"`
}

// outbound is every server frame except events, which encodeEvent builds without re-encoding the
// payload.
type outbound struct {
	// Type is the frame type.
	Type string `json:"type"`
	// Channel is the client-side channel the frame is about, if any.
	Channel string `json:"channel,omitempty"`
	// Seq is the latest sequence number of a subscribed frame; nil elsewhere.
	Seq *uint64 `json:"seq,omitempty"`
	// ExpiresAt is when the credential of an authenticated frame expires.
	ExpiresAt string `json:"expires_at,omitempty"`
	// Code is the machine-readable error code of an error frame.
	Code string `json:"code,omitempty"`
	// Message is the human-readable text of an error frame.
	Message string `json:"message,omitempty"`
}

// encode marshals a non-event frame.
func encode(f outbound) []byte {
	b, err := json.Marshal(f)
	if err != nil {
		// outbound holds only strings and a number; Marshal cannot fail on it.
		panic("gateway: encode frame: " + err.Error())
	}
	return b
}

// pongFrame is the reply to a ping; shared because it never changes.
var pongFrame = encode(outbound{Type: typePong})

// errorFrame encodes an error frame that concerns no channel.
func errorFrame(code, message string) []byte {
	return encode(outbound{Type: typeError, Code: code, Message: message})
}

// channelErrorFrame encodes an error frame about channel.
func channelErrorFrame(code, channel, message string) []byte {
	return encode(outbound{Type: typeError, Channel: channel, Code: code, Message: message})
}

// subscribedFrame acknowledges a subscription; seq is the channel's latest number then.
func subscribedFrame(channel string, seq uint64) []byte {
	return encode(outbound{Type: typeSubscribed, Channel: channel, Seq: &seq})
}

// unsubscribedFrame acknowledges an unsubscribe.
func unsubscribedFrame(channel string) []byte {
	return encode(outbound{Type: typeUnsubscribed, Channel: channel})
}

// authenticatedFrame acknowledges an in-band re-authentication.
func authenticatedFrame(expires time.Time) []byte {
	f := outbound{Type: typeAuthenticated}
	if !expires.IsZero() {
		f.ExpiresAt = expires.UTC().Format(time.RFC3339)
	}
	return encode(f)
}

// eventPrefix is the part of every event frame of a client-side channel before its number.
func eventPrefix(channel string) []byte {
	name, _ := json.Marshal(channel)
	return []byte(`{"type":"` + typeEvent + `","channel":` + string(name) + `,"seq":`)
}

// encodeEvent builds an event frame from the channel's eventPrefix, the event's number and its
// payload, which is embedded verbatim: one allocation, whatever the number of recipients. It
// returns false if the payload is not valid JSON, since the frame would not be either.
func encodeEvent(prefix []byte, e realtime.Event) ([]byte, bool) {
	if !json.Valid([]byte(e.Data)) {
		return nil, false
	}
	frame := make([]byte, 0, len(prefix)+20+len(`,"data":`)+len(e.Data)+1)
	frame = append(frame, prefix...)
	frame = strconv.AppendUint(frame, e.Seq, 10)
	frame = append(frame, `,"data":`...)
	frame = append(frame, e.Data...)
	return append(frame, '}'), true
}

// errInvalidChannel is returned by parseChannel for any name it rejects.
var errInvalidChannel = errors.New(`channel must be "tenant" or "experiment:<uuid>"`)

// parseChannel maps a client-side channel name to its canonical form and the channel within
// tenant. The experiment ID must be a hyphenated UUID; its canonical form is lower case, which is
// how replies and events name it. Another tenant cannot be named at all: the tenant always comes
// from the credential.
func parseChannel(tenant uuid.UUID, name string) (string, realtime.Channel, error) {
	if name == channelTenant {
		// The constant, not the client's copy: it is kept for as long as the subscription.
		return channelTenant, realtime.Channel{Tenant: tenant}, nil
	}
	raw, ok := strings.CutPrefix(name, channelExperimentPrefix)
	if !ok || len(raw) != 36 {
		return "", realtime.Channel{}, errInvalidChannel
	}
	experiment, err := uuid.Parse(raw)
	if err != nil || experiment == uuid.Nil {
		return "", realtime.Channel{}, errInvalidChannel
	}
	return channelExperimentPrefix + experiment.String(), realtime.Channel{Tenant: tenant, Experiment: experiment}, nil
}
