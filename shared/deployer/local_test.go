package deployer

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/pipeline"
	"github.com/phoenixotel/phoenix/shared/store"
	"github.com/phoenixotel/phoenix/shared/workload"
	"github.com/phoenixotel/phoenix/test/pgtest"
)

// recorder stands in for the broker: the real path (emit.Sender to the local broker) is
// exercised by the end-to-end tests of phoenix dev.
type recorder chan event.Event

func (r recorder) Send(_ context.Context, e event.Event) error { r <- e; return nil }

func (r recorder) next(t *testing.T) event.Event {
	t.Helper()
	select {
	case e := <-r:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event from the deployer")
		return event.Event{}
	}
}

// fakeCollector isolates the deployer from the collector (the real one runs in test/e2e): it
// records its environment and configuration, then behaves as $MODE says.
const fakeCollector = `#!/bin/sh
cfg="$2"
env > "$cfg.env"
case "$MODE" in
crash) echo "starting"; echo "error: cannot bind 127.0.0.1:4318"; exit 3 ;;
*) echo "2026-11-26T00:00:00Z info service@v0.160.0/service.go:1 Everything is ready. Begin running and processing data."; exec sleep 300 ;;
esac
`

type fixture struct {
	local  *Local
	sent   recorder
	st     *store.Store
	tenant uuid.UUID
	exp    uuid.UUID
	dir    string
	// released is the experiment the Released hook was called for.
	released uuid.UUID
}

