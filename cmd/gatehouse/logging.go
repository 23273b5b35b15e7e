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

// logAttr is the ReplaceAttr of the service's log handlers: a duration
// (retry_in, duration and any other) is written as Go's duration string,
// "1.5s" or "250ms", in the JSON format as in the text one, rather than
// as the JSON handler's integer nanoseconds.
func logAttr(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}
