package main

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/cache"
	"github.com/gatehouse/gatehouse/internal/session/memstore"
)

// heapInUse is the live heap after two full collections.
func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// memstoreBytesPerSession saves n sessions of f into a fresh memory store
// and returns the growth of the live heap divided by n.
func memstoreBytesPerSession(ctx context.Context, f fixture, n int) (float64, error) {
	ids := make([]string, n)
	for i := range ids {
		id, err := session.NewID()
		if err != nil {
			return 0, err
		}
		ids[i] = id
	}
	m := memstore.New(memstore.Options{})
	defer m.Close()
	before := heapInUse()
	now := time.Now()
	for i, id := range ids {
		if err := m.Save(ctx, f.sessionAt(i, id, now)); err != nil {
			return 0, fmt.Errorf("memory store save: %w", err)
		}
	}
	after := heapInUse()
	runtime.KeepAlive(m)
	return float64(int64(after)-int64(before)) / float64(n), nil
}

// cacheBytesPerSession fills a local cache of size n in front of backend
// with the sessions ids (already in Redis) and returns the growth of the
// live heap divided by n. It checks that the cache then serves them.
func cacheBytesPerSession(ctx context.Context, backend cache.Backend, ids []string) (float64, error) {
	n := len(ids)
	cs, err := cache.New(backend, cache.Options{Size: n, TTL: 10 * time.Minute})
	if err != nil {
		return 0, err
	}
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- cs.Run(runCtx) }()
	defer func() { stop(); <-ran }()
	for deadline := time.Now().Add(5 * time.Second); !cs.Subscribed(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("cache did not subscribe within 5s")
		}
	}
	before := heapInUse()
	if err := parallel(ctx, ids, 8, func(ctx context.Context, id string) error {
		_, err := cs.LoadIdentity(ctx, id)
		return err
	}); err != nil {
		return 0, fmt.Errorf("fill the cache: %w", err)
	}
	after := heapInUse()
	// Every entry must now be cached: loading them again returns the very
	// same (shared) session values.
	for _, id := range ids[:min(n, 100)] {
		a, err := cs.LoadIdentity(ctx, id)
		if err != nil {
			return 0, err
		}
		b, _ := cs.LoadIdentity(ctx, id)
		if a != b {
			return 0, fmt.Errorf("the cache does not hold all %d sessions", n)
		}
	}
	return float64(int64(after)-int64(before)) / float64(n), nil
}

// parallel runs fn on every item from workers goroutines, stopping at the
// first error.
func parallel(ctx context.Context, items []string, workers int, fn func(context.Context, string) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan string)
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range ch {
				if err := fn(ctx, it); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		}()
	}
	for _, it := range items {
		if ctx.Err() != nil {
			break
		}
		ch <- it
	}
	close(ch)
	wg.Wait()
	return first
}
