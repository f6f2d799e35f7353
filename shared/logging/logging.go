// Package logging carries a structured logger (log/slog) through a context, so that every line a
// request or event causes bears its request id, event id and tenant. It owns the log format; it
// must never be handed a secret to log.
package logging

import (
	"context"
	"io"
	"log/slog"
)

type ctxKey struct{}

// New returns a JSON logger for service writing to w at level (config reads it with
// slog.Level.UnmarshalText).
func New(w io.Writer, service string, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})).With("service", service)
}

// WithContext returns ctx carrying logger.
func WithContext(ctx context.Context, logger *slog.Logger) context.Context {
	return context.WithValue(ctx, ctxKey{}, logger)
}

// FromContext returns the logger ctx carries, or — as knative.dev/pkg's logging does — a visible
// fallback: slog's default logger (standard error) marked logger=fallback, so a path that lost
// its logger still says what happened, and says that its plumbing is missing.
func FromContext(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(ctxKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default().With("logger", "fallback")
}

// With returns ctx whose logger has the extra attributes args (slog key-value pairs).
func With(ctx context.Context, args ...any) context.Context {
	return WithContext(ctx, FromContext(ctx).With(args...))
}
