package bintest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Start runs cmd, a function binary configured with PORT=0, and returns the address its runtime
// reports listening on ("127.0.0.1:port") and a channel that receives the process's exit. The
// kernel picks the port, so no other process can take it between a test choosing it and the
// binary binding it (a port chosen by the test and closed before the start once left a benchmark
// waiting 30 s on a process that had exited). A binary that exits before it listens fails the
// test with its last log lines; one that does not report within within, too. The process is
// killed when the test ends.
func Start(tb testing.TB, cmd *exec.Cmd, within time.Duration) (string, <-chan error) {
	tb.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = cmd.Process.Kill() })
	exited := make(chan error, 1)
	addr := make(chan string, 1)
	var tail bytes.Buffer // the log before the address, for a start that fails
	go func() {
		// The runtime logs where it listens; the rest of the log is drained so the process never
		// blocks on it.
		sc := bufio.NewScanner(stderr)
		reported := false
		for sc.Scan() {
			var line struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if !reported && json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				reported = true
				addr <- strings.Replace(line.Addr, "[::]", "127.0.0.1", 1)
				continue
			}
			if !reported && tail.Len() < 16<<10 {
				tail.Write(sc.Bytes())
				tail.WriteByte('\n')
			}
		}
		exited <- cmd.Wait()
	}()
	select {
	case a := <-addr:
		return a, exited
	case err := <-exited:
		tb.Fatalf("%s exited before listening: %v\n%s", cmd.Path, err, tail.String())
	case <-time.After(within):
		tb.Fatalf("%s did not report its address within %s", cmd.Path, within)
	}
	return "", nil
}
