package gateway

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/realtime"
	"github.com/phoenixotel/phoenix/shared/wsproto"
)

// encode marshals a non-event frame.
func encode(f wsproto.ServerFrame) []byte {
	b, err := json.Marshal(f)
	if err != nil {
		// outbound holds only strings and a number; Marshal cannot fail on it.
		panic("gateway: encode frame: " + err.Error())
	}
	return b
}

// pongFrame is the reply to a ping; shared because it never changes.
var pongFrame = encode(wsproto.ServerFrame{Type: wsproto.Pong})

// errorFrame encodes an error frame that concerns no channel.
func errorFrame(code, message string) []byte {
	return encode(wsproto.ServerFrame{Type: wsproto.Error, Code: code, Message: message})
}

// channelErrorFrame encodes an error frame about channel.
func channelErrorFrame(code, channel, message string) []byte {
	return encode(wsproto.ServerFrame{Type: wsproto.Error, Channel: channel, Code: code, Message: message})
}

// subscribedFrame acknowledges a subscription; seq is the channel's latest number then.
func subscribedFrame(channel string, seq uint64) []byte {
	return encode(wsproto.ServerFrame{Type: wsproto.Subscribed, Channel: channel, Seq: &seq})
}

// unsubscribedFrame acknowledges an unsubscribe.
func unsubscribedFrame(channel string) []byte {
	return encode(wsproto.ServerFrame{Type: wsproto.Unsubscribed, Channel: channel})
}

// authenticatedFrame acknowledges an in-band re-authentication.
func authenticatedFrame(expires time.Time) []byte {
	f := wsproto.ServerFrame{Type: wsproto.Authenticated}
	if !expires.IsZero() {
		f.ExpiresAt = expires.UTC().Format(time.RFC3339)
	}
	return encode(f)
}

// eventPrefix is the part of every event frame of a client-side channel before its number.
func eventPrefix(channel string) []byte {
	name, _ := json.Marshal(channel)
	return []byte(`{"type":"` + wsproto.Event + `","channel":` + string(name) + `,"seq":`)
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
	if name == wsproto.ChannelTenant {
		// The constant, not the client's copy: it is kept for as long as the subscription.
		return wsproto.ChannelTenant, realtime.Channel{Tenant: tenant}, nil
	}
	raw, ok := strings.CutPrefix(name, wsproto.ChannelExperimentPrefix)
	if !ok || len(raw) != 36 {
		return "", realtime.Channel{}, errInvalidChannel
	}
	experiment, err := uuid.Parse(raw)
	if err != nil || experiment == uuid.Nil {
		return "", realtime.Channel{}, errInvalidChannel
	}
	return wsproto.ChannelExperimentPrefix + experiment.String(), realtime.Channel{Tenant: tenant, Experiment: experiment}, nil
}
