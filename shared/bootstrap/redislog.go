package bootstrap

import (
	"log/slog"

	"github.com/redis/go-redis/v9"

	"github.com/phoenixotel/phoenix/shared/logging"
)

// RouteRedisLogs sends go-redis's own log lines (a pool that cannot dial while Redis restarts, a
// reconnect) to logger as WARN records, instead of the library's default: plain text on stderr,
// which bypasses the log level and format and, in `phoenix demo`, lands in the user's terminal.
//
// go-redis keeps its logger in a library-global variable: this sets process-wide state. That is
// why only a process's entry point calls it (Main here, runDev in `phoenix dev` and `phoenix
// demo`), once, before any Redis client exists; code that tests or libraries run many times must not.
func RouteRedisLogs(logger *slog.Logger) {
	redis.SetLogger(logging.Printf{Logger: logger.With("library", "go-redis"), Level: slog.LevelWarn})
}
