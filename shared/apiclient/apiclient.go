// Package apiclient calls Phoenix's HTTP API (docs/api.md). It is the one client the CLI, the
// smoke scenarios and the tests use, and a third party may import it: requests and answers are
// the API's own types — the bodies defined here and served by functions/api, the views of
// shared/store — and a refusal is the API's problem document (shared/problem).
package apiclient

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/phoenixotel/phoenix/shared/problem"
)

// MaxAnswer bounds how much of an answer is read (16 MiB).
const MaxAnswer = 16 << 20

// Client calls one Phoenix API.
type Client struct {
	Base string       // the API's base URL, e.g. http://127.0.0.1:8080 (a trailing slash is dropped)
	HTTP *http.Client // nil: a client with a 30 s timeout (a caller must not hang)
	// Token gives the bearer token of Call's requests (e.g. refreshing an expired one); nil sends
	// none.
	Token func(ctx context.Context) (string, error)
}

// Reply is one answer of the API, as it came.
type Reply struct {
	Method string      // the request's method
	Path   string      // the request's path and query
	Status int         // the HTTP status
	Header http.Header // the answer's headers
	Body   []byte      // the answer's body (at most MaxAnswer)
}

// Problem decodes the answer's problem document; false when the answer is a success or not one.
func (r Reply) Problem() (problem.Details, bool) {
	var p problem.Details
	if r.Status < 300 || json.Unmarshal(r.Body, &p) != nil {
		return problem.Details{}, false
	}
	return p, true
}

// IsProblem reports whether the answer says it is an RFC 9457 problem document.
func (r Reply) IsProblem() bool {
	return strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json")
}

// Detail is the problem document's detail (or title), or empty.
func (r Reply) Detail() string {
	p, _ := r.Problem()
	return cmp.Or(p.Detail, p.Title)
}

// String names the request and its answer, with the problem's detail when there is one.
func (r Reply) String() string {
	s := fmt.Sprintf("%s %s answered %d", r.Method, r.Path, r.Status)
	if d := r.Detail(); d != "" {
		s += " (" + d + ")"
	}
	return s
}

// Want returns nil when the status is one of codes, else an error naming what came back.
func (r Reply) Want(codes ...int) error {
	if slices.Contains(codes, r.Status) {
		return nil
	}
	want := make([]string, len(codes))
	for i, c := range codes {
		want[i] = strconv.Itoa(c)
	}
	return fmt.Errorf("%s, want %s", r, strings.Join(want, " or "))
}

// Decode reads the JSON body into v.
func (r Reply) Decode(v any) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("%s %s: the answer is not the expected JSON: %w", r.Method, r.Path, err)
	}
	return nil
}

// Error is an answer of 300 or more to Call: the API's problem document.
type Error struct {
	Method, Path string // the request
	problem.Details
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("the API answered %d", e.Status)
	if e.Title != "" {
		msg += " " + e.Title
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	for _, f := range e.Errors {
		msg += fmt.Sprintf("\n  %s: %s", f.Field, f.Message)
	}
	return msg
}

// Do sends one request — body as JSON when not nil, token as the bearer when not empty — and
// returns the answer whatever its status.
func (c *Client) Do(ctx context.Context, method, path string, body any, token string) (Reply, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return Reply{}, fmt.Errorf("%s %s: encode the body: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	base := strings.TrimSuffix(c.Base, "/")
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return Reply{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	res, err := hc.Do(req)
	if err != nil {
		return Reply{}, fmt.Errorf("reach the API at %s: %w", base, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, MaxAnswer))
	if err != nil {
		return Reply{}, fmt.Errorf("%s %s: read the answer: %w", method, path, err)
	}
	return Reply{Method: method, Path: path, Status: res.StatusCode, Header: res.Header, Body: raw}, nil
}

// Call sends one request with the client's token and decodes a success into out (when not nil);
// an answer of 300 or more is an *Error.
func (c *Client) Call(ctx context.Context, method, path string, body, out any) error {
	token := ""
	if c.Token != nil {
		t, err := c.Token(ctx)
		if err != nil {
			return err
		}
		token = t
	}
	r, err := c.Do(ctx, method, path, body, token)
	if err != nil {
		return err
	}
	if r.Status >= 300 {
		e := &Error{Method: method, Path: path}
		if p, ok := r.Problem(); ok {
			e.Details = p
		}
		e.Status = r.Status
		return e
	}
	if out == nil || len(r.Body) == 0 {
		return nil
	}
	if err := json.Unmarshal(r.Body, out); err != nil {
		return fmt.Errorf("decode the API's answer to %s %s: %w", method, path, err)
	}
	return nil
}

// IsStatus reports whether err is the API's answer with status.
func IsStatus(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == status
}
