package apiclient

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/phoenixotel/phoenix/shared/problem"
)

// TestCall_DecodesAnswersAndTheAPIsProblems runs the client against a server answering as the
// API does: a success decodes into the caller's type with the token sent as the bearer, a
// refusal is an *Error carrying the problem document, and Reply judges raw answers.
func TestCall_DecodesAnswersAndTheAPIsProblems(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Header.Get("Authorization") != "Bearer tok":
			problem.Write(w, http.StatusUnauthorized, "send a bearer token")
		case r.URL.Path == "/v1/experiments":
			problem.Write(w, http.StatusBadRequest, "the experiment is invalid; see errors",
				problem.FieldError{Field: "name", Message: "required"})
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"id":"7c1e5a30-2f4b-4d8e-9a61-0b3c5d7e9f10","name":"e","state":"running"}`))
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	c := &Client{Base: srv.URL + "/", Token: func(context.Context) (string, error) { return "tok", nil }}

	e, err := c.Experiment(ctx, "7c1e5a30-2f4b-4d8e-9a61-0b3c5d7e9f10")
	if err != nil || e.Name != "e" || e.State != "running" {
		t.Fatalf("experiment %+v, %v", e, err)
	}
	_, err = c.CreateExperiment(ctx, NewExperiment{})
	var ae *Error
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || len(ae.Errors) != 1 || ae.Errors[0].Field != "name" ||
		!strings.Contains(err.Error(), "name: required") || !IsStatus(err, http.StatusBadRequest) {
		t.Fatalf("a refusal: %v", err)
	}
	r, err := c.Do(ctx, http.MethodGet, "/v1/experiments/x", nil, "")
	if err != nil || r.Want(http.StatusUnauthorized) != nil || !r.IsProblem() || r.Detail() != "send a bearer token" ||
		r.Want(http.StatusOK) == nil || !strings.Contains(r.String(), "answered 401 (send a bearer token)") {
		t.Fatalf("a raw reply: %v %v", r, err)
	}
	failing := &Client{Base: srv.URL, Token: func(context.Context) (string, error) { return "", errors.New("log in first") }}
	if _, err := failing.Experiment(ctx, "x"); err == nil || err.Error() != "log in first" {
		t.Fatalf("a token that cannot be had: %v", err)
	}
}
