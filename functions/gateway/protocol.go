package gateway

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/realtime"
)

// Frame types of the protocol; see the package documentation.
const (
	typeSubscribe    = "subscribe"
	typeUnsubscribe  = "unsubscribe"
	typePing         = "ping"
	typeSubscribed   = "subscribed"
	typeUnsubscribed = "unsubscribed"
	typeEvent        = "event"
	typePong         = "pong"
	typeError        = "error"
)

// Codes of error frames. They are part of the protocol: clients switch on them.
const (
	codeBadRequest           = "bad_request"
	codeUnknownType          = "unknown_type"
	codeInvalidChannel       = "invalid_channel"
	codeTooManySubscriptions = "too_many_subscriptions"
	codeUnavailable          = "unavailable"
)

// Client-side channel names; see parseChannel.
const (
	channelTenant           = "tenant"
	channelExperimentPrefix = "experiment:"
)

// inbound is a frame sent by a client.
type inbound struct {
	// Type is one of typeSubscribe, typeUnsubscribe, typePing.
	Type string `json:"type"`
	// Channel is the client-side channel name of (un)subscribe.
	Channel string `json:"channel,omitempty"`
}

// outbound is every server frame except events, which encodeEvent builds
// without re-encoding the payload.
type outbound struct {
	// Type is the frame type.
	Type string `json:"type"`
	// Channel is the client-side channel a (un)subscribed frame is about.
	Channel string `json:"channel,omitempty"`
	// Code is the machine-readable error code of an error frame.
	Code string `json:"code,omitempty"`
	// Message is the human-readable text of an error frame.
	Message string `json:"message,omitempty"`
}

// encode marshals a non-event frame.
func encode(f outbound) []byte {
	b, err := json.Marshal(f)
	if err != nil {
		// outbound holds only strings; Marshal cannot fail on it.
		panic("gateway: encode frame: " + err.Error())
	}
	return b
}

// pongFrame is the reply to a ping; shared because it never changes.
var pongFrame = encode(outbound{Type: typePong})

// errorFrame encodes an error frame.
func errorFrame(code, message string) []byte {
	return encode(outbound{Type: typeError, Code: code, Message: message})
}

// eventPrefix is the part of an event frame before its payload, for a
// client-side channel name.
func eventPrefix(channel string) []byte {
	name, _ := json.Marshal(channel)
	return []byte(`{"type":"` + typeEvent + `","channel":` + string(name) + `,"data":`)
}

// encodeEvent builds an event frame from the channel's eventPrefix and
// payload, which is embedded verbatim. It returns false if payload is not
// valid JSON, since the frame would not be either.
func encodeEvent(prefix []byte, payload string) ([]byte, bool) {
	frame := make([]byte, 0, len(prefix)+len(payload)+1)
	frame = append(frame, prefix...)
	frame = append(frame, payload...)
	if !json.Valid(frame[len(prefix):]) {
		return nil, false
	}
	return append(frame, '}'), true
}

// errInvalidChannel is returned by parseChannel for any name it rejects.
var errInvalidChannel = errors.New(`channel must be "tenant" or "experiment:<uuid>"`)

// parseChannel maps a client-side channel name to its canonical form and its
// Redis channel within tenant. The experiment ID must be a hyphenated UUID;
// its canonical form is lower case, which is how replies and events name it.
func parseChannel(prefix string, tenant uuid.UUID, name string) (canonical, redisChannel string, err error) {
	if name == channelTenant {
		return name, realtime.TenantChannel(prefix, tenant), nil
	}
	raw, ok := strings.CutPrefix(name, channelExperimentPrefix)
	if !ok || len(raw) != 36 {
		return "", "", errInvalidChannel
	}
	experiment, err := uuid.Parse(raw)
	if err != nil {
		return "", "", errInvalidChannel
	}
	return channelExperimentPrefix + experiment.String(), realtime.ExperimentChannel(prefix, tenant, experiment), nil
}
