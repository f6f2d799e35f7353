// Package deployer runs an experiment's collectors. On Kubernetes the generated manifests are
// applied to the cluster and ApiServerSource reports the DaemonSets' status; on one machine
// (`phoenix dev`) the Local deployer runs the same generated collector configurations with the
// real collector distribution as child processes, one per variant, and reports their readiness
// in the same shape ApiServerSource gives, so the controller cannot tell the difference.
//
// Local restarts nothing silently: a collector that exits on its own fails the experiment with
// its last log lines as the reason. Collectors are torn down when the experiment ends or is
// cancelled, and die with the process that runs them; a Local that starts finds every run that
// was measuring when its predecessor died (Reconcile) and fails it, rather than leave it running
// with nothing measuring.
package deployer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"sigs.k8s.io/yaml"

	"github.com/phoenixotel/phoenix/shared/events"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/function"
	"github.com/phoenixotel/phoenix/shared/store"
)

// ReadyLine is what the collector logs once every component has started (otelcol's service).
const ReadyLine = "Everything is ready"

// Sender delivers an event to the broker (shared/emit.Sender).
type Sender interface {
	Send(ctx context.Context, e event.Event) error
}

// Options configure a Local deployer.
type Options struct {
	// Collector is the path of the Phoenix collector binary (make collector → bin/phoenix-collector).
	Collector string
	// Dir holds the configurations the collectors run, one subdirectory per experiment.
	Dir string
	// Env returns the environment variables a variant's collector needs besides PATH, such as
	// its ingest token. Nil adds none.
	Env func(ctx context.Context, tenant, experimentID uuid.UUID, v experiment.Variant) ([]string, error)
	// Released is called after an experiment's collectors were torn down (e.g. to revoke their
	// ingest tokens). Nil does nothing.
	Released func(ctx context.Context, tenant, experimentID uuid.UUID) error
	// Grace is how long a collector may take to shut down before it is killed. Default 5 s.
	Grace time.Duration
	// LogLines is how many of a collector's last log lines a failure reports. Default 15.
	LogLines int
	// Logger receives the collectors' output at debug level and the deployer's own messages.
	Logger *slog.Logger
}

// Local runs collectors as child processes of this one.
type Local struct {
	store  *store.Store       // manifests and experiment state, read in the tenant's transaction
	sender Sender             // readiness and failures go to the broker
	o      Options            // see Options
	life   context.Context    // lives as long as the deployer: events about running collectors
	stop   context.CancelFunc // ends life
	mu     sync.Mutex         // guards running and version
	// running are the live collectors by experiment and variant.
	running map[key]*collector
	// version orders the status reports like a Kubernetes resourceVersion: strictly increasing
	// and ahead of anything an earlier run of this process reported (it starts at the clock).
	version int64
	wg      sync.WaitGroup // one per collector watcher
}

type key struct {
	experiment uuid.UUID
	variant    experiment.Variant
}

// collector is one running variant.
type collector struct {
	tenant   uuid.UUID          // whose experiment it measures
	workload map[string]any     // metadata of its DaemonSet manifest (name, namespace, labels)
	cmd      *exec.Cmd          // the process
	tail     *tail              // its last log lines
	ready    bool               // it logged ReadyLine; guarded by Local.mu
	stopping bool               // a teardown is stopping it, so its exit is no failure; guarded by Local.mu
	exited   chan struct{}      // closed when the process has exited and been reaped
	config   string             // path of its configuration file
	variant  experiment.Variant // baseline or candidate
}

// NewLocal returns a deployer; Close stops every collector it started.
func NewLocal(st *store.Store, sender Sender, o Options) (*Local, error) {
	if o.Collector == "" {
		return nil, errors.New("no collector binary configured")
	}
	if o.Grace <= 0 {
		o.Grace = 5 * time.Second
	}
	if o.LogLines <= 0 {
		o.LogLines = 15
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("collector configuration directory: %w", err)
	}
	life, stop := context.WithCancel(context.Background())
	return &Local{store: st, sender: sender, o: o, life: life, stop: stop,
		running: map[key]*collector{}, version: time.Now().UnixMicro()}, nil
}

