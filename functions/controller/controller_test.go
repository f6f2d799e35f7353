package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/function"
	"github.com/phoenixotel/phoenix/shared/store"
	"github.com/phoenixotel/phoenix/shared/workload"
	"github.com/phoenixotel/phoenix/test/pgtest"
)

// recorder stands in for Redis and the broker; the real publisher and sender are tested in
// shared/realtime and with the local broker.
type recorder struct {
	mu          sync.Mutex
	published   []events.Transition
	sent        []event.Event
	failPublish bool // fail the next Publish
	failSend    bool // fail the next Send
}

func (r *recorder) Publish(_ context.Context, _, _ uuid.UUID, payload []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failPublish {
		r.failPublish = false
		return errors.New("redis down")
	}
	var e event.Event
	if err := json.Unmarshal(payload, &e); err != nil {
		return err
	}
	var tr events.Transition
	if err := events.Decode(e, &tr); err != nil {
		return err
	}
	r.published = append(r.published, tr)
	return nil
}

// count is how many events were sent so far.
func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sent)
}

// since returns the events sent after the first mark.
func (r *recorder) since(mark int) []event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event.Event(nil), r.sent[mark:]...)
}

func (r *recorder) Send(_ context.Context, e event.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failSend {
		r.failSend = false
		return errors.New("broker down")
	}
	r.sent = append(r.sent, e)
	return nil
}

type fixture struct {
	st     *store.Store
	c      *Controller
	rec    *recorder
	now    time.Time
	tenant uuid.UUID
	exp    uuid.UUID
}

func setup(t *testing.T) *fixture {
	t.Helper()
	st := pgtest.Migrated(t).AppStore(t, store.Options{})
	tenant := pgtest.Tenant(t, st, "acme")
	f := &fixture{st: st, rec: &recorder{}, tenant: tenant, exp: pgtest.Experiment(t, st, tenant), now: time.Now()}
	f.c = New(Options{Store: st, Publisher: f.rec, Sender: f.rec, Now: func() time.Time { return f.now },
		Timeouts: experiment.Timeouts{Generating: time.Minute, Deploying: time.Minute, Analyzing: time.Minute}})
	return f
}

func (f *fixture) command(t *testing.T, typ, id string) event.Event {
	t.Helper()
	e, err := events.New(id, typ, events.SourceAPI, f.tenant, f.exp, events.Command{ExperimentID: f.exp, RequestedBy: "user-1"})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (f *fixture) ref(t *testing.T, typ, source, id string) event.Event {
	t.Helper()
	e, err := events.New(id, typ, source, f.tenant, f.exp, events.ExperimentRef{ExperimentID: f.exp})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// workloadEvent is an ApiServerSource (Resource mode) update of one variant's Deployment.
func (f *fixture) workloadEvent(t *testing.T, id, variant string, ready bool) event.Event {
	t.Helper()
	avail := 0
	if ready {
		avail = 1
	}
	obj := map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "collector-" + variant, "generation": 1, "labels": map[string]string{
			workload.LabelExperiment: f.exp.String(), workload.LabelTenant: f.tenant.String(), workload.LabelVariant: variant}},
		"spec":   map[string]any{"replicas": 1},
		"status": map[string]any{"observedGeneration": 1, "updatedReplicas": 1, "availableReplicas": avail},
	}
	e := event.New()
	e.SetID(id)
	e.SetType(events.APIServerResourceEvent)
	e.SetSource("https://10.96.0.1:443")
	e.SetSubject("/apis/apps/v1/namespaces/phoenix/deployments/collector-" + variant)
	if err := e.SetData("application/json", obj); err != nil {
		t.Fatal(err)
	}
	return e
}

func (f *fixture) tick(t *testing.T, id string) event.Event {
	t.Helper()
	e := event.New()
	e.SetID(id)
	e.SetType(events.PingTick)
	e.SetSource("/apis/v1/namespaces/phoenix/pingsources/phoenix-clock")
	_ = e.SetData("application/json", map[string]string{})
	return e
}