func setup(t *testing.T, modes map[experiment.Variant]string, state experiment.State) *fixture {
	t.Helper()
	ctx := context.Background()
	st := pgtest.Migrated(t).AppStore(t, store.Options{})
	tenant := pgtest.Tenant(t, st, "acme")
	exp := pgtest.Experiment(t, st, tenant)
	err := st.WithTenant(ctx, tenant, func(tx *store.Tx) error {
		path := []experiment.State{experiment.Pending, experiment.Generating, experiment.Deploying}
		for i := 1; i < len(path) && path[i-1] != state; i++ {
			if _, err := tx.Move(ctx, exp, path[i-1], path[i], "cause-"+string(path[i]), "test", "test"); err != nil {
				return err
			}
		}
		for _, v := range []experiment.Variant{experiment.Baseline, experiment.Candidate} {
			req := pipeline.Request{Template: "process-baseline", ExperimentID: exp, Variant: string(v), Target: pipeline.Local,
				Output: pipeline.Output{Endpoint: "http://127.0.0.1:1"}}
			cfg, err := pipeline.Render(req)
			if err != nil {
				return err
			}
			ms, err := pipeline.Manifests(req, pipeline.Deployment{Tenant: tenant.String()}, cfg)
			if err != nil {
				return err
			}
			var recs []store.ManifestRecord
			var sums [][]byte
			for _, m := range ms {
				recs = append(recs, store.ManifestRecord{Kind: m.Kind, Name: m.Name, Content: string(m.Content)})
				sums = append(sums, m.SHA256)
			}
			if err := tx.SaveManifests(ctx, exp, v, recs, sums); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "collector")
	if err := os.WriteFile(bin, []byte(fakeCollector), 0o755); err != nil {
		t.Fatal(err)
	}
	sent := make(recorder, 16)
	l, err := NewLocal(st, sent, Options{Collector: bin, Dir: filepath.Join(dir, "run"), Grace: time.Second,
		Env: func(_ context.Context, tn, id uuid.UUID, v experiment.Variant) ([]string, error) {
			return []string{"MODE=" + modes[v], "PHOENIX_INGEST_TOKEN=token-" + string(v)}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close(context.Background()) })
	f := &fixture{local: l, sent: sent, st: st, tenant: tenant, exp: exp, dir: filepath.Join(dir, "run")}
	l.o.Released = func(_ context.Context, tn, id uuid.UUID) error {
		if tn == tenant {
			f.released = id
		}
		return nil
	}
	return f
}

func (f *fixture) request(t *testing.T, typ string) {
	t.Helper()
	e, _ := events.New(uuid.NewString(), typ, events.SourceController, f.tenant, f.exp, events.ExperimentRef{ExperimentID: f.exp})
	if _, err := f.local.Handle(context.Background(), e); err != nil {
		t.Fatal(err)
	}
}

func TestLocal_RunsBothVariantsReportsReadyAndTearsDown(t *testing.T) {
	t.Parallel()
	f := setup(t, nil, experiment.Deploying)
	f.request(t, events.DeployRequested)
	seen := map[string]workload.Status{}
	for range 2 {
		e := f.sent.next(t)
		if e.Type() != events.APIServerResourceEvent || e.Source() != events.SourceDeployer {
			t.Fatalf("event %s from %s", e.Type(), e.Source())
		}
		// The controller's own parser reads it as a ready DaemonSet of this experiment.
		st, err := workload.Parse(e.Data())
		if err != nil {
			t.Fatal(err)
		}
		if !st.Ready || st.Tenant != f.tenant || st.Experiment != f.exp || st.Kind != "DaemonSet" || st.ResourceVersion <= 0 {
			t.Fatalf("status %+v", st)
		}
		seen[st.Variant] = st
	}
	if len(seen) != 2 || seen["baseline"].ResourceVersion == seen["candidate"].ResourceVersion {
		t.Fatalf("want one ready report per variant with distinct versions, got %+v", seen)
	}
	pids := f.local.Running()
	if len(pids) != 2 {
		t.Fatalf("running %v", pids)
	}
	// Each collector got its own token, not the platform's environment, and its stored config.
	for _, v := range []string{"baseline", "candidate"} {
		cfg := filepath.Join(f.dir, f.exp.String(), v+".yaml")
		env, err := os.ReadFile(cfg + ".env")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(env), "PHOENIX_INGEST_TOKEN=token-"+v) || strings.Contains(string(env), "PHOENIX_DATABASE_URL") {
			t.Errorf("%s environment:\n%s", v, env)
		}
		if fi, err := os.Stat(cfg); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s config: %v %v", v, fi, err)
		}
	}
	// A redelivered request starts nothing new and reports the same collectors again.
	f.request(t, events.DeployRequested)
	f.sent.next(t)
	f.sent.next(t)
	if again := f.local.Running(); len(again) != 2 || again[f.exp.String()+"/baseline"] != pids[f.exp.String()+"/baseline"] {
		t.Fatalf("redelivery restarted collectors: %v then %v", pids, again)
	}

	f.request(t, events.TeardownRequested)
	if f.released != f.exp {
		t.Errorf("released %s after the teardown, want %s", f.released, f.exp)
	}
	if left := f.local.Running(); len(left) != 0 {
		t.Fatalf("still running after teardown: %v", left)
	}
	for _, pid := range pids {
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("pid %d survived the teardown", pid)
		}
	}
	if _, err := os.Stat(filepath.Join(f.dir, f.exp.String())); !os.IsNotExist(err) {
		t.Errorf("configurations left behind: %v", err)
	}
	select {
	case e := <-f.sent:
		t.Fatalf("a torn-down collector was reported: %s %s", e.Type(), e.Data())
	case <-time.After(300 * time.Millisecond):
	}
}

func TestLocal_ACrashedCollectorFailsTheExperimentWithItsLastLines(t *testing.T) {
	t.Parallel()
	f := setup(t, map[experiment.Variant]string{experiment.Candidate: "crash"}, experiment.Deploying)
	f.request(t, events.DeployRequested)
	var failure events.WorkloadFailure
	for range 2 {
		e := f.sent.next(t)
		if e.Type() != events.WorkloadFailed {
			continue
		}
		if tn, _ := events.Tenant(e); tn != f.tenant || e.Subject() != f.exp.String() {
			t.Fatalf("failure of tenant %s subject %s", tn, e.Subject())
		}
		if err := e.DataAs(&failure); err != nil {
			t.Fatal(err)
		}
	}
	if failure.Variant != "candidate" || !strings.Contains(failure.Reason, "exit status 3") ||
		!strings.Contains(failure.Reason, "starting\nerror: cannot bind 127.0.0.1:4318") {
		t.Fatalf("failure %+v", failure)
	}
	if running := f.local.Running(); len(running) != 1 {
		t.Fatalf("running %v: the crashed collector must not be restarted", running)
	}
}