// Handle answers deploy and teardown requests. It acknowledges at once; readiness and failures
// follow as their own events.
func (l *Local) Handle(ctx context.Context, e event.Event) (*event.Event, error) {
	tenant, ref, err := request(e)
	if err != nil {
		return nil, err
	}
	if e.Type() == events.TeardownRequested {
		l.teardown(ref.ExperimentID)
		if l.o.Released != nil {
			if err := l.o.Released(ctx, tenant, ref.ExperimentID); err != nil {
				return nil, fmt.Errorf("release experiment %s: %w", ref.ExperimentID, err)
			}
		}
		return nil, nil
	}
	return nil, l.deploy(ctx, tenant, ref.ExperimentID)
}

// variantObjects are what a variant's stored manifests give the local run.
type variantObjects struct {
	config   string         // the collector configuration (the ConfigMap's config.yaml)
	workload map[string]any // the DaemonSet's metadata
}

// deploy starts both variants' collectors, or reports the status of those already running (a
// redelivered request).
func (l *Local) deploy(ctx context.Context, tenant, id uuid.UUID) error {
	var (
		state experiment.State
		vars  map[experiment.Variant]*variantObjects
	)
	err := l.store.WithTenant(ctx, tenant, func(tx *store.Tx) error {
		exp, err := tx.Experiment(ctx, id)
		if err != nil {
			return err
		}
		state = exp.State
		ms, err := tx.Manifests(ctx, id)
		if err != nil {
			return err
		}
		vars, err = objects(ms)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return function.Invalid(fmt.Errorf("tenant has no experiment %s", id))
	}
	if err != nil {
		return err
	}
	if state != experiment.Deploying {
		l.o.Logger.Info("deploy request for an experiment that is no longer deploying; nothing started", "experiment", id, "state", state)
		return nil
	}
	for _, v := range []experiment.Variant{experiment.Baseline, experiment.Candidate} {
		obj := vars[v]
		if obj == nil || obj.config == "" || obj.workload == nil {
			return function.Invalid(fmt.Errorf("experiment %s has no stored configuration for the %s", id, v))
		}
		if err := l.start(ctx, tenant, id, v, obj); err != nil {
			l.fail(tenant, id, v, err.Error())
		}
	}
	return nil
}

// objects picks each variant's configuration and workload metadata from its stored manifests.
func objects(ms []store.ManifestRecord) (map[experiment.Variant]*variantObjects, error) {
	out := map[experiment.Variant]*variantObjects{}
	for _, m := range ms {
		if m.Kind != "ConfigMap" && m.Kind != "DaemonSet" {
			continue
		}
		var o struct {
			Metadata map[string]any    `json:"metadata"`
			Data     map[string]string `json:"data"`
		}
		if err := yaml.Unmarshal([]byte(m.Content), &o); err != nil {
			return nil, fmt.Errorf("stored %s %s: %w", m.Kind, m.Name, err)
		}
		v := out[m.Variant]
		if v == nil {
			v = &variantObjects{}
			out[m.Variant] = v
		}
		if m.Kind == "ConfigMap" {
			v.config = o.Data["config.yaml"]
		} else {
			v.workload = o.Metadata
		}
	}
	return out, nil
}

// start runs one variant's collector unless it already runs.
func (l *Local) start(ctx context.Context, tenant, id uuid.UUID, v experiment.Variant, obj *variantObjects) error {
	k := key{id, v}
	l.mu.Lock()
	if c, ok := l.running[k]; ok {
		ready := c.ready
		l.mu.Unlock()
		if ready {
			l.report(c)
		}
		return nil
	}
	l.mu.Unlock()

	// Checked on every deploy rather than once: the binary may be built while the platform runs.
	if fi, err := os.Stat(l.o.Collector); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("the collector binary %s is missing or not executable: build it with `make collector`", l.o.Collector)
	}
	env := []string{"PATH=" + os.Getenv("PATH")}
	if l.o.Env != nil {
		extra, err := l.o.Env(ctx, tenant, id, v)
		if err != nil {
			return fmt.Errorf("environment of the %s collector: %w", v, err)
		}
		env = append(env, extra...)
	}
	dir := filepath.Join(l.o.Dir, id.String())
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("configuration directory: %w", err)
	}
	path := filepath.Join(dir, string(v)+".yaml")
	if err := os.WriteFile(path, []byte(obj.config), 0o600); err != nil {
		return fmt.Errorf("write the %s configuration: %w", v, err)
	}
	cmd := exec.Command(l.o.Collector, "--config", path) // #nosec G204 -- the collector binary phoenix dev was started with, on a config it wrote
	cmd.Env = env
	// Its own process group (a Ctrl-C reaches phoenix dev, which tears collectors down itself),
	// and death with this process if it is killed outright.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	cmd.Stdout = cmd.Stderr // the collector logs to stderr; stdout (debug exporter) joins it
	c := &collector{tenant: tenant, workload: obj.workload, cmd: cmd, tail: newTail(l.o.LogLines),
		exited: make(chan struct{}), config: path, variant: v}
	l.mu.Lock()
	if _, ok := l.running[k]; ok { // a concurrent redelivery won
		l.mu.Unlock()
		return nil
	}
	if err := cmd.Start(); err != nil {
		l.mu.Unlock()
		return fmt.Errorf("start the %s collector: %w", v, err)
	}
	l.running[k] = c
	l.mu.Unlock()
	l.o.Logger.Info("collector started", "experiment", id, "variant", v, "pid", cmd.Process.Pid)
	l.wg.Go(func() { l.watch(k, c, out) })
	return nil
}

