package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a PostgreSQL server of one test's own — a fresh cluster from Debian's PostgreSQL
// (initdb), on a free port, with trust authentication — for tests that stop and restart the
// database without touching the machine's server, which every other suite uses.
type Cluster struct {
	AdminURL string // connects as the superuser postgres
	bin      string // the directory of initdb and postgres
	dir      string // the data directory (its sockets too)
	port     int    // where it listens on 127.0.0.1
	as       []string
	cmd      *exec.Cmd     // the running server; nil while stopped
	exited   chan struct{} // closed when cmd has exited
	logs     *os.File      // the server's log
}

// StartCluster creates and starts a cluster, and removes it when the test ends. PostgreSQL
// refuses to run as root: as root, the cluster belongs to and runs as the postgres user.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(bins) == 0 {
		t.Fatal("pgtest: no PostgreSQL server in /usr/lib/postgresql/*/bin (apt-get install postgresql)")
	}
	slices.Sort(bins) // the newest major version last (they are numbered 13, 14, …)
	dir, err := os.MkdirTemp("", "phoenix-pg-")
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{bin: filepath.Dir(bins[len(bins)-1]), dir: dir, port: freePort(t)}
	t.Cleanup(func() {
		c.Stop(t)
		_ = os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("pgtest: PostgreSQL will not run as root and there is no postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		c.as = []string{"runuser", "-u", "postgres", "--"}
	}
	data := filepath.Join(dir, "data")
	if out, err := c.command(filepath.Join(c.bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("pgtest: initdb: %v\n%s", err, out)
	}
	if c.logs, err = os.Create(filepath.Join(dir, "server.log")); err != nil { // #nosec G304 -- in the test's own temporary directory
		t.Fatal(err)
	}
	c.AdminURL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
	c.Start(t)
	return c
}

// command runs name as the cluster's owner.
func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	argv := append(append(slices.Clone(c.as), name), args...)
	return exec.Command(argv[0], argv[1:]...) // #nosec G204 -- PostgreSQL's own programs
}

// Start starts the server and returns once it accepts connections.
func (c *Cluster) Start(t testing.TB) {
	t.Helper()
	cmd := c.command(filepath.Join(c.bin, "postgres"), "-D", filepath.Join(c.dir, "data"), "-p", strconv.Itoa(c.port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+c.dir, "-c", "fsync=off", "-c", "max_connections=200")
	cmd.Stdout, cmd.Stderr = c.logs, c.logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a signal to the test is not one to it
	if err := cmd.Start(); err != nil {
		t.Fatalf("pgtest: start PostgreSQL: %v", err)
	}
	c.cmd, c.exited = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(c.exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, c.AdminURL)
		cancel()
		if err == nil {
			_ = conn.Close(context.Background())
			return
		}
		select {
		case <-c.exited:
			raw, _ := os.ReadFile(c.logs.Name())
			t.Fatalf("pgtest: PostgreSQL exited at start:\n%s", raw)
		case <-time.After(50 * time.Millisecond): // polling until it accepts connections
		}
		if time.Now().After(deadline) {
			t.Fatalf("pgtest: PostgreSQL did not accept connections within 60 s: %v", err)
		}
	}
}

// Stop shuts the server down at once (fast shutdown: open connections are cut, as in a
// restart) and returns once it has exited. Stopping a stopped cluster does nothing.
func (c *Cluster) Stop(t testing.TB) {
	t.Helper()
	if c.cmd == nil {
		return
	}
	// To the server itself (its pid is postmaster.pid's first line), not to runuser in front.
	raw, err := os.ReadFile(filepath.Join(c.dir, "data", "postmaster.pid"))
	pid := 0
	if err == nil {
		pid, _ = strconv.Atoi(strings.TrimSpace(strings.SplitN(string(raw), "\n", 2)[0]))
	}
	if pid <= 0 {
		pid = c.cmd.Process.Pid
	}
	if err := syscall.Kill(pid, syscall.SIGINT); err != nil && !errors.Is(err, syscall.ESRCH) {
		t.Errorf("pgtest: stop PostgreSQL: %v", err)
	}
	select {
	case <-c.exited:
	case <-time.After(60 * time.Second):
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-c.exited
	}
	c.cmd = nil
}

// freePort asks the kernel for a port nobody listens on.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
