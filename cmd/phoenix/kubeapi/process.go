package kubeapi

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// process is one server program: etcd or kube-apiserver.
type process struct {
	name   string        // what it is, for messages
	log    string        // the file holding its standard output and error
	exited chan struct{} // closed once it has exited
	err    error         // how it exited; read only after exited is closed
	pid    int           // its process id, once started
}

// errPortTaken says a server could not bind a port chosen free a moment before: another process
// took it in between. Neither etcd nor kube-apiserver can be handed a listener or report a port
// the kernel picked (kube-apiserver's --secure-port 0 disables serving), so Start chooses again.
var errPortTaken = errors.New("a port was taken between choosing and binding it")

// startProcess runs bin with args, its output into logPath.
//
// The child gets SIGKILL when its parent dies (Pdeathsig), so a test killed by go test's
// timeout — which runs no cleanup — leaves no server holding ports and memory. Pdeathsig fires
// when the thread that forked the child exits, not the process, so the fork happens on a
// goroutine locked to its thread that lives exactly as long as the child.
func startProcess(name, bin, logPath string, args ...string) (*process, error) {
	logs, err := os.Create(logPath) // #nosec G304 -- in the servers' own directory
	if err != nil {
		return nil, fmt.Errorf("%s log: %w", name, err)
	}
	p := &process{name: name, log: logPath, exited: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine, after the child
		defer close(p.exited)
		defer logs.Close()
		cmd := exec.Command(bin, args...) // #nosec G204 -- the servers built from deploy/apiserver
		cmd.Stdout, cmd.Stderr = logs, logs
		// Its own process group: a Ctrl-C reaches the parent, which stops it (a test's cleanup, phoenix validate's defer).
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			p.err = err
			started <- err
			return
		}
		p.pid = cmd.Process.Pid
		started <- nil
		p.err = cmd.Wait()
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return p, nil
}

// stop asks the server to shut down (SIGTERM) and kills it if it has not within 20 s; it returns
// once the process has exited.
func (p *process) stop() {
	if p == nil {
		return
	}
	select {
	case <-p.exited:
		return
	default:
	}
	_ = syscall.Kill(p.pid, syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(p.pid, syscall.SIGKILL)
		<-p.exited
	}
}

// failure describes a server that exited while it was awaited, with the end of its log; a port
// taken in the meantime is errPortTaken.
func (p *process) failure() error {
	tail := p.tail(40)
	if strings.Contains(tail, "address already in use") {
		return fmt.Errorf("%s: %w\n%s", p.name, errPortTaken, tail)
	}
	return fmt.Errorf("%s exited while starting (%v):\n%s", p.name, p.err, tail)
}

// tail returns the last n lines of the server's log.
func (p *process) tail(n int) string {
	raw, err := os.ReadFile(p.log)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := bytes.Split(bytes.TrimRight(raw, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