// watch follows a collector's log until it exits: the ready line reports readiness, an exit
// that no teardown asked for fails the experiment.
func (l *Local) watch(k key, c *collector, out io.Reader) {
	lines := make(chan string)
	go func() {
		defer close(lines)
		scanLines(out, func(s string) { lines <- s })
	}()
	for line := range lines {
		c.tail.add(line)
		l.o.Logger.Debug(line, "experiment", k.experiment, "variant", k.variant)
		if strings.Contains(line, ReadyLine) {
			l.mu.Lock()
			c.ready = true
			l.mu.Unlock()
			l.report(c)
		}
	}
	err := c.cmd.Wait()
	close(c.exited)
	l.mu.Lock()
	stopping := c.stopping
	if l.running[k] == c {
		delete(l.running, k)
	}
	l.mu.Unlock()
	if stopping {
		return
	}
	reason := fmt.Sprintf("the %s collector exited (%v); last log lines:\n%s", k.variant, err, c.tail.String())
	l.o.Logger.Warn("collector exited on its own", "experiment", k.experiment, "variant", k.variant, "err", err)
	l.fail(c.tenant, k.experiment, k.variant, reason)
}

// report sends the collector's workload status in ApiServerSource's resource-mode shape.
func (l *Local) report(c *collector) {
	l.mu.Lock()
	l.version++
	rv := l.version
	ready := int32(0)
	if c.ready {
		ready = 1
	}
	l.mu.Unlock()
	meta := map[string]any{"generation": 1, "resourceVersion": fmt.Sprint(rv)}
	for k, v := range c.workload {
		meta[k] = v
	}
	meta["resourceVersion"], meta["generation"] = fmt.Sprint(rv), 1
	obj := map[string]any{"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": meta,
		"status": map[string]any{"observedGeneration": 1, "desiredNumberScheduled": 1,
			"currentNumberScheduled": 1, "updatedNumberScheduled": ready, "numberReady": ready, "numberAvailable": ready}}
	e := event.New()
	e.SetID(uuid.NewString())
	e.SetType(events.APIServerResourceEvent)
	e.SetSource(events.SourceDeployer)
	e.SetSubject(fmt.Sprintf("/apis/apps/v1/namespaces/%v/daemonsets/%v", meta["namespace"], meta["name"]))
	if err := e.SetData(event.ApplicationJSON, obj); err != nil {
		l.o.Logger.Error("encode workload status", "err", err)
		return
	}
	l.send(e)
}

