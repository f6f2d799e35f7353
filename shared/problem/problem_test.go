package problem

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDecodeJSON(t *testing.T) {
	type body struct {
		Name string `json:"name"`
		N    int    `json:"n"`
	}
	tests := []struct {
		name, ct, in string
		want         int
		detail       string
	}{
		{"ok", "application/json", `{"name":"a","n":1}`, 0, ""},
		{"ok without content type", "", `{"name":"a"}`, 0, ""},
		{"unknown field", "application/json", `{"name":"a","admin":true}`, 400, `unknown field "admin"`},
		{"wrong type", "application/json", `{"n":"x"}`, 400, `field "n" has the wrong type`},
		{"syntax", "application/json", `{"name":`, 400, "invalid JSON body"},
		{"two values", "application/json", `{} {}`, 400, "more than one JSON value"},
		{"empty", "application/json", ``, 400, "empty body"},
		{"too deep", "application/json", strings.Repeat("[", 40) + strings.Repeat("]", 40), 400, "nests deeper"},
		{"brackets in strings do not count", "application/json", `{"name":"` + strings.Repeat("[", 40) + `"}`, 0, ""},
		{"too large", "application/json", `{"name":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, 413, "at most"},
		{"not json", "text/plain", `{}`, 415, "application/json"},
		{"escaped NUL", "application/json", `{"name":"a\u0000b"}`, 400, "NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.in))
			if tt.ct != "" {
				r.Header.Set("Content-Type", tt.ct)
			}
			w := httptest.NewRecorder()
			var v body
			ok := DecodeJSON(w, r, &v)
			if ok != (tt.want == 0) {
				t.Fatalf("ok = %v, status %d %s", ok, w.Code, w.Body)
			}
			if tt.want == 0 {
				return
			}
			if w.Code != tt.want || w.Header().Get("Content-Type") != "application/problem+json" {
				t.Fatalf("status %d type %q, want %d problem+json", w.Code, w.Header().Get("Content-Type"), tt.want)
			}
			var p Details
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Status != tt.want || !strings.Contains(p.Detail, tt.detail) {
				t.Fatalf("problem %+v (%v), want detail containing %q", p, err, tt.detail)
			}
		})
	}
}
