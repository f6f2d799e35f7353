package smoke

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/apiclient"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/store"
)

// transitionView is one entry of GET /v1/experiments/{id}/transitions, or the payload of a
// transition event (the fields both have).
type transitionView struct {
	Seq    int64            `json:"seq"`    // gap-free per experiment, from 1
	From   experiment.State `json:"from"`   // state left
	To     experiment.State `json:"to"`     // state entered
	Reason string           `json:"reason"` // why (failures, commands)
}

func (t transitionView) String() string { return fmt.Sprintf("%d:%s→%s", t.Seq, t.From, t.To) }

// ended reports whether an experiment in state s moves on only by a user's command, or never.
func ended(s experiment.State) bool { return s.Terminal() || s == experiment.Completed }

// draft is the body of POST /v1/experiments for a smoke experiment.
func draft(name string, o Options) map[string]any {
	body := map[string]any{
		"name":             name,
		"description":      "created by phoenix test integration; stopped when the check ends",
		"duration_seconds": int(o.Duration / time.Second),
		"baseline":         map[string]any{"template": o.Baseline, "parameters": o.Parameters},
		"candidate":        map[string]any{"template": o.Candidate, "parameters": o.Parameters},
	}
	if len(o.Spec) > 0 {
		body["spec"] = o.Spec
	}
	return body
}

// create makes an experiment and checks the API's answer.
func create(ctx context.Context, s *session, name string, o Options) (store.Experiment, error) {
	r, err := s.do(ctx, http.MethodPost, "/v1/experiments", draft(name, o))
	if err != nil {
		return store.Experiment{}, err
	}
	if err := r.Want(http.StatusCreated); err != nil {
		return store.Experiment{}, fmt.Errorf("create an experiment as %s: %w", s, err)
	}
	var e store.Experiment
	if err := r.Decode(&e); err != nil {
		return e, err
	}
	if e.ID == uuid.Nil || e.State != experiment.Pending || e.Name != name {
		return e, fmt.Errorf("POST /v1/experiments answered id %q, state %q, name %q; want an id, pending, %q", e.ID, e.State, e.Name, name)
	}
	return e, nil
}

// read returns the experiment as s sees it.
func read(ctx context.Context, s *session, id string) (store.Experiment, error) {
	var e store.Experiment
	err := s.get(ctx, "/v1/experiments/"+id, &e)
	return e, err
}

// history returns the experiment's transitions from the API.
func history(ctx context.Context, s *session, id string) ([]transitionView, error) {
	var page struct {
		Items []transitionView `json:"items"` // oldest first
	}
	err := s.get(ctx, "/v1/experiments/"+id+"/transitions", &page)
	return page.Items, err
}

// command sends start, stop, promote or rollback and returns the answer as it came.
func command(ctx context.Context, s *session, id, verb string) (apiclient.Reply, error) {
	return s.do(ctx, http.MethodPost, "/v1/experiments/"+id+"/"+verb, map[string]string{"reason": "phoenix test integration"})
}

// pollInterval is how often waitState reads the experiment.
const pollInterval = 250 * time.Millisecond

// waitState reads the experiment until done accepts its state, or the timeout passes.
func waitState(ctx context.Context, s *session, id string, timeout time.Duration, done func(experiment.State) bool) (store.Experiment, error) {
	deadline := time.Now().Add(timeout)
	for {
		e, err := read(ctx, s, id)
		if err != nil {
			return e, err
		}
		if done(e.State) {
			return e, nil
		}
		if time.Now().After(deadline) {
			return e, fmt.Errorf("experiment %s is still %s after %s", id, e.State, timeout)
		}
		select {
		case <-ctx.Done():
			return e, ctx.Err()
		case <-time.After(pollInterval):
		}
	}
}

// stopUnlessEnded is the cleanup of an experiment a scenario created: stop it when it is still
// active and say in what state it was left.
func stopUnlessEnded(s *session, id string) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		e, err := read(ctx, s, id)
		if err != nil {
			return "", fmt.Errorf("read experiment %s to clean it up: %w", id, err)
		}
		if ended(e.State) {
			return fmt.Sprintf("experiment %s left %s", id, e.State), nil
		}
		r, err := command(ctx, s, id, "stop")
		if err != nil {
			return "", err
		}
		if r.Status == http.StatusConflict { // it ended between the read and the command
			return fmt.Sprintf("experiment %s ended on its own (%s)", id, r.Detail()), nil
		}
		if err := r.Want(http.StatusAccepted); err != nil {
			return "", fmt.Errorf("stop experiment %s: %w", id, err)
		}
		was := e.State
		e, err = waitState(ctx, s, id, 20*time.Second, ended)
		if err != nil {
			return "", fmt.Errorf("stop experiment %s: %w", id, err)
		}
		return fmt.Sprintf("experiment %s stopped while %s; now %s", id, was, e.State), nil
	}
}

// sameTransitions compares the transitions a client saw with the API's list.
func sameTransitions(seen, stored []transitionView) error {
	if len(seen) != len(stored) {
		return fmt.Errorf("the stream carried %d transitions %v, the API lists %d %v", len(seen), seen, len(stored), stored)
	}
	for i := range seen {
		if seen[i].Seq != stored[i].Seq || seen[i].From != stored[i].From || seen[i].To != stored[i].To {
			return fmt.Errorf("transition %d: the stream carried %s, the API lists %s", i+1, seen[i], stored[i])
		}
	}
	return nil
}
