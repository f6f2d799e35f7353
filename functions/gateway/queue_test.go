package gateway

import (
	"runtime"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
)

// TestMailbox_StartsOneWriterAtATime walks the writer's life: the producer that finds the mailbox
// idle starts it, others do not, the writer ends when take finds nothing, and the next producer
// starts it again.
func TestMailbox_StartsOneWriterAtATime(t *testing.T) {
	var q mailbox
	q.init(4)
	frame := queued{data: []byte(`{}`)}

	if ok, start := q.push(frame); !ok || !start {
		t.Fatalf("first push: ok %v start %v, want both", ok, start)
	}
	if ok, start := q.push(frame); !ok || start {
		t.Fatalf("push while a writer runs: ok %v start %v, want ok only", ok, start)
	}
	if start := q.owePong([]byte("p")); start {
		t.Fatal("owePong while a writer runs asked for another")
	}
	w, ok := q.take(work{})
	if !ok || len(w.frames) != 2 || !w.pongDue || string(w.pong) != "p" {
		t.Fatalf("take: ok %v, %d frames, pong %v %q", ok, len(w.frames), w.pongDue, w.pong)
	}
	if _, ok := q.take(w); ok {
		t.Fatal("take of an empty mailbox said there was work")
	}
	for name, produce := range map[string]func() bool{
		"owePing":           q.owePing,
		"credentialChanged": q.credentialChanged,
		"push":              func() bool { _, start := q.push(frame); return start },
	} {
		if !produce() {
			t.Fatalf("%s after the writer ended did not start one", name)
		}
		if _, ok := q.take(work{}); !ok {
			t.Fatalf("take after %s found nothing", name)
		}
		if _, ok := q.take(work{}); ok {
			t.Fatalf("second take after %s found work", name)
		}
	}
}

func TestMailbox_FullQueueRefusesLiveFrames(t *testing.T) {
	var q mailbox
	q.init(2)
	frame := queued{data: []byte(`{}`)}
	q.push(frame)
	q.push(frame)
	if ok, start := q.push(frame); ok || start {
		t.Fatalf("push to a full queue: ok %v start %v, want neither", ok, start)
	}
}

func TestMailbox_CloseWinsOverQueuedWork(t *testing.T) {
	tests := []struct {
		name      string
		running   bool // a writer runs when the connection closes
		wantStart bool
	}{
		{"idle", false, true},
		{"writer running", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var q mailbox
			q.init(4)
			if tt.running {
				q.push(queued{data: []byte(`{}`)})
			}
			if start := q.close(); start != tt.wantStart {
				t.Fatalf("close: start %v, want %v", start, tt.wantStart)
			}
			w, ok := q.take(work{})
			if !ok || !w.closed || len(w.frames) != 0 {
				t.Fatalf("take after close: ok %v closed %v frames %d, want only closed", ok, w.closed, len(w.frames))
			}
			// The closing writer keeps the mailbox: nothing starts another.
			if _, start := q.push(queued{data: []byte(`{}`)}); start {
				t.Fatal("push after close started a writer")
			}
			if q.owePing() {
				t.Fatal("owePing after close started a writer")
			}
		})
	}
}

func TestMailbox_PushWaitWaitsForRoom(t *testing.T) {
	var q mailbox
	q.init(4)
	frame := queued{data: []byte(`{}`)}
	q.push(frame)
	q.push(frame) // half full: a replayed frame must wait
	started := 0
	pushed := make(chan bool, 1)
	go func() { pushed <- q.pushWait(make(chan struct{}), frame, func() { started++ }) }()
	select {
	case <-pushed:
		t.Fatal("pushWait did not wait for room")
	case <-time.After(50 * time.Millisecond):
	}
	if _, ok := q.take(work{}); !ok {
		t.Fatal("take found nothing")
	}
	select {
	case ok := <-pushed:
		if !ok {
			t.Fatal("pushWait gave up")
		}
	case <-time.After(waitTimeout):
		t.Fatal("pushWait still waiting after the writer took the queue")
	}
	if started != 0 {
		t.Fatal("pushWait started a writer while one was running")
	}

	done := make(chan struct{})
	close(done)
	q.push(frame)
	if q.pushWait(done, frame, func() {}) {
		t.Fatal("pushWait on a full queue of a closed client returned true")
	}
}

// TestIdleConnection_HoldsOnlyItsReader checks what the on-demand writer is for: once the pong
// of each dial's ping is written, an idle connection keeps one goroutine, its reader; and the
// writer comes back for the next event.
func TestIdleConnection_HoldsOnlyItsReader(t *testing.T) {
	e := newEnv(t, withOptions(func(o *Options) { o.MaxConnectionsPerUser = 100 }))
	const n = 50
	base := runtime.NumGoroutine()
	conns := make([]*websocket.Conn, n)
	for i := range conns {
		conns[i] = e.dial(t, tokenA)
		subscribe(t, conns[i], "tenant")
	}
	// A few goroutines of the process come and go (timers' functions, pools); a writer per
	// connection would add n.
	waitFor(t, "the writers to end", func() bool { return runtime.NumGoroutine()-base <= n+5 })
	if held := runtime.NumGoroutine() - base; held < n {
		t.Fatalf("%d goroutines for %d connections, want at least a reader each", held, n)
	}
	e.publish(t, e.tenantA, uuid.New(), `{"n":1}`)
	for _, c := range conns {
		expectEvent(t, c, "tenant", 1, `{"n":1}`)
	}
}