func TestLocal_StartsNothingForAnExperimentThatIsNotDeploying(t *testing.T) {
	t.Parallel()
	f := setup(t, nil, experiment.Generating)
	f.request(t, events.DeployRequested)
	if running := f.local.Running(); len(running) != 0 {
		t.Fatalf("started %v", running)
	}
	e, _ := events.New("x", events.ManifestsRequested, events.SourceController, f.tenant, f.exp, events.ExperimentRef{ExperimentID: f.exp})
	if _, err := f.local.Handle(context.Background(), e); err == nil {
		t.Fatal("a manifests request was accepted")
	}
}

func TestLocal_AMissingBinaryFailsTheExperimentWithWhatToDo(t *testing.T) {
	t.Parallel()
	f := setup(t, nil, experiment.Deploying)
	f.local.o.Collector = filepath.Join(t.TempDir(), "none")
	f.request(t, events.DeployRequested)
	for range 2 {
		var failure events.WorkloadFailure
		if e := f.sent.next(t); e.Type() != events.WorkloadFailed || e.DataAs(&failure) != nil ||
			!strings.Contains(failure.Reason, "make collector") {
			t.Fatalf("%s %s", e.Type(), e.Data())
		}
	}
}

// TestLocal_ReconcileFailsRunsLeftByAnEarlierProcess: a Local that starts fails the runs still
// marked running (their collectors died with the process that ran them) and leaves an experiment
// that is still deploying, whose request the broker may yet deliver, to its own course.
func TestLocal_ReconcileFailsRunsLeftByAnEarlierProcess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t, nil, experiment.Deploying)
	deploying := pgtest.Experiment(t, f.st, f.tenant)
	err := f.st.WithTenant(ctx, f.tenant, func(tx *store.Tx) error {
		if _, err := tx.Move(ctx, f.exp, experiment.Deploying, experiment.Running, "cause-running", "test", "test"); err != nil {
			return err
		}
		for i, to := range []experiment.State{experiment.Generating, experiment.Deploying} {
			if _, err := tx.Move(ctx, deploying, []experiment.State{experiment.Pending, experiment.Generating}[i], to, "cause-"+string(to)+"-2", "test", "test"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.local.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.local.Close(ctx); err != nil { // waits until the failures are sent
		t.Fatal(err)
	}
	if len(f.sent) != 1 {
		t.Fatalf("sent %d events, want one failure for the running experiment only", len(f.sent))
	}
	var failure events.WorkloadFailure
	if e := f.sent.next(t); e.Type() != events.WorkloadFailed || e.DataAs(&failure) != nil ||
		failure.ExperimentID != f.exp || failure.Reason != LostOnRestart {
		t.Fatalf("%s %s", e.Type(), e.Data())
	}
}

func TestTail_KeepsTheLastLinesInOrder(t *testing.T) {
	cases := []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"a", "b"}, "a\nb"},
		{[]string{"a", "b", "c"}, "a\nb\nc"},
		{[]string{"a", "b", "c", "d", "e"}, "c\nd\ne"},
		{[]string{strings.Repeat("x", 1000)}, strings.Repeat("x", maxLine) + "…"},
	}
	for _, c := range cases {
		tl := newTail(3)
		for _, l := range c.in {
			tl.add(l)
		}
		if got := tl.String(); got != c.want {
			t.Errorf("%q: got %q want %q", c.in, got, c.want)
		}
	}
}

func TestScanLines_CutsRunawayLines(t *testing.T) {
	long := strings.Repeat("y", 100<<10)
	var got []string
	scanLines(strings.NewReader("one\r\n"+long+"\ntwo\nthree"), func(s string) { got = append(got, s) })
	if len(got) != 4 || got[0] != "one" || len(got[1]) != 16<<10 || got[2] != "two" || got[3] != "three" {
		t.Fatalf("%d lines: %q", len(got), got[0])
	}
}
