package bintest

import (
	"bytes"
	"sync"
)

// Output collects a child process's output from its copying goroutine, readable while it runs.
type Output struct {
	mu  sync.Mutex   // guards buf
	buf bytes.Buffer // everything written
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

// String is everything written so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// Tail is at most the last n bytes written.
func (o *Output) Tail(n int) string {
	s := o.String()
	return s[max(0, len(s)-n):]
}