// LostOnRestart is the reason Reconcile gives a run whose collectors died with an earlier process.
const LostOnRestart = "phoenix dev restarted while this run was measuring: its collectors ran in the earlier " +
	"process and ended with it, so the windows since then are missing; runs are not resumed — start a new experiment"

// Reconcile fails every running experiment: a Local that starts runs no collector yet, so a run
// still marked running was measured by collectors of an earlier process (phoenix dev killed or
// crashed), which ended with it. One Local serves a database (phoenix dev); on a cluster the
// DaemonSets outlive the deployer and the silence rule covers collectors that stop delivering.
// The failures are sent in the background, retried while the broker comes up.
func (l *Local) Reconcile(ctx context.Context) error {
	var orphans []store.ScheduledExperiment
	err := l.store.Platform(ctx, func(tx *store.PlatformTx) error {
		active, err := tx.ActiveExperiments(ctx)
		for _, e := range active {
			if e.Schedule.State == experiment.Running {
				orphans = append(orphans, e)
			}
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("find runs left by an earlier process: %w", err)
	}
	for _, e := range orphans {
		l.o.Logger.Warn("a run lost its collectors when phoenix dev restarted; failing it", "experiment", e.ID)
		l.wg.Go(func() { l.fail(e.TenantID, e.ID, experiment.Baseline, LostOnRestart) })
	}
	return nil
}

// fail reports a collector failure; the controller fails the experiment with reason.
func (l *Local) fail(tenant, id uuid.UUID, v experiment.Variant, reason string) {
	if len(reason) > 4000 {
		reason = "…" + reason[len(reason)-3990:]
	}
	e, err := events.New(uuid.NewString(), events.WorkloadFailed, events.SourceDeployer, tenant, id,
		events.WorkloadFailure{ExperimentID: id, Variant: string(v), Reason: reason})
	if err != nil {
		l.o.Logger.Error("encode workload failure", "err", err)
		return
	}
	l.send(e)
}

// send delivers e to the broker, retrying a broker that is briefly away: these events exist
// only here, so giving up loses them.
func (l *Local) send(e event.Event) {
	backoff := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := l.sender.Send(l.life, e)
		if err == nil {
			return
		}
		if attempt == 8 || l.life.Err() != nil {
			l.o.Logger.Error("could not deliver a collector event; the experiment's phase timeout will end it", "type", e.Type(), "err", err)
			return
		}
		select {
		case <-l.life.Done():
			return
		case <-time.After(backoff):
			backoff *= 2
		}
	}
}

// teardown stops an experiment's collectors and removes their configurations.
func (l *Local) teardown(id uuid.UUID) {
	var stopping []*collector
	l.mu.Lock()
	for k, c := range l.running {
		if k.experiment == id {
			c.stopping = true
			stopping = append(stopping, c)
		}
	}
	l.mu.Unlock()
	l.halt(stopping)
	_ = os.RemoveAll(filepath.Join(l.o.Dir, id.String()))
}

// halt stops collectors: SIGTERM, then SIGKILL after the grace period.
func (l *Local) halt(cs []*collector) {
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() {
			_ = c.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-c.exited:
			case <-time.After(l.o.Grace):
				_ = c.cmd.Process.Kill()
				<-c.exited
			}
		})
	}
	wg.Wait()
}

// Running lists the experiments and variants with a live collector, and their process ids.
func (l *Local) Running() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]int{}
	for k, c := range l.running {
		out[k.experiment.String()+"/"+string(k.variant)] = c.cmd.Process.Pid
	}
	return out
}

// Close stops every collector and waits for their watchers.
func (l *Local) Close(ctx context.Context) error {
	var all []*collector
	l.mu.Lock()
	for _, c := range l.running {
		c.stopping = true
		all = append(all, c)
	}
	l.mu.Unlock()
	l.halt(all)
	l.stop()
	done := make(chan struct{})
	go func() { l.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
