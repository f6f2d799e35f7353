package problem

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// frame is one open object or array while duplicateKey reads a body.
type frame struct {
	object  bool   // an object, not an array
	id      int    // numbers the object, so that keys are compared within it only
	wantKey bool   // in an object: the next token is a key
	key     string // in an object: the key of the value being read
	index   int    // in an array: the index of the value being read
}

// objectKey is one key of one object.
type objectKey struct {
	object int    // the object's frame.id
	key    string // the key, decoded
}

// duplicateKey returns the JSON path (baseline.template, spec.success_criteria[0].metric) of the
// first key that appears twice in one object of body, or "" when none does. encoding/json keeps
// the last of two equal keys without a word, while other readers of the same bytes (a proxy, an
// audit trail, a client library) may keep the first: refusing the body leaves it one meaning.
// Keys are compared as decoded, so "a" and "\u0061" are the same key.
//
// It reads at most one JSON value, no deeper than maxDepth, and gives up ("") on malformed JSON,
// which the decoder that follows reports with a better message.
//
// What it costs, measured with `go test -run '^$' -bench 'DuplicateKey|DecodeJSON' -benchmem
// ./shared/problem` (Go 1.26, a 2-vCPU VM): about 25 µs, 9 KiB and 275 allocations for a typical
// POST /v1/experiments body of 545 bytes, which takes DecodeJSON from about 19 µs to 48 µs per
// request; about 6 ms for the largest body DecodeJSON reads (64 KiB of keys). json.Decoder.Token
// allocates for every token; a request that gets this far also verifies a token and runs a
// database transaction, milliseconds, so one meaning per body is worth the microseconds.
func duplicateKey(body []byte) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()                  // numbers are only skipped here: no float parsing
	seen := map[objectKey]struct{}{} // one set for the whole body: one allocation, not one per object
	stack := make([]frame, 0, 8)
	objects := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].wantKey {
			if key, ok := tok.(string); ok {
				top := &stack[n-1]
				k := objectKey{top.id, key}
				if _, dup := seen[k]; dup {
					top.key = key
					return path(stack)
				}
				seen[k] = struct{}{}
				top.key, top.wantKey = key, false
				continue
			}
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			f := frame{}
			if tok == json.Delim('{') {
				objects++
				f = frame{object: true, id: objects, wantKey: true}
			}
			if stack = append(stack, f); len(stack) > maxDepth {
				return ""
			}
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value has ended: a scalar, or the object or array just closed.
		if len(stack) == 0 {
			return "" // the first JSON value is all DecodeJSON reads
		}
		if top := &stack[len(stack)-1]; top.object {
			top.wantKey = true
		} else {
			top.index++
		}
	}
}

// path names the value the innermost frame is reading, by the key or index in each frame.
func path(stack []frame) string {
	var b strings.Builder
	for _, f := range stack {
		if !f.object {
			b.WriteString("[" + strconv.Itoa(f.index) + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(f.key)
	}
	return b.String()
}
