package main

import (
	"context"
	"log/slog"
	"net/http"
	"sync"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/config/probe"
)

// logConfigWarnings logs each warning check-config prints, once.
func logConfigWarnings(logger *slog.Logger, ws config.Warnings) {
	for _, w := range ws {
		logger.Warn("configuration warning", "setting", w.Path, "problem", w.Msg)
	}
}

// startupProbe runs check-config's probes once, in the background, with the
// app's own store, and logs each failure once. It never stops serving:
// readiness covers the dependencies from then on. stop cancels the probes
// and waits for them.
func (a *app) startupProbe(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	opts := probe.Options{HTTPClient: client, Redis: a.store}
	var wg sync.WaitGroup
	wg.Go(func() {
		defer client.CloseIdleConnections()
		findings := probe.Run(ctx, a.cfg, opts)
		if ctx.Err() != nil {
			return // stopped before the probes ended: their errors say so, not what is wrong
		}
		for _, f := range findings {
			if f.Warning {
				a.log.Warn("startup check warning", "setting", f.Path, "problem", f.Msg)
			} else {
				a.log.Error("startup check failed", "setting", f.Path, "problem", f.Msg)
			}
		}
		if len(findings) == 0 {
			a.log.Info("startup checks passed")
		}
	})
	return func() {
		cancel()
		wg.Wait()
	}
}
