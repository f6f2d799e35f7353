package gateway

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/realtime"
	"github.com/phoenixotel/phoenix/shared/wsproto"
)

func TestParseChannel(t *testing.T) {
	tenant := uuid.New()
	experiment := uuid.MustParse("0f8fad5b-d9cb-469f-a165-70867728950e")
	tests := []struct {
		name          string
		in            string
		wantCanonical string
		wantChannel   realtime.Channel
		wantErr       bool
	}{
		{"tenant", "tenant", "tenant", realtime.Channel{Tenant: tenant}, false},
		{"experiment", "experiment:0f8fad5b-d9cb-469f-a165-70867728950e",
			"experiment:0f8fad5b-d9cb-469f-a165-70867728950e", realtime.Channel{Tenant: tenant, Experiment: experiment}, false},
		{"experiment upper case", "experiment:0F8FAD5B-D9CB-469F-A165-70867728950E",
			"experiment:0f8fad5b-d9cb-469f-a165-70867728950e", realtime.Channel{Tenant: tenant, Experiment: experiment}, false},
		{"empty", "", "", realtime.Channel{}, true},
		{"tenant with ID", "tenant:" + tenant.String(), "", realtime.Channel{}, true},
		{"nil experiment", "experiment:00000000-0000-0000-0000-000000000000", "", realtime.Channel{}, true},
		{"braced UUID", "experiment:{0f8fad5b-d9cb-469f-a165-70867728950e}", "", realtime.Channel{}, true},
		{"URN UUID", "experiment:urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e", "", realtime.Channel{}, true},
		{"trailing text", "experiment:0f8fad5b-d9cb-469f-a165-70867728950e:x", "", realtime.Channel{}, true},
		{"wildcard", "experiment:*", "", realtime.Channel{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			canonical, ch, err := parseChannel(tenant, tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if canonical != tt.wantCanonical || ch != tt.wantChannel {
				t.Fatalf("got (%q, %+v), want (%q, %+v)", canonical, ch, tt.wantCanonical, tt.wantChannel)
			}
		})
	}
}

func TestEncodeEvent_EmbedsPayloadVerbatimWithItsNumber(t *testing.T) {
	payload := `{"specversion":"1.0","data":{"b":2,"a":1}}`
	frame, ok := encodeEvent(eventPrefix("experiment:0f8fad5b-d9cb-469f-a165-70867728950e"), realtime.Event{Seq: 42, Data: payload})
	if !ok {
		t.Fatal("valid payload rejected")
	}
	want := `{"type":"event","channel":"experiment:0f8fad5b-d9cb-469f-a165-70867728950e","seq":42,"data":` + payload + `}`
	if string(frame) != want {
		t.Fatalf("frame %s, want %s", frame, want)
	}
	if !json.Valid(frame) {
		t.Fatalf("frame %s is not valid JSON", frame)
	}
}

func TestEncodeEvent_RejectsPayloadThatIsNotJSON(t *testing.T) {
	for _, payload := range []string{"", "not json", `{"a":`, `{"a":1}}`} {
		if _, ok := encodeEvent(eventPrefix("tenant"), realtime.Event{Seq: 1, Data: payload}); ok {
			t.Errorf("payload %q accepted", payload)
		}
	}
}

func TestFrames(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"subscribed at zero keeps its seq", subscribedFrame("tenant", 0), `{"type":"subscribed","channel":"tenant","seq":0}`},
		{"subscribed", subscribedFrame("tenant", 7), `{"type":"subscribed","channel":"tenant","seq":7}`},
		{"unsubscribed", unsubscribedFrame("tenant"), `{"type":"unsubscribed","channel":"tenant"}`},
		{"pong", pongFrame, `{"type":"pong"}`},
		{"error", errorFrame(wsproto.CodeBadRequest, "bad"), `{"type":"error","code":"bad_request","message":"bad"}`},
		{"channel error", channelErrorFrame(wsproto.CodeNotFound, "experiment:x", "no"), `{"type":"error","channel":"experiment:x","code":"not_found","message":"no"}`},
		{"authenticated", authenticatedFrame(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)), `{"type":"authenticated","expires_at":"2030-01-02T03:04:05Z"}`},
		{"authenticated without expiry", authenticatedFrame(time.Time{}), `{"type":"authenticated"}`},
	}
	for _, tt := range tests {
		if string(tt.got) != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, tt.got, tt.want)
		}
	}
}
