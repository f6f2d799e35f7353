package gateway

import (
	"encoding/json"
	"testing"

	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/realtime"
)

func TestParseChannel(t *testing.T) {
	tenant := uuid.New()
	experiment := uuid.MustParse("0f8fad5b-d9cb-469f-a165-70867728950e")
	tests := []struct {
		name          string
		in            string
		wantCanonical string
		wantRedis     string
		wantErr       bool
	}{
		{"tenant", "tenant", "tenant", realtime.TenantChannel("p", tenant), false},
		{"experiment", "experiment:0f8fad5b-d9cb-469f-a165-70867728950e",
			"experiment:0f8fad5b-d9cb-469f-a165-70867728950e", realtime.ExperimentChannel("p", tenant, experiment), false},
		{"experiment upper case", "experiment:0F8FAD5B-D9CB-469F-A165-70867728950E",
			"experiment:0f8fad5b-d9cb-469f-a165-70867728950e", realtime.ExperimentChannel("p", tenant, experiment), false},
		{"empty", "", "", "", true},
		{"tenant with ID", "tenant:" + tenant.String(), "", "", true},
		{"braced UUID", "experiment:{0f8fad5b-d9cb-469f-a165-70867728950e}", "", "", true},
		{"URN UUID", "experiment:urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e", "", "", true},
		{"trailing text", "experiment:0f8fad5b-d9cb-469f-a165-70867728950e:x", "", "", true},
		{"wildcard", "experiment:*", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			canonical, redisChannel, err := parseChannel("p", tenant, tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if canonical != tt.wantCanonical || redisChannel != tt.wantRedis {
				t.Fatalf("got (%q, %q), want (%q, %q)", canonical, redisChannel, tt.wantCanonical, tt.wantRedis)
			}
		})
	}
}

func TestEncodeEvent_EmbedsPayloadVerbatim(t *testing.T) {
	payload := `{"specversion":"1.0","data":{"b":2,"a":1}}`
	frame, ok := encodeEvent(eventPrefix("experiment:0f8fad5b-d9cb-469f-a165-70867728950e"), payload)
	if !ok {
		t.Fatal("valid payload rejected")
	}
	want := `{"type":"event","channel":"experiment:0f8fad5b-d9cb-469f-a165-70867728950e","data":` + payload + `}`
	if string(frame) != want {
		t.Fatalf("frame %s, want %s", frame, want)
	}
	if !json.Valid(frame) {
		t.Fatalf("frame %s is not valid JSON", frame)
	}
}

func TestEncodeEvent_RejectsPayloadThatIsNotJSON(t *testing.T) {
	for _, payload := range []string{"", "not json", `{"a":`, `{"a":1}}`} {
		if _, ok := encodeEvent(eventPrefix("tenant"), payload); ok {
			t.Errorf("payload %q accepted", payload)
		}
	}
}
