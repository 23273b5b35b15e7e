package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
)

// TestLogDurationsAreStrings: every duration in the service log, whatever
// its field and in either format, reads as "1.5s", never as nanoseconds.
func TestLogDurationsAreStrings(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		var buf bytes.Buffer
		log := newLogger(config.Log{Level: "info", Format: format}, &buf)
		log.LogAttrs(context.Background(), slog.LevelWarn, "provider discovery failed",
			slog.Duration("retry_in", 1500*time.Millisecond),
			slog.Group("call", slog.Duration("duration", 250*time.Millisecond)),
			slog.Any("timeout", 2*time.Second),
			slog.Int("status", 503))
		out := buf.String()
		if format == "json" {
			var m map[string]any
			if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
				t.Fatalf("json log %q: %v", out, err)
			}
			call, _ := m["call"].(map[string]any)
			if m["retry_in"] != "1.5s" || call["duration"] != "250ms" || m["timeout"] != "2s" || m["status"] != float64(503) {
				t.Errorf("json log: %s", out)
			}
			continue
		}
		for _, want := range []string{"retry_in=1.5s", "call.duration=250ms", "timeout=2s", "status=503"} {
			if !strings.Contains(out, want) {
				t.Errorf("text log lacks %s: %s", want, out)
			}
		}
	}
}