// handle delivers e and returns the last follow-up the controller sent to the broker while
// handling it (nil when none). Follow-ups leave through the outbox, never as the reply.
func (f *fixture) handle(t *testing.T, e event.Event) *event.Event {
	t.Helper()
	mark := f.rec.count()
	r, err := f.c.Handle(context.Background(), e)
	if err != nil {
		t.Fatalf("%s %s: %v", e.Type(), e.ID(), err)
	}
	if r != nil {
		t.Fatalf("%s %s: replied %s; follow-ups leave through the outbox", e.Type(), e.ID(), r.Type())
	}
	if sent := f.rec.since(mark); len(sent) > 0 {
		return &sent[len(sent)-1]
	}
	return nil
}

func (f *fixture) state(t *testing.T) (store.Experiment, []store.Transition) {
	t.Helper()
	var e store.Experiment
	var trs []store.Transition
	err := f.st.WithTenant(context.Background(), f.tenant, func(tx *store.Tx) (err error) {
		if e, err = tx.Experiment(context.Background(), f.exp); err != nil {
			return err
		}
		trs, err = tx.Transitions(context.Background(), f.exp)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return e, trs
}

func (f *fixture) mustBe(t *testing.T, want experiment.State, transitions int) {
	t.Helper()
	e, trs := f.state(t)
	if e.State != want || len(trs) != transitions {
		t.Fatalf("state %s with %d transitions, want %s with %d: %+v", e.State, len(trs), want, transitions, trs)
	}
}

func status(err error) int {
	var fe *function.Error
	if errors.As(err, &fe) {
		return fe.Status
	}
	return 0
}

func replyType(r *event.Event) string {
	if r == nil {
		return ""
	}
	return r.Type()
}

func TestLifecycle_FromStartToPromotion(t *testing.T) {
	t.Parallel()
	f := setup(t)
	steps := []struct {
		event event.Event
		state experiment.State
		reply string
	}{
		{f.command(t, events.ExperimentStarted, "start"), experiment.Generating, events.ManifestsRequested},
		{f.ref(t, events.ManifestsGenerated, events.SourceGenerator, "gen"), experiment.Deploying, events.DeployRequested},
		{f.workloadEvent(t, "w1", "baseline", true), experiment.Deploying, ""},
		{f.workloadEvent(t, "w2", "candidate", false), experiment.Deploying, ""},
		{f.workloadEvent(t, "w3", "candidate", true), experiment.Running, ""},
	}
	for i, s := range steps {
		if got := replyType(f.handle(t, s.event)); got != s.reply {
			t.Fatalf("step %d: reply %q, want %q", i, got, s.reply)
		}
		if e, _ := f.state(t); e.State != s.state {
			t.Fatalf("step %d: state %s, want %s", i, e.State, s.state)
		}
	}
	// Ticks before the run duration change nothing; after it, analysis is requested.
	mark := f.rec.count()
	f.now = f.now.Add(5 * time.Minute)
	f.handle(t, f.tick(t, "tick-1"))
	f.mustBe(t, experiment.Running, 3)
	f.now = f.now.Add(10 * time.Minute) // the seeded experiment runs 600 s
	f.handle(t, f.tick(t, "tick-2"))
	f.mustBe(t, experiment.Analyzing, 4)
	if sent := f.rec.since(mark); len(sent) != 1 || sent[0].Type() != events.AnalysisRequested || sent[0].Subject() != f.exp.String() {
		t.Fatalf("sent %v, want one analysis request", sent)
	}
	done, _ := events.New("done", events.AnalysisCompleted, events.SourceAnalyzer, f.tenant, f.exp,
		events.AnalysisResult{ExperimentID: f.exp, ResultID: uuid.New(), Verdict: "promote"})
	if got := replyType(f.handle(t, done)); got != events.TeardownRequested {
		t.Fatalf("completion reply %q", got)
	}
	f.handle(t, f.command(t, events.ExperimentPromote, "promote"))
	e, trs := f.state(t)
	if e.State != experiment.Promoted || e.Verdict == nil || *e.Verdict != "promote" || len(trs) != 6 {
		t.Fatalf("final %s verdict %v transitions %d", e.State, e.Verdict, len(trs))
	}
	// Every transition was published with gap-free sequence numbers.
	if len(f.rec.published) != 6 {
		t.Fatalf("%d transitions published, want 6", len(f.rec.published))
	}
	for i, p := range f.rec.published {
		if p.Seq != int64(i+1) || p.From != string(trs[i].From) || p.To != string(trs[i].To) {
			t.Fatalf("published %d: %+v, transition %+v", i, p, trs[i])
		}
	}
}

func TestLifecycle_EveryEventTwiceAndOutOfOrderHasExactlyOnceEffects(t *testing.T) {
	t.Parallel()
	f := setup(t)
	seq := []event.Event{
		f.command(t, events.ExperimentStarted, "start"),
		f.ref(t, events.ManifestsGenerated, events.SourceGenerator, "gen"),
		f.workloadEvent(t, "w1", "baseline", true),
		f.workloadEvent(t, "w2", "candidate", true),
	}
	for _, e := range seq {
		f.handle(t, e)
		if again := f.handle(t, e); again != nil {
			t.Fatalf("%s: the redelivery sent %s again", e.ID(), again.Type())
		}
	}
	f.mustBe(t, experiment.Running, 3)
	// The whole history again, newest first: nothing changes.
	for i := len(seq) - 1; i >= 0; i-- {
		f.handle(t, seq[i])
	}
	f.now = f.now.Add(11 * time.Minute)
	tick := f.tick(t, "tick-1")
	mark := f.rec.count()
	f.handle(t, tick)
	f.handle(t, tick)
	f.mustBe(t, experiment.Analyzing, 4)
	if sent := f.rec.since(mark); len(sent) != 1 || sent[0].Type() != events.AnalysisRequested {
		t.Fatalf("a redelivered tick must not move or send again: %v", sent)
	}
	// A late start for an experiment already analyzing is acknowledged without effect.
	if r := f.handle(t, f.command(t, events.ExperimentStarted, "start-again")); r != nil {
		t.Fatalf("late start replied %v", r)
	}
	f.mustBe(t, experiment.Analyzing, 4)
}

func TestTimeouts_FailAPhaseThatTakesTooLong(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.handle(t, f.command(t, events.ExperimentStarted, "start"))
	f.handle(t, f.ref(t, events.ManifestsGenerated, events.SourceGenerator, "gen"))
	f.now = f.now.Add(2 * time.Minute) // deploying timeout is one minute here
	mark := f.rec.count()
	f.handle(t, f.tick(t, "tick"))
	e, trs := f.state(t)
	if e.State != experiment.Failed || e.FailureReason == nil || *e.FailureReason != "deploying did not finish within 1m0s" {
		t.Fatalf("state %s reason %v", e.State, e.FailureReason)
	}
	if trs[len(trs)-1].CauseID != "tick/"+f.exp.String() {
		t.Fatalf("cause of the timeout: %q", trs[len(trs)-1].CauseID)
	}
	if sent := f.rec.since(mark); len(sent) != 1 || sent[0].Type() != events.TeardownRequested {
		t.Fatalf("sent %v, want teardown", sent)
	}
}

func TestStopAndFailure(t *testing.T) {
	t.Parallel()
	t.Run("stop cancels and tears down", func(t *testing.T) {
		f := setup(t)
		f.handle(t, f.command(t, events.ExperimentStarted, "start"))
		if got := replyType(f.handle(t, f.command(t, events.ExperimentStop, "stop"))); got != events.TeardownRequested {
			t.Fatalf("stop reply %q", got)
		}
		f.mustBe(t, experiment.Cancelled, 2)
		// A late "generated" for a cancelled experiment is acknowledged, not retried.
		if r := f.handle(t, f.ref(t, events.ManifestsGenerated, events.SourceGenerator, "gen")); r != nil {
			t.Fatalf("late event replied %v", r)
		}
		f.mustBe(t, experiment.Cancelled, 2)
	})
	t.Run("a collector failure fails the experiment with its reason", func(t *testing.T) {
		f := setup(t)
		f.handle(t, f.command(t, events.ExperimentStarted, "start"))
		f.handle(t, f.ref(t, events.ManifestsGenerated, events.SourceGenerator, "gen"))
		fail, _ := events.New("fail", events.WorkloadFailed, events.SourceDeployer, f.tenant, f.exp,
			events.WorkloadFailure{ExperimentID: f.exp, Variant: "candidate", Reason: "exit status 1: bad config"})
		f.handle(t, fail)
		e, _ := f.state(t)
		if e.State != experiment.Failed || *e.FailureReason != "candidate collector failed: exit status 1: bad config" {
			t.Fatalf("state %s reason %v", e.State, e.FailureReason)
		}
	})
}

func TestPublishFailure_DoesNotHoldBackTheFollowUp(t *testing.T) {
	t.Parallel()
	f := setup(t)
	start := f.command(t, events.ExperimentStarted, "start")
	f.rec.failPublish = true // Redis down
	if got := replyType(f.handle(t, start)); got != events.ManifestsRequested {
		t.Fatalf("with Redis down: sent %q; want the follow-up anyway", got)
	}
	f.mustBe(t, experiment.Generating, 1)
	if len(f.rec.published) != 0 {
		t.Fatalf("published %+v while Redis was down", f.rec.published)
	}
	f.handle(t, start) // a redelivery publishes what was missed
	if len(f.rec.published) != 1 || f.rec.published[0].To != "generating" {
		t.Fatalf("published %+v", f.rec.published)
	}
	f.mustBe(t, experiment.Generating, 1)
}

func TestTick_FollowUpsSurviveABrokerOutage(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.handle(t, f.command(t, events.ExperimentStarted, "start"))
	f.handle(t, f.ref(t, events.ManifestsGenerated, events.SourceGenerator, "gen"))
	f.handle(t, f.workloadEvent(t, "w1", "baseline", true))
	f.handle(t, f.workloadEvent(t, "w2", "candidate", true))
	f.now = f.now.Add(11 * time.Minute)
	mark := f.rec.count()
	f.rec.failSend = true // the broker refuses the analysis request
	if _, err := f.c.Handle(context.Background(), f.tick(t, "tick-1")); err == nil {
		t.Fatal("a tick whose follow-up could not be sent must be retried")
	}
	f.mustBe(t, experiment.Analyzing, 4)
	if sent := f.rec.since(mark); len(sent) != 0 {
		t.Fatalf("sent %v", sent)
	}
	// The retried tick finds nothing due any more, and still sends what the outbox kept.
	f.handle(t, f.tick(t, "tick-1"))
	if sent := f.rec.since(mark); len(sent) != 1 || sent[0].Type() != events.AnalysisRequested {
		t.Fatalf("after the retry sent %v, want the analysis request", sent)
	}
	f.handle(t, f.tick(t, "tick-2"))
	analyses := 0
	for _, e := range f.rec.since(mark) {
		if e.Type() == events.AnalysisRequested {
			analyses++
		}
	}
	if analyses != 1 {
		t.Fatalf("the analysis request was sent %d times: %v", analyses, f.rec.sent)
	}
}

// TestTick_ASilentVariantFailsTheRun is a collector that died mid-run (a lost node, the platform
// restarted without it, a revoked token): the variant delivers nothing, and once it has been
// silent for the silence timeout the clock fails the run, naming it — the other variant's
// deliveries do not keep the run alive.
func TestTick_ASilentVariantFailsTheRun(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.c = New(Options{Store: f.st, Publisher: f.rec, Sender: f.rec, Now: func() time.Time { return f.now },
		Timeouts: experiment.Timeouts{Generating: time.Minute, Deploying: time.Minute, Analyzing: time.Minute, Silence: time.Minute}})
	f.handle(t, f.command(t, events.ExperimentStarted, "start"))
	f.handle(t, f.ref(t, events.ManifestsGenerated, events.SourceGenerator, "gen"))
	f.handle(t, f.workloadEvent(t, "w1", "baseline", true))
	f.handle(t, f.workloadEvent(t, "w2", "candidate", true))
	f.mustBe(t, experiment.Running, 3)
	deliver := func(v experiment.Variant, end time.Time) {
		t.Helper()
		err := f.st.WithTenant(context.Background(), f.tenant, func(tx *store.Tx) error {
			_, err := tx.SaveKPIWindow(context.Background(), f.exp, store.KPIWindow{Variant: v, WindowStart: end.Add(-15 * time.Second), WindowEnd: end,
				CriticalCovered: []string{}, CriticalMissing: []string{}, KPIs: map[string]float64{}})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	start := f.now
	for i, at := range []time.Duration{20 * time.Second, 40 * time.Second, 59 * time.Second} {
		f.now = start.Add(at)
		deliver(experiment.Baseline, f.now)
		deliver(experiment.Candidate, f.now.Add(-5*time.Second))
		f.handle(t, f.tick(t, fmt.Sprint("tick-", i)))
	}
	f.mustBe(t, experiment.Running, 3)
	// From here on only the baseline delivers.
	for i, at := range []time.Duration{80 * time.Second, 100 * time.Second} {
		f.now = start.Add(at)
		deliver(experiment.Baseline, f.now)
		f.handle(t, f.tick(t, fmt.Sprint("quiet-", i)))
	}
	f.mustBe(t, experiment.Running, 3) // the candidate's last window ended 46 s ago
	f.now = start.Add(115 * time.Second)
	f.handle(t, f.tick(t, "silent"))
	f.mustBe(t, experiment.Failed, 4)
	e, _ := f.state(t)
	if e.FailureReason == nil || !strings.Contains(*e.FailureReason, "the candidate's collectors delivered nothing since") {
		t.Fatalf("failure reason %v, want it to name the silent candidate", e.FailureReason)
	}
}

func TestTick_StaleDecisionIsNotApplied(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.handle(t, f.command(t, events.ExperimentStarted, "start"))
	f.handle(t, f.ref(t, events.ManifestsGenerated, events.SourceGenerator, "gen"))
	// A tick that listed the experiment while it was still generating (past its timeout) moves it
	// only if that is still due for the state it is in now: deploying, just entered.
	tick := f.tick(t, "stale")
	per := tick.Clone()
	per.SetID("stale/" + f.exp.String())
	err := f.st.WithTenant(context.Background(), f.tenant, func(tx *store.Tx) error {
		res, err := f.c.move(context.Background(), tx, step{cause: per, tenant: f.tenant, id: f.exp, trigger: experiment.Fail, reason: "generating did not finish within 1m0s"})
		if err == nil && res.Outcome != "ignored" {
			t.Errorf("stale tick decision applied: %+v", res)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	f.mustBe(t, experiment.Deploying, 2)
}

func TestWorkloads_OlderUpdatesDoNotOverrideNewer(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.handle(t, f.command(t, events.ExperimentStarted, "start"))
	f.handle(t, f.ref(t, events.ManifestsGenerated, events.SourceGenerator, "gen"))
	withRV := func(e event.Event, rv string) event.Event {
		var obj map[string]any
		_ = json.Unmarshal(e.Data(), &obj)
		obj["metadata"].(map[string]any)["resourceVersion"] = rv
		_ = e.SetData("application/json", obj)
		return e
	}
	f.handle(t, withRV(f.workloadEvent(t, "b-new", "baseline", true), "200"))
	f.handle(t, withRV(f.workloadEvent(t, "b-old", "baseline", false), "100")) // arrives late
	f.handle(t, withRV(f.workloadEvent(t, "c", "candidate", true), "150"))
	f.mustBe(t, experiment.Running, 3)
}

func TestEvents_ForAnotherTenantOrMalformedAreRejected(t *testing.T) {
	t.Parallel()
	f := setup(t)
	other := pgtest.Tenant(t, f.st, "other")
	cases := map[string]func(e *event.Event){
		"another tenant":   func(e *event.Event) { e.SetExtension(events.TenantExtension, other.String()) },
		"unknown tenant":   func(e *event.Event) { e.SetExtension(events.TenantExtension, uuid.NewString()) },
		"no tenant":        func(e *event.Event) { e.SetExtension(events.TenantExtension, nil) },
		"unknown type":     func(e *event.Event) { e.SetType("io.phoenix.nope.v1") },
		"subject mismatch": func(e *event.Event) { e.SetSubject(uuid.NewString()) },
		"bad payload":      func(e *event.Event) { _ = e.SetData("application/json", map[string]int{"experiment_id": 1}) },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			e := f.command(t, events.ExperimentStarted, "ev-"+name)
			mutate(&e)
			if _, err := f.c.Handle(context.Background(), e); status(err) != http.StatusBadRequest {
				t.Fatalf("got %v, want 400", err)
			}
		})
	}
	bad := f.workloadEvent(t, "w", "baseline", true)
	_ = bad.SetData("application/json", map[string]any{"kind": "Deployment", "metadata": map[string]any{
		"labels": map[string]string{workload.LabelExperiment: f.exp.String(), workload.LabelTenant: other.String(), workload.LabelVariant: "baseline"}}})
	if _, err := f.c.Handle(context.Background(), bad); status(err) != http.StatusBadRequest {
		t.Fatalf("workload labelled with another tenant: %v, want 400", err)
	}
	f.mustBe(t, experiment.Pending, 0)
	// A workload that is not Phoenix's is acknowledged and ignored.
	foreign := f.workloadEvent(t, "w-foreign", "baseline", true)
	_ = foreign.SetData("application/json", map[string]any{"kind": "Deployment", "metadata": map[string]any{"labels": map[string]string{"app": "web"}}})
	if r := f.handle(t, foreign); r != nil {
		t.Fatal(fmt.Sprint("foreign workload replied ", r))
	}
}

// A live look that finds the answer clear ends a running experiment early: completed with the
// verdict, the collectors torn down. If
// the run ended meanwhile (analyzing), the early result is acknowledged and the due look decides.
func TestEarly_CompletesARunningExperiment(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.toRunning(t)
	early, _ := events.New("early", events.AnalysisCompleted, events.SourceAnalyzer, f.tenant, f.exp,
		events.AnalysisResult{ExperimentID: f.exp, ResultID: uuid.New(), Verdict: experiment.VerdictReject, Early: true, Reason: "worse: series +60%"})
	if got := replyType(f.handle(t, early)); got != events.TeardownRequested {
		t.Fatalf("an early end replied %q, want the teardown", got)
	}
	f.mustBe(t, experiment.Completed, 4)
	e, trs := f.state(t)
	if e.Verdict == nil || *e.Verdict != "reject" || trs[3].From != "running" || !strings.Contains(trs[3].Reason, "ended early, verdict: reject — worse: series +60%") {
		t.Fatalf("after an early end: verdict %v, transition %+v", e.Verdict, trs[3])
	}
	f.handle(t, early) // redelivered: one effect
	f.mustBe(t, experiment.Completed, 4)

	g := setup(t)
	g.toRunning(t)
	g.now = g.now.Add(11 * time.Minute)
	g.handle(t, g.tick(t, "tick-1"))
	g.mustBe(t, experiment.Analyzing, 4)
	late, _ := events.New("late", events.AnalysisCompleted, events.SourceAnalyzer, g.tenant, g.exp,
		events.AnalysisResult{ExperimentID: g.exp, ResultID: uuid.New(), Verdict: experiment.VerdictPromote, Early: true})
	if got := replyType(g.handle(t, late)); got != "" {
		t.Fatalf("an early end after the run replied %q", got)
	}
	g.mustBe(t, experiment.Analyzing, 4)
}

// An analysis that needs more data sends the experiment back to running for the extension; the
// clock asks for analysis again once the longer run is over. Nothing is torn down in between.
func TestContinue_ExtendsTheRunAndAnalysesAgain(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.toRunning(t)
	before, _ := f.state(t)
	started := *before.RunStartedAt
	f.now = f.now.Add(11 * time.Minute) // past the seeded 600 s
	f.handle(t, f.tick(t, "tick-1"))
	f.mustBe(t, experiment.Analyzing, 4)
	more, _ := events.New("more", events.AnalysisCompleted, events.SourceAnalyzer, f.tenant, f.exp,
		events.AnalysisResult{ExperimentID: f.exp, ResultID: uuid.New(), Verdict: "continue", ExtendSeconds: 300})
	if got := replyType(f.handle(t, more)); got != "" {
		t.Fatalf("continue replied %q; the collectors must keep running", got)
	}
	f.mustBe(t, experiment.Running, 5)
	e, trs := f.state(t)
	if e.DurationSeconds != 900 || e.PlannedDurationSeconds != 600 || e.Verdict != nil || !strings.Contains(trs[4].Reason, "5m0s") {
		t.Fatalf("after continue: duration %d (planned %d), verdict %v, reason %q", e.DurationSeconds, e.PlannedDurationSeconds, e.Verdict, trs[4].Reason)
	}
	if e.RunStartedAt == nil || !e.RunStartedAt.Equal(started) {
		t.Fatalf("the extension moved the run's start from %v to %v: its windows would not count", started, e.RunStartedAt)
	}
	f.handle(t, more) // redelivered: one effect
	f.mustBe(t, experiment.Running, 5)
	f.handle(t, f.tick(t, "tick-2")) // 11 min into a 15 min run
	f.mustBe(t, experiment.Running, 5)
	f.now = f.now.Add(5 * time.Minute)
	f.handle(t, f.tick(t, "tick-3"))
	f.mustBe(t, experiment.Analyzing, 6)
}

// With the AUTO_PROMOTE feature flag a promote verdict is followed by the promote command a user
// would send, through the outbox and the broker; other verdicts, or the flag off, wait for a user.
func TestAutoPromote_FollowsAPromoteVerdictOnlyWhenSwitchedOn(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		flag    bool
		verdict string
		sent    bool
	}{
		{"on, promote", true, "promote", true},
		{"on, reject", true, "reject", false},
		{"off, promote", false, "promote", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			f.c.autoPromote = c.flag
			f.toRunning(t)
			f.now = f.now.Add(11 * time.Minute)
			f.handle(t, f.tick(t, "tick-1")) // sends the analysis request
			done, _ := events.New("done", events.AnalysisCompleted, events.SourceAnalyzer, f.tenant, f.exp,
				events.AnalysisResult{ExperimentID: f.exp, ResultID: uuid.New(), Verdict: experiment.Verdict(c.verdict)})
			f.handle(t, done)
			f.mustBe(t, experiment.Completed, 5)
			f.handle(t, f.tick(t, "tick-2")) // drains the outbox
			var promote *event.Event
			for i := range f.rec.sent {
				if f.rec.sent[i].Type() == events.ExperimentPromote {
					promote = &f.rec.sent[i]
				}
			}
			if (promote != nil) != c.sent {
				t.Fatalf("sent %v; want a promote command: %v", f.rec.sent, c.sent)
			}
			if promote == nil {
				return
			}
			f.handle(t, *promote) // the broker delivers it back to the controller
			f.mustBe(t, experiment.Promoted, 6)
		})
	}
}

// toRunning starts the experiment and reports both variants ready: it is running.
func (f *fixture) toRunning(t *testing.T) {
	t.Helper()
	for _, e := range []event.Event{
		f.command(t, events.ExperimentStarted, "start"),
		f.ref(t, events.ManifestsGenerated, events.SourceGenerator, "gen"),
		f.workloadEvent(t, "w1", "baseline", true),
		f.workloadEvent(t, "w2", "candidate", true),
	} {
		f.handle(t, e)
	}
	f.mustBe(t, experiment.Running, 3)
}

// TestFollowUp_OfAnEventSurvivesABrokerOutage: an event's follow-up takes the ticks' path — the
// outbox — so a broker that refuses it right after the move loses nothing: the delivery succeeds
// (the move is committed) and the next tick sends it, once.
func TestFollowUp_OfAnEventSurvivesABrokerOutage(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.rec.failSend = true
	if got := f.handle(t, f.command(t, events.ExperimentStarted, "start")); got != nil {
		t.Fatalf("sent %s while the broker was down", got.Type())
	}
	f.mustBe(t, experiment.Generating, 1)
	if got := replyType(f.handle(t, f.tick(t, "tick-1"))); got != events.ManifestsRequested {
		t.Fatalf("the next tick sent %q, want the manifests request the outbox kept", got)
	}
	if got := f.handle(t, f.tick(t, "tick-2")); got != nil {
		t.Fatalf("sent %s again", got.Type())
	}
}
