package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestFromContext_CarriesAttributes(t *testing.T) {
	var buf bytes.Buffer
	ctx := WithContext(context.Background(), New(&buf, "api", slog.LevelInfo))
	ctx = With(ctx, "request_id", "r-1", "tenant", "t-1")
	FromContext(ctx).Info("hello")
	FromContext(ctx).Debug("hidden at info level")
	var line map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &line); err != nil {
		t.Fatalf("want exactly one JSON line, got %q: %v", buf.String(), err)
	}
	for k, want := range map[string]string{"service": "api", "request_id": "r-1", "tenant": "t-1", "msg": "hello"} {
		if line[k] != want {
			t.Errorf("%s = %v, want %s", k, line[k], want)
		}
	}
}

func TestFromContext_WithoutLoggerDiscards(t *testing.T) {
	FromContext(context.Background()).Error("goes nowhere") // must not panic
}

// TestFromContext_FallsBackToAVisibleLogger: a context without a logger still logs, through
// slog's default logger, marked as the fallback.
func TestFromContext_FallsBackToAVisibleLogger(t *testing.T) {
	var buf bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&buf, nil)))
	defer slog.SetDefault(prev)
	FromContext(context.Background()).Warn("no logger was passed here")
	if !strings.Contains(buf.String(), `"logger":"fallback"`) || !strings.Contains(buf.String(), "no logger was passed here") {
		t.Fatalf("fallback wrote %q", buf.String())
	}
}
