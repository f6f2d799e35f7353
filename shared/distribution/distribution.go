// Package distribution runs the Phoenix collector distribution (deploy/collector, the binary
// `make collector` builds) for the platform's own checks: whether a configuration is one the real
// collector accepts, answered in the collector's own words. It holds no state beyond the binary's
// path and a bound on how many run at once.
package distribution

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"
)

// ErrNoBinary says this process was not given a collector to check with.
var ErrNoBinary = errors.New("no collector binary is configured (PHOENIX_COLLECTOR_BINARY)")

// Refusal is the collector's refusal of a configuration, in its own words.
type Refusal struct {
	Message string // the collector's error, with the temporary file's path removed
}

func (r *Refusal) Error() string { return "the collector refused the configuration: " + r.Message }

// Binary is the collector binary at a path.
type Binary struct {
	path  string        // the executable
	slots chan struct{} // bounds concurrent runs: each is a process of some 60 MiB
}

// New returns the collector at path; an empty path gives a Binary whose every check fails with
// ErrNoBinary.
func New(path string) *Binary {
	return &Binary{path: path, slots: make(chan struct{}, max(1, runtime.NumCPU()))}
}

// validateTimeout bounds one validation: the collector answers in about 0.1 s here; a minute
// would mean it hangs.
const validateTimeout = 20 * time.Second

// Validate runs `collector validate --config FILE` on config: nil when the collector accepts it,
// a *Refusal with its reason when it does not, another error when it could not run. The child gets
// an environment of its own (none of this process's secrets) in which the ${env:…} references
// Phoenix's own configurations make resolve to placeholders.
func (b *Binary) Validate(ctx context.Context, config []byte) error {
	ctx, cancel := context.WithTimeout(ctx, validateTimeout)
	defer cancel()
	file, done, err := b.begin(ctx, config)
	if err != nil {
		return fmt.Errorf("validate: %w", err)
	}
	defer done()
	cmd := b.command(ctx, "validate", "--config", file)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("validate: the collector did not answer within %s: %w", validateTimeout, ctx.Err())
	case errors.As(err, &exit):
		return &Refusal{Message: reason(out, file)}
	default:
		return fmt.Errorf("validate: run %s: %w", b.path, err)
	}
}

// begin takes one of the slots and writes config to a private temporary file; done releases both.
func (b *Binary) begin(ctx context.Context, config []byte) (file string, done func(), err error) {
	if b.path == "" {
		return "", nil, ErrNoBinary
	}
	select {
	case b.slots <- struct{}{}:
	case <-ctx.Done():
		return "", nil, ctx.Err()
	}
	release := func() { <-b.slots }
	dir, err := os.MkdirTemp("", "phoenix-collector-")
	if err != nil {
		release()
		return "", nil, err
	}
	done = func() { _ = os.RemoveAll(dir); release() }
	file = filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(file, config, 0o600); err != nil {
		done()
		return "", nil, err
	}
	return file, done, nil
}

// command runs the collector with args in an environment of its own: none of this process's
// secrets, and placeholders for the ${env:…} references Phoenix's own configurations make.
func (b *Binary) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, b.path, args...) // #nosec G204 -- the configured collector binary
	cmd.Env = []string{"PHOENIX_INGEST_TOKEN=placeholder", "PHOENIX_COLLECTOR_NAME=phoenix"}
	return cmd
}

// reason is the collector's error from its output: what follows "Error: " up to the log line
// that repeats it (the collector's command line prints both), on one line; else the last line.
// The file's path is removed.
func reason(out []byte, file string) string {
	out = bytes.ReplaceAll(out, []byte(file), []byte("config.yaml"))
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	msg := lines[len(lines)-1]
	for i, l := range lines {
		first, ok := strings.CutPrefix(strings.TrimSpace(l), "Error: ")
		if !ok {
			continue
		}
		parts := []string{first}
		for _, more := range lines[i+1:] {
			if logLine.MatchString(more) {
				break
			}
			if more = strings.TrimSpace(more); more != "" {
				parts = append(parts, more)
			}
		}
		msg = strings.Join(parts, " ")
		break
	}
	if len(msg) > 2000 {
		msg = msg[:2000] + "…"
	}
	return msg
}

// logLine is the start of a line the collector's logger writes.
var logLine = regexp.MustCompile(`^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} `)
