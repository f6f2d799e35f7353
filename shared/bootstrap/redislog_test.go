package bootstrap_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
	redislogging "github.com/redis/go-redis/v9/logging"

	"github.com/phoenixotel/phoenix/shared/bootstrap"
	"github.com/phoenixotel/phoenix/shared/logging"
)

// lockedBuffer is a bytes.Buffer safe for go-redis's goroutines to write while the test reads.
type lockedBuffer struct {
	mu  sync.Mutex   // guards buf
	buf bytes.Buffer // what was written
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// A Redis that cannot be reached makes go-redis log; the line must arrive as a WARN record of the
// process's logger, not as text on stderr. Not parallel: the logger is the library's global.
func TestRouteRedisLogs_LibraryLinesBecomeWarnRecords(t *testing.T) {
	var logs lockedBuffer
	bootstrap.RouteRedisLogs(logging.New(&logs, "api", slog.LevelInfo))
	t.Cleanup(redislogging.Enable) // the library's own default again, for whatever runs next

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close() // nothing listens there now: every dial is refused
	rdb := redis.NewClient(&redis.Options{Addr: addr, DialerRetries: 1, MaxRetries: -1})
	defer rdb.Close()
	if err := rdb.Ping(context.Background()).Err(); err == nil {
		t.Fatal("ping of a closed port succeeded")
	}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a JSON record: %q", line)
		}
		if msg, _ := rec["msg"].(string); strings.Contains(msg, "connection pool") {
			if rec["level"] != "WARN" || rec["service"] != "api" || rec["library"] != "go-redis" {
				t.Fatalf("record %v: want level WARN, service api, library go-redis", rec)
			}
			return
		}
	}
	t.Fatalf("no connection pool record among the logs:\n%s", logs.String())
}
