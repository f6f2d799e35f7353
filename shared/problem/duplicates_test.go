package problem

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

func TestDuplicateKey(t *testing.T) {
	tests := []struct {
		name, in, want string // want: the duplicate's path, "" for none
	}{
		{"none", `{"name":"a","n":1}`, ""},
		{"same key in sibling objects", `{"baseline":{"template":"a"},"candidate":{"template":"b"}}`, ""},
		{"same key in array elements", `{"items":[{"k":1},{"k":2}]}`, ""},
		{"same key at two depths", `{"k":{"k":{"k":1}}}`, ""},
		{"keys differing in case are different keys", `{"name":"a","Name":"b"}`, ""},
		{"a key equal to a value", `{"a":"b","b":"a"}`, ""},
		{"top level", `{"name":"a","name":"b"}`, "name"},
		{"after a nested value", `{"spec":{"x":[1,{"y":2}]},"spec":{}}`, "spec"},
		{"nested object", `{"baseline":{"template":"a","template":"b"}}`, "baseline.template"},
		{"inside an array", `{"spec":{"success_criteria":[{"metric":"a"},{"metric":"b","metric":"c"}]}}`, "spec.success_criteria[1].metric"},
		{"array at the top", `[{"a":1},{"a":1,"a":2}]`, "[1].a"},
		{"escaped spelling of the same key", `{"a":1,"\u0061":2}`, "a"},
		{"malformed JSON is left to the decoder", `{"a":1,,"a":2}`, ""},
		{"a scalar", `"a"`, ""},
		{"only the first value is read", `{"a":1} {"a":1,"a":2}`, ""},
		{"deeper than the bound gives up", strings.Repeat(`{"a":`, maxDepth+1) + `{"b":1,"b":2}` + strings.Repeat("}", maxDepth+1), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := duplicateKey([]byte(tt.in)); got != tt.want {
				t.Fatalf("duplicateKey(%s) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// typicalBody is a POST /v1/experiments body as the CLI sends it (about 600 bytes).
var typicalBody, _ = json.Marshal(map[string]any{
	"name": "topk canary Zürich-prod", "description": "top-k process filter against the baseline, one week of prod traffic",
	"duration_seconds": 3600,
	"baseline":         map[string]any{"template": "process-baseline"},
	"candidate": map[string]any{"template": "process-priority-filter",
		"parameters": map[string]any{"high_processes": []string{"nginx.*", "envoy", "java"}, "k": 20}},
	"spec": map[string]any{"critical_processes": []string{"postgres", "redis-server"},
		"targets": map[string]any{"namespace": "phoenix", "node_selector": map[string]string{"pool": "otel"}},
		"success_criteria": []map[string]any{{"metric": "series", "min_improvement": 0.2},
			{"metric": "critical_process_coverage", "critical": true}}},
})

// BenchmarkDuplicateKey measures the check on a typical body and on the largest body DecodeJSON
// reads, packed with keys; BenchmarkDecodeJSON measures the whole helper it runs in:
//
//	go test -run '^$' -bench 'DuplicateKey|DecodeJSON' -benchmem ./shared/problem
func BenchmarkDuplicateKey(b *testing.B) {
	var largest strings.Builder
	largest.WriteString(`{"k0":0`)
	for i := 1; largest.Len() < MaxBodyBytes-16; i++ {
		largest.WriteString(`,"k` + strconv.Itoa(i) + `":0`)
	}
	largest.WriteString("}")
	for _, c := range []struct {
		name string
		body []byte
	}{{"typical", typicalBody}, {"largest", []byte(largest.String())}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.body)))
			for b.Loop() {
				if duplicateKey(c.body) != "" {
					b.Fatal("duplicate found")
				}
			}
		})
	}
}

func BenchmarkDecodeJSON(b *testing.B) {
	// The shape of the API's createExperimentRequest (this package cannot import the API).
	type pipeline struct {
		Template   string         `json:"template"`
		Parameters map[string]any `json:"parameters"`
	}
	var v struct {
		Name            string          `json:"name"`
		Description     string          `json:"description"`
		DurationSeconds int             `json:"duration_seconds"`
		Baseline        pipeline        `json:"baseline"`
		Candidate       pipeline        `json:"candidate"`
		Spec            json.RawMessage `json:"spec"`
	}
	b.SetBytes(int64(len(typicalBody)))
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/v1/experiments", strings.NewReader(string(typicalBody)))
		if !DecodeJSON(httptest.NewRecorder(), r, &v) {
			b.Fatal("refused")
		}
	}
}
