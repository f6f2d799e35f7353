package api

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// withName is validExperiment's body with the name's JSON text replaced by raw, byte for byte:
// raw may hold what json.Marshal would never write (invalid UTF-8, lone surrogates).
func withName(raw string) string {
	e := validExperiment()
	e["name"] = "NAME-PLACEHOLDER"
	b, _ := json.Marshal(e)
	return string(bytes.Replace(b, []byte(`"NAME-PLACEHOLDER"`), []byte(raw), 1))
}

// Text that would be stored other than sent, display other than it is, or mean two things to two
// readers is refused with a 400 problem saying what to fix; ordinary text of any script passes.
func TestInput_RefusesTextThatIsNotWhatItSeems(t *testing.T) {
	t.Parallel()
	f := setup(t)
	op := f.token(t, f.acme, "operator")
	tests := []struct {
		name, path, body string
		want             int    // status
		field            string // the problem's field ("" when only the detail speaks)
		says             string // part of the field's message, or of the detail
	}{
		{"name with bytes that are not UTF-8", "/v1/experiments", withName("\"Z\xfcrich\""), 400, "name", "send the name as UTF-8"},
		{"name with a lone surrogate escape", "/v1/experiments", withName(`"Z\ud800rich"`), 400, "name", "U+FFFD"},
		{"name with U+FFFD itself", "/v1/experiments", withName(`"Z\ufffdrich"`), 400, "name", "U+FFFD"},
		{"name with a right-to-left override", "/v1/experiments", withName("\"prod\u202Eved\""), 400, "name", "character 5 is U+202E"},
		{"name with an escaped left-to-right embedding", "/v1/experiments", withName(`"prod\u202adev"`), 400, "name", "U+202A"},
		{"name with a first strong isolate", "/v1/experiments", withName("\"a\u2068b\""), 400, "name", "U+2068"},
		{"name with a pop directional isolate", "/v1/experiments", withName("\"ab\u2069\""), 400, "name", "U+2069"},
		{"name with a left-to-right mark", "/v1/experiments", withName("\"\u200Eprod\""), 400, "name", "U+200E"},
		{"name with a right-to-left mark", "/v1/experiments", withName(`"prod\u200f"`), 400, "name", "U+200F"},
		{"duplicate key at the top", "/v1/experiments", `{"name":"a","name":"b"}`, 400, "name", "more than once"},
		{"duplicate key in a nested object", "/v1/experiments",
			`{"name":"x","baseline":{"template":"process-baseline","template":"process-minimal"}}`, 400, "baseline.template", "more than once"},
		{"duplicate key spelled with an escape", "/v1/experiments", `{"name":"a","n\u0061me":"b"}`, 400, "name", "more than once"},
		{"duplicate key in an unauthenticated body", "/v1/auth/login",
			`{"tenant":"acme","tenant":"other","email":"a@b.c","password":"x"}`, 400, "tenant", "more than once"},
		{"name in other scripts", "/v1/experiments", withName(`"Zürich-prod"`), 201, "", ""},
		{"name in CJK with spaces", "/v1/experiments", withName(`"東京 canary"`), 201, "", ""},
		{"the same key in sibling objects", "/v1/experiments", withName(`"topk-siblings"`), 201, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do(t, "POST", tt.path, op, strings.NewReader(tt.body))
			if r.code != tt.want {
				t.Fatalf("status %d %v, want %d", r.code, r.body, tt.want)
			}
			if tt.want == 201 {
				var sent map[string]any
				if err := json.Unmarshal([]byte(tt.body), &sent); err != nil || r.body["name"] != sent["name"] {
					t.Fatalf("stored name %q, sent %q (%v)", r.body["name"], sent["name"], err)
				}
				return
			}
			if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("content type %q, want application/problem+json", ct)
			}
			var said []string
			for _, e := range asList(r.body["errors"]) {
				if fe, _ := e.(map[string]any); fe["field"] == tt.field {
					said = append(said, fe["message"].(string))
				}
			}
			if len(said) == 0 || !strings.Contains(strings.Join(said, " ")+" "+r.body["detail"].(string), tt.says) {
				t.Fatalf("problem %v: want field %s saying %q", r.body, tt.field, tt.says)
			}
		})
	}
}

func asList(v any) []any { l, _ := v.([]any); return l }
