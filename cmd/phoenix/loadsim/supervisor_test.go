package loadsim

import (
	"context"
	"flag"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the worker: the supervisor runs it through links named after the
// simulated processes with "-loadsim-worker" first.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "-loadsim-worker" {
		fs := flag.NewFlagSet("worker", flag.ExitOnError)
		var p Process
		pattern := fs.String("pattern", "", "")
		fs.Float64Var(&p.CPU, "cpu", 0, "")
		fs.IntVar(&p.MemMiB, "mem-mib", 0, "")
		fs.Uint64Var(&p.Seed, "seed", 0, "")
		_ = fs.Parse(os.Args[2:])
		p.Pattern = Pattern(*pattern)
		if err := Work(context.Background(), p); err != nil {
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func comm(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	return strings.TrimSpace(string(b))
}

func TestSupervisor_RunsNamedProcessesChurnsAndCleansUp(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu      sync.Mutex
		changes []Change
		churned = make(chan struct{}, 16)
	)
	s := &Supervisor{Exe: exe, Args: []string{"-loadsim-worker"}, MeanLife: 300 * time.Millisecond,
		Grace: time.Second, Report: func(c Change) {
			mu.Lock()
			changes = append(changes, c)
			mu.Unlock()
			if c.Kind == "churned" {
				churned <- struct{}{}
			}
		}}
	plan := []Process{
		{Name: "payments-api", Critical: true, Pattern: Spiky, CPU: 0.01, MemMiB: 2, Seed: 1},
		{Name: "etl-batch", Pattern: Growing, CPU: 0.01, MemMiB: 8, Lifetime: 200 * time.Millisecond, Seed: 2},
		{Name: "memcached", Pattern: Steady, CPU: 0.01, MemMiB: 2, Seed: 3},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, plan) }()

	// Two churns: the job was replaced, and its replacement too.
	for range 2 {
		select {
		case <-churned:
		case <-time.After(15 * time.Second):
			t.Fatal("the job never churned")
		}
	}
	// While running, every live child carries its simulated name.
	mu.Lock()
	live := map[int]string{}
	for _, c := range changes {
		switch c.Kind {
		case "started":
			live[c.PID] = c.Name
		case "churned", "exited", "stopped":
			delete(live, c.PID)
		}
	}
	mu.Unlock()
	for pid, name := range live {
		if got := comm(pid); got != name {
			t.Errorf("pid %d is named %q, want %q", pid, got, name)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	started, criticalStarts := 0, 0
	for _, c := range changes {
		if c.Kind == "started" {
			started++
			if c.Critical {
				criticalStarts++
			}
			if alive(c.PID) {
				t.Errorf("%s (pid %d) outlived the supervisor", c.Name, c.PID)
			}
		}
		if c.Kind == "exited" {
			t.Errorf("%s exited on its own: %v", c.Name, c.Err)
		}
		if c.Kind == "churned" && c.Critical {
			t.Error("a critical process churned")
		}
	}
	if criticalStarts != 1 {
		t.Errorf("critical process started %d times, want once", criticalStarts)
	}
	if started < 5 {
		t.Errorf("%d starts, want the 3 planned and at least 2 replacements", started)
	}
}

func TestSupervisor_RefusesBadNames(t *testing.T) {
	s := &Supervisor{Exe: "/bin/true"}
	err := s.Run(context.Background(), []Process{{Name: "../evil", Pattern: Steady}})
	if err == nil || !strings.Contains(err.Error(), "bad process name") {
		t.Fatalf("got %v", err)
	}
	if err := s.Run(context.Background(), nil); err == nil {
		t.Fatal("empty plan accepted")
	}
}
