package smoke

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/store"
)

// Lifecycle runs an experiment as Credentials.Primary (baseline and candidate from Options):
// create, subscribe, start; its manifests are generated for both variants and its collectors
// deployed, so it reaches running within Options.Timeout of each previous move; then it is
// stopped and must be cancelled. With Options.ExpectComplete it is not stopped: it must run its
// duration and complete with a verdict that the API stores and serves as its analysis. The
// streamed transitions must equal the API's. A platform where collectors cannot run fails the
// experiment while deploying, and the scenario fails with the reason Phoenix gives.
func Lifecycle(ctx context.Context, t Target, c Credentials, o Options) Result {
	o = o.withDefaults()
	r := newRecorder(ctx, "lifecycle")
	r.res.Completed = lifecycle(ctx, r, t, c.Primary, o)
	return r.done()
}

// failedWith explains an experiment that ended where it should have moved on.
func failedWith(ctx context.Context, s *session, id string, st experiment.State, while string) error {
	e, err := read(ctx, s, id)
	reason := "no reason given"
	if err == nil && e.FailureReason != nil {
		reason = *e.FailureReason
	}
	return fmt.Errorf("the experiment became %s while %s: %s", st, while, reason)
}

// lifecycle returns the experiment's id when it completed.
func lifecycle(ctx context.Context, r *recorder, t Target, acct Account, o Options) string {
	a := newAPI(t)
	var (
		s *session
		e store.Experiment
		w *watcher
	)
	// Each wait runs from the previous move: a slow generator must not eat the run's time.
	deadline := func() time.Time { return time.Now().Add(o.Timeout) }
	if !r.step("create an experiment and subscribe to it", func() (string, error) {
		var err error
		if s, err = open(ctx, a, acct); err != nil {
			return "", err
		}
		if e, err = create(ctx, s, "smoke-lifecycle-"+o.RunID, o); err != nil {
			return "", err
		}
		r.undo("cleanup: stop the experiment", stopUnlessEnded(s, e.ID.String()))
		// A run may outlive the access token or a gateway replica: resume with since.
		if w, err = watch(ctx, s, t.Gateway, e.ID.String(), false, 5, deadline()); err != nil {
			return "", err
		}
		r.undo("cleanup: close the connection", func(context.Context) (string, error) { w.close(); return "closed", nil })
		return fmt.Sprintf("experiment %s: %s vs %s for %s", e.ID, o.Baseline, o.Candidate, o.Duration), nil
	}) {
		return ""
	}

	reach := func(want experiment.State, while string) func() (string, error) {
		return func() (string, error) {
			start := time.Now()
			limit := deadline()
			if want == experiment.Analyzing {
				limit = limit.Add(o.Duration)
			}
			err := w.until(ctx, limit, func(st experiment.State) bool { return st == want || ended(st) })
			if err != nil {
				return "", err
			}
			// A live look may end the run early, straight from running to completed.
			if st := w.log.state(); st != want && !(want == experiment.Analyzing && st == experiment.Completed) {
				return "", failedWith(ctx, s, e.ID.String(), st, while)
			}
			return fmt.Sprintf("%s after %.1f s", w.log.items[len(w.log.items)-1], time.Since(start).Seconds()), nil
		}
	}

	if !r.step("start: the experiment starts generating", func() (string, error) {
		rep, err := command(ctx, s, e.ID.String(), "start")
		if err != nil {
			return "", err
		}
		if err := rep.Want(http.StatusAccepted); err != nil {
			return "", err
		}
		return reach(experiment.Generating, "starting")()
	}) {
		return ""
	}
	if !r.step("manifests are generated for both variants", func() (string, error) {
		detail, err := reach(experiment.Deploying, "generating manifests")()
		if err != nil {
			return "", err
		}
		var page struct {
			Items []struct {
				Variant string `json:"variant"` // baseline or candidate
				Kind    string `json:"kind"`    // ConfigMap, DaemonSet, …
			} `json:"items"` // every stored object
		}
		if err := s.get(ctx, "/v1/experiments/"+e.ID.String()+"/manifests", &page); err != nil {
			return "", err
		}
		per := map[string]int{}
		for _, m := range page.Items {
			per[m.Variant]++
		}
		if per["baseline"] == 0 || per["candidate"] == 0 {
			return "", fmt.Errorf("GET …/manifests lists %v objects per variant, want some for baseline and candidate", per)
		}
		return fmt.Sprintf("%s; %d baseline and %d candidate objects", detail, per["baseline"], per["candidate"]), nil
	}) {
		return ""
	}
	if !r.step("both variants' collectors are deployed: running", reach(experiment.Running, "deploying its collectors")) {
		return ""
	}

	completed := ""
	if o.ExpectComplete {
		if !r.step("the run ends after its duration (analyzing), or early on a clear answer (completed)", reach(experiment.Analyzing, "running")) {
			return ""
		}
		if !r.step("the analysis completes it with a stored verdict", func() (string, error) {
			detail, err := reach(experiment.Completed, "analyzing")()
			if err != nil {
				return "", err
			}
			got, err := read(ctx, s, e.ID.String())
			if err != nil {
				return "", err
			}
			var an analysisView
			if err := s.get(ctx, "/v1/experiments/"+e.ID.String()+"/analysis", &an); err != nil {
				return "", err
			}
			if got.Verdict == nil || *got.Verdict != an.Verdict || !validVerdict(an.Verdict) {
				return "", fmt.Errorf("the experiment's verdict is %v and its analysis's %q; want the same promote, reject or inconclusive", deref(got.Verdict), an.Verdict)
			}
			completed = e.ID.String()
			return fmt.Sprintf("%s; verdict %s", detail, an.Verdict), nil
		}) {
			return ""
		}
	} else if !r.step("stop: the experiment is cancelled", func() (string, error) {
		rep, err := command(ctx, s, e.ID.String(), "stop")
		if err != nil {
			return "", err
		}
		if err := rep.Want(http.StatusAccepted); err != nil {
			return "", err
		}
		return reach(experiment.Cancelled, "stopping")()
	}) {
		return ""
	}

	r.step("the streamed transitions equal the API's", func() (string, error) {
		stored, err := history(ctx, s, e.ID.String())
		if err != nil {
			return "", err
		}
		if err := sameTransitions(w.log.items, stored); err != nil {
			return "", err
		}
		return fmt.Sprintf("%v; %d KPI window events streamed; %d reconnects", stored, w.kpis, w.reconnects), nil
	})
	return completed
}

// deref shows an optional string.
func deref(s *string) string {
	if s == nil {
		return "none"
	}
	return fmt.Sprintf("%q", *s)
}
