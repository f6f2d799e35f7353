package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
)

func TestPrintf_WritesOneStructuredRecordAtItsLevel(t *testing.T) {
	tests := []struct {
		name  string
		level slog.Level // the logger's configured level
		at    slog.Level // the adapter's level
		want  bool       // a record is written
	}{
		{"warn passes an info logger", slog.LevelInfo, slog.LevelWarn, true},
		{"warn passes a warn logger", slog.LevelWarn, slog.LevelWarn, true},
		{"warn is held back by an error logger", slog.LevelError, slog.LevelWarn, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			p := Printf{Logger: New(&buf, "redis", tt.level), Level: tt.at}
			p.Printf(context.Background(), "redis: %s:%d: connection pool: %s\n", "pool.go", 42, "dial tcp: connection refused")
			if !tt.want {
				if buf.Len() != 0 {
					t.Fatalf("wrote %q", buf.String())
				}
				return
			}
			var rec map[string]any
			if err := json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &rec); err != nil {
				t.Fatalf("want exactly one JSON record, got %q: %v", buf.String(), err)
			}
			for k, want := range map[string]string{"level": "WARN", "service": "redis",
				"msg": "redis: pool.go:42: connection pool: dial tcp: connection refused"} {
				if rec[k] != want {
					t.Errorf("%s = %v, want %s", k, rec[k], want)
				}
			}
		})
	}
}

func TestPrintf_WithoutLoggerDiscards(t *testing.T) {
	Printf{}.Printf(context.Background(), "goes %s", "nowhere") // must not panic
}
