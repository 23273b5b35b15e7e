package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/cache"
	"github.com/gatehouse/gatehouse/internal/session/redisstore"
)

// revocationLatency measures, as bench/revocation does, how long after a
// Delete through the first of `replicas` replicas (each a local cache in
// front of its own Redis client) every other replica denies the session,
// polling each every millisecond. The sessions revoked are ids, which
// exist in Redis among everything else loaded there; each is cached on
// every polling replica before it is revoked.
func revocationLatency(ctx context.Context, opts redisstore.Options, replicas int, ids []string) ([]time.Duration, error) {
	if replicas < 2 || len(ids) == 0 {
		return nil, errors.New("need 2 or more replicas and sessions to revoke")
	}
	stores := make([]*cache.Store, replicas)
	for i := range stores {
		rs, err := redisstore.New(opts)
		if err != nil {
			return nil, err
		}
		defer rs.Close()
		cs, err := cache.New(rs, cache.Options{TTL: time.Minute})
		if err != nil {
			return nil, err
		}
		runCtx, stop := context.WithCancel(ctx)
		ran := make(chan error, 1)
		go func() { ran <- cs.Run(runCtx) }()
		defer func() { stop(); <-ran }()
		stores[i] = cs
	}
	for _, cs := range stores {
		for deadline := time.Now().Add(5 * time.Second); !cs.Subscribed(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				return nil, errors.New("replicas did not subscribe within 5s")
			}
		}
	}
	var out []time.Duration
	for _, id := range ids {
		for _, cs := range stores[1:] {
			a, err := cs.LoadIdentity(ctx, id)
			if err != nil {
				return nil, fmt.Errorf("load before revocation: %w", err)
			}
			if b, err := cs.LoadIdentity(ctx, id); err != nil || a != b {
				return nil, fmt.Errorf("session not served from the cache before revocation (%v)", err)
			}
		}
		start := time.Now()
		if err := stores[0].Delete(ctx, id); err != nil {
			return nil, err
		}
		for _, cs := range stores[1:] {
			for {
				_, err := cs.LoadIdentity(ctx, id)
				if errors.Is(err, session.ErrNotFound) {
					break
				}
				if err != nil {
					return nil, err
				}
				if time.Since(start) > 10*time.Second {
					return nil, errors.New("a replica still allows a revoked session after 10s")
				}
				time.Sleep(time.Millisecond)
			}
		}
		out = append(out, time.Since(start))
	}
	return out, nil
}
