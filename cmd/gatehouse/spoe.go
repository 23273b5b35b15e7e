package main

import (
	"context"
	"net"

	"github.com/gatehouse/gatehouse/internal/spoa"
)

// spoeServer answers HAProxy's SPOE filter on ln. Its stop ends the agent's
// Run: no new connections, the answers in flight finish, and each HAProxy
// connection is told goodbye with an AGENT-DISCONNECT.
func (a *app) spoeServer(ln net.Listener) server {
	agent := spoa.New(a.checker, spoa.Options{
		Logger:       a.log,
		Observer:     a.metrics,
		MaxFrameSize: uint32(a.cfg.SPOE.MaxFrameSize),
	})
	runCtx, stopRun := context.WithCancel(context.Background())
	done := make(chan struct{})
	return server{
		serve: func() error {
			defer close(done)
			return agent.Run(runCtx, ln)
		},
		stop: func(ctx context.Context) error {
			stopRun()
			select {
			case <-done:
			case <-ctx.Done():
			}
			return nil
		},
	}
}
