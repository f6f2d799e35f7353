package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
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
