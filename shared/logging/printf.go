package logging

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// Printf adapts a structured logger to libraries that log through a
// Printf(ctx, format, args...) method, such as go-redis (redis.SetLogger). Their lines carry no
// level, so each is written at Level: what such a library prints unprompted (a connection pool
// that cannot dial, a reconnect) is worth a look but is not by itself an error of the caller's.
type Printf struct {
	Logger *slog.Logger // where the lines go; nil discards them
	Level  slog.Level   // the level every line gets
}

// Printf writes one record whose message is the formatted line.
func (p Printf) Printf(ctx context.Context, format string, args ...any) {
	if p.Logger == nil || !p.Logger.Enabled(ctx, p.Level) {
		return
	}
	// Lines written for the log package often end in a newline, which a record does not need.
	p.Logger.Log(ctx, p.Level, strings.TrimRight(fmt.Sprintf(format, args...), "\n"))
}
