package distribution

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"syscall"
	"time"
)

// replayTimeout bounds one replay: starting the collector takes about 0.1 s and a 64 MiB capture
// posts in a few seconds here.
const replayTimeout = 2 * time.Minute

// Replay runs config — a pipeline.ReplayConfig whose OTLP receiver listens on listen — with the
// collector, posts each body (an OTLP ExportMetricsServiceRequest, protobuf) to it in order, and
// returns once the collector has shut down: whatever the pipeline made of the bodies has reached
// the configuration's sink. A body the collector refuses is an error naming its position.
func (b *Binary) Replay(ctx context.Context, config []byte, listen string, bodies [][]byte) error {
	ctx, cancel := context.WithTimeout(ctx, replayTimeout)
	defer cancel()
	file, done, err := b.begin(ctx, config)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	defer done()
	var logs bytes.Buffer
	cmd := b.command(ctx, "--config", file)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.Cancel = func() error { return cmd.Process.Kill() }
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("replay: run %s: %w", b.path, err)
	}
	var waitErr error
	exited := make(chan struct{}) // closed once the collector has exited, with waitErr set
	go func() { waitErr = cmd.Wait(); close(exited) }()
	fail := func(err error) error {
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("replay: %w; the collector said: %s", err, reason(logs.Bytes(), file))
	}
	if err := awaitListening(ctx, listen, exited); err != nil {
		return fail(err)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	for i, body := range bodies {
		if err := post(ctx, client, "http://"+listen+"/v1/metrics", body); err != nil {
			return fail(fmt.Errorf("request %d of %d: %w", i+1, len(bodies), err))
		}
	}
	// Every request has been answered: a synchronous pipeline (no batching, no sending queue) has
	// delivered all of it. SIGTERM asks the collector to shut down in order, flushing any
	// processor that holds data on a timer. A collector still starting may not handle SIGTERM yet
	// (it installs its handler after its receivers listen) and die of it: nothing is lost then.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fail(err)
	}
	select {
	case <-exited:
		var exit *exec.ExitError
		if waitErr != nil && !(errors.As(waitErr, &exit) && exit.Sys().(syscall.WaitStatus).Signal() == syscall.SIGTERM) {
			return fmt.Errorf("replay: the collector ended with %v: %s", waitErr, reason(logs.Bytes(), file))
		}
		return nil
	case <-ctx.Done():
		return fail(ctx.Err())
	}
}

// awaitListening waits until something accepts connections on addr, the collector exits, or ctx
// ends.
func awaitListening(ctx context.Context, addr string, exited <-chan struct{}) error {
	tick := time.NewTicker(20 * time.Millisecond) // polling the port: the collector has no readiness signal on stdout
	defer tick.Stop()
	for {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			_ = c.Close()
			return nil
		}
		select {
		case <-exited:
			return errors.New("the collector exited before listening")
		case <-ctx.Done():
			return fmt.Errorf("the collector never listened on %s: %w", addr, ctx.Err())
		case <-tick.C:
		}
	}
}

func post(ctx context.Context, client *http.Client, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New("the collector answered " + resp.Status)
	}
	return nil
}
