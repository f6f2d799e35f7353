package deployer

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"sync"
)

// maxLine bounds one log line kept for a failure reason.
const maxLine = 400

// tail keeps the last n lines of a log.
type tail struct {
	mu    sync.Mutex // add and String run on different goroutines
	lines []string   // ring of the last lines
	next  int        // where the next line goes
	full  bool       // the ring has wrapped
}

func newTail(n int) *tail { return &tail{lines: make([]string, n)} }

func (t *tail) add(line string) {
	if len(line) > maxLine {
		line = line[:maxLine] + "…"
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines[t.next] = line
	t.next = (t.next + 1) % len(t.lines)
	t.full = t.full || t.next == 0
}

// String is the kept lines, oldest first.
func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var kept []string
	if t.full {
		kept = append(kept, t.lines[t.next:]...)
	}
	kept = append(kept, t.lines[:t.next]...)
	return strings.Join(kept, "\n")
}

// scanLines calls fn for each line of r until it ends. A line longer than the reader's buffer
// is cut there and the rest of it skipped, so a runaway line cannot grow memory.
func scanLines(r io.Reader, fn func(string)) {
	br := bufio.NewReaderSize(r, 16<<10)
	skipping := false
	for {
		chunk, err := br.ReadSlice('\n')
		if !skipping {
			if line := strings.TrimRight(string(chunk), "\r\n"); line != "" {
				fn(line)
			}
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			skipping = true
		case err != nil:
			return
		default:
			skipping = false
		}
	}
}
