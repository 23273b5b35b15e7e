package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"
)

// redisLogger sends go-redis's own messages (pool dial failures and the
// like) to the service's structured log instead of stderr.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.LogAttrs(ctx, slog.LevelWarn, fmt.Sprintf(format, v...), slog.String("component", "redis"))
}

// routeLibraryLogs points the process-wide loggers of libraries that have
// no per-instance option at logger. It is called once, from main's commands.
func routeLibraryLogs(logger *slog.Logger) {
	redis.SetLogger(redisLogger{logger})
}
