// Package problem writes HTTP API errors as RFC 9457 problem details (application/problem+json)
// and decodes JSON request bodies strictly. It owns the error shape every Phoenix endpoint
// answers with: a title a user can act on, never an internal error text.
package problem

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Details is an RFC 9457 problem document.
type Details struct {
	Type   string       `json:"type"`             // a URI naming the problem kind; about:blank by default
	Title  string       `json:"title"`            // short, human-readable summary
	Status int          `json:"status"`           // the HTTP status code
	Detail string       `json:"detail,omitempty"` // what to fix, for this occurrence
	Errors []FieldError `json:"errors,omitempty"` // per-field validation messages
}

// FieldError names one invalid input field.
type FieldError struct {
	Field   string `json:"field"`   // JSON path of the field, e.g. baseline.template
	Message string `json:"message"` // what is wrong and what is accepted
}

// Write sends a problem document with status.
func Write(w http.ResponseWriter, status int, detail string, fields ...FieldError) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(Details{
		Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail, Errors: fields,
	})
}

// MaxBodyBytes bounds every JSON request body unless a handler chooses a smaller bound.
const MaxBodyBytes = 64 << 10

// maxDepth bounds JSON nesting: deeply nested bodies cost memory and time to no purpose.
const maxDepth = 32

// DecodeJSON reads exactly one JSON object into v with unknown fields and duplicate keys refused.
// On failure it has already answered (400, 413 or 415) and returns false.
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		Write(w, http.StatusUnsupportedMediaType, "send the body as application/json")
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			Write(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body must be at most %d bytes", MaxBodyBytes))
			return false
		}
		Write(w, http.StatusBadRequest, "could not read the request body")
		return false
	}
	// NUL cannot be stored in PostgreSQL text and has no business in any Phoenix field.
	if bytes.Contains(body, []byte(`\u0000`)) || bytes.IndexByte(body, 0) >= 0 {
		Write(w, http.StatusBadRequest, "the JSON body contains a NUL character")
		return false
	}
	if depth(body) > maxDepth {
		Write(w, http.StatusBadRequest, fmt.Sprintf("the JSON body nests deeper than %d levels", maxDepth))
		return false
	}
	if key := duplicateKey(body); key != "" {
		Write(w, http.StatusBadRequest, fmt.Sprintf("the JSON body has the key %s twice in one object: send each key once", key),
			FieldError{Field: key, Message: "appears more than once in its object; send it once"})
		return false
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		Write(w, http.StatusBadRequest, "invalid JSON body: "+describe(err))
		return false
	}
	if dec.More() {
		Write(w, http.StatusBadRequest, "invalid JSON body: more than one JSON value")
		return false
	}
	return true
}

// depth returns the deepest nesting of objects and arrays in b, ignoring brackets inside strings.
func depth(b []byte) int {
	d, deepest, inString, escaped := 0, 0, false, false
	for _, c := range b {
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			d++
			deepest = max(deepest, d)
		case c == '}' || c == ']':
			d--
		}
	}
	return deepest
}

// describe turns a decoding error into a message about the input, not about Go types.
func describe(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("syntax error at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q has the wrong type (want %s)", typ.Field, typ.Type.Kind())
	case errors.Is(err, io.EOF):
		return "empty body"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "malformed JSON"
}
