package loadsim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Supervisor runs a plan as real child processes.
type Supervisor struct {
	// Exe is the program each simulated process runs (this one, normally os.Executable()).
	Exe string
	// Args come before the worker flags (Process.Args): the subcommand that calls Work.
	Args []string
	// Env is the environment of the children (nil: this process's).
	Env []string
	// MeanLife is the average lifetime of a replacement job. Default 20 s.
	MeanLife time.Duration
	// Grace is how long a stopped child may take to exit before it is killed. Default 2 s.
	Grace time.Duration
	// Report receives every start, stop and unexpected exit (may be nil). It is called from
	// several goroutines.
	Report func(Change)
}

// Change is something that happened to a simulated process.
type Change struct {
	Kind     string // started, churned (stopped at the end of its lifetime), exited (on its own), stopped
	Name     string // executable name
	PID      int    // its process id
	Critical bool   // whether it is a critical process
	Err      error  // why it exited, for exited
}

// Run starts every process of plan and keeps the plan running until ctx ends: a process whose
// lifetime is over is replaced by a new job, one that exits on its own is reported and replaced.
// When ctx ends every child is stopped (SIGTERM, then SIGKILL after Grace) before Run returns.
// Children also die with this process if it is killed outright (PR_SET_PDEATHSIG), and exit on
// their own when they notice they were reparented.
func (s *Supervisor) Run(ctx context.Context, plan []Process) error {
	if len(plan) == 0 {
		return errors.New("nothing to run")
	}
	sweep()
	dir, err := os.MkdirTemp("", fmt.Sprintf("phoenix-loadsim-%d-", os.Getpid()))
	if err != nil {
		return fmt.Errorf("directory for process names: %w", err)
	}
	defer os.RemoveAll(dir)
	l := linker{dir: dir, exe: s.Exe, made: map[string]string{}}
	var wg sync.WaitGroup
	errs := make(chan error, len(plan))
	for _, p := range plan {
		wg.Go(func() {
			if err := s.slot(ctx, &l, p); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// slot keeps one place of the plan filled until ctx ends.
func (s *Supervisor) slot(ctx context.Context, l *linker, p Process) error {
	rng := rand.New(rand.NewPCG(p.Seed, p.Seed^0x5851f42d4c957f2d)) // #nosec G404 -- simulated load, reproducible by seed
	meanLife := s.MeanLife
	if meanLife <= 0 {
		meanLife = 20 * time.Second
	}
	failures := 0
	for {
		path, err := l.link(p.Name)
		if err != nil {
			return err
		}
		cmd := exec.Command(path, append(append([]string{}, s.Args...), p.Args()...)...) // #nosec G204 -- a link to this program made by linker; arguments are the plan's numbers
		cmd.Env = s.Env
		// Its own process group, so a Ctrl-C at the terminal reaches only the supervisor, which
		// then stops the children itself; and death with the supervisor if it is killed.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start %s: %w", p.Name, err)
		}
		s.report(Change{Kind: "started", Name: p.Name, PID: cmd.Process.Pid, Critical: p.Critical})
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		life := make(<-chan time.Time) // never fires: lives until the end
		if p.Lifetime > 0 && !p.Critical {
			life = time.After(p.Lifetime)
		}
		select {
		case <-ctx.Done():
			s.stop(cmd, exited)
			s.report(Change{Kind: "stopped", Name: p.Name, PID: cmd.Process.Pid, Critical: p.Critical})
			return nil
		case <-life:
			s.stop(cmd, exited)
			s.report(Change{Kind: "churned", Name: p.Name, PID: cmd.Process.Pid})
			p = Job(rng, meanLife)
		case err := <-exited:
			s.report(Change{Kind: "exited", Name: p.Name, PID: cmd.Process.Pid, Critical: p.Critical, Err: err})
			// A worker that keeps dying is a bug, not load: give up on the slot.
			if failures++; failures >= 5 {
				return fmt.Errorf("%s exited %d times; last: %v", p.Name, failures, err)
			}
			if !p.Critical {
				p = Job(rng, meanLife)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second): // do not spin on a process that cannot start
			}
		}
	}
}

// stop ends a child: SIGTERM, then SIGKILL after the grace period.
func (s *Supervisor) stop(cmd *exec.Cmd, exited <-chan error) {
	grace := s.Grace
	if grace <= 0 {
		grace = 2 * time.Second
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-exited
	}
}

func (s *Supervisor) report(c Change) {
	if s.Report != nil {
		s.Report(c)
	}
}

// sweep removes the link directories of simulators that were killed outright (and so could not
// remove their own): each directory is named after the process that made it.
func sweep() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "phoenix-loadsim-*-*"))
	for _, d := range dirs {
		var pid int
		if _, err := fmt.Sscanf(filepath.Base(d), "phoenix-loadsim-%d-", &pid); err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = os.RemoveAll(d)
		}
	}
}

// linker gives each executable name a path: a hard link to the program when the file system
// allows (so /proc/PID/exe differs too), else a symbolic link (the kernel still takes comm from
// the name that was executed).
type linker struct {
	dir  string            // where the links live, removed by Run
	exe  string            // what they point to
	mu   sync.Mutex        // guards made
	made map[string]string // name → path
}

func (l *linker) link(name string) (string, error) {
	if name == "" || len(name) > MaxNameLen || filepath.Base(name) != name {
		return "", fmt.Errorf("bad process name %q", name)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if p, ok := l.made[name]; ok {
		return p, nil
	}
	sub := filepath.Join(l.dir, fmt.Sprint(len(l.made)))
	if err := os.Mkdir(sub, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(sub, name)
	if err := os.Link(l.exe, path); err != nil {
		if err := os.Symlink(l.exe, path); err != nil {
			return "", fmt.Errorf("link %s: %w", name, err)
		}
	}
	l.made[name] = path
	return path, nil
}
