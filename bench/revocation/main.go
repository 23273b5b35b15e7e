// Command revocation measures revocation-to-denial time across gatehouse
// replicas sharing one Redis: each replica is a cache.Store; a
// session cached on every replica is deleted through the first, and the
// others are polled every millisecond until they deny it.
//
//	go run ./bench/revocation -redis 127.0.0.1:6379 -n 200 -replicas 3
//
// It runs on loopback only, writes under a random key prefix and deletes
// what it wrote.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/cache"
	"github.com/gatehouse/gatehouse/internal/session/redisstore"
	"github.com/redis/go-redis/v9"
)

func main() {
	addr := flag.String("redis", "127.0.0.1:6379", "Redis address")
	n := flag.Int("n", 200, "revocations to measure")
	replicas := flag.Int("replicas", 3, "replicas (each with a local session cache), at least 2")
	flag.Parse()
	if err := run(*addr, *n, *replicas); err != nil {
		fmt.Fprintln(os.Stderr, "revocation:", err)
		os.Exit(1)
	}
}

func run(addr string, n, replicas int) error {
	if n < 1 || replicas < 2 {
		return errors.New("need n >= 1 and replicas >= 2")
	}
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	prefix := "gatehouse-bench:" + hex.EncodeToString(b) + ":"
	defer cleanup(addr, prefix)

	stores := make([]*cache.Store, replicas)
	for i := range stores {
		rs, err := redisstore.New(redisstore.Options{Addrs: []string{addr}, KeyPrefix: prefix})
		if err != nil {
			return err
		}
		defer rs.Close()
		cs, err := cache.New(rs, cache.Options{TTL: time.Minute})
		if err != nil {
			return err
		}
		runCtx, stopRun := context.WithCancel(context.Background())
		ran := make(chan error, 1)
		go func() { ran <- cs.Run(runCtx) }()
		defer func() { stopRun(); <-ran }()
		stores[i] = cs
	}
	for _, cs := range stores {
		for deadline := time.Now().Add(5 * time.Second); !cs.Subscribed(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				return errors.New("replicas did not subscribe within 5s")
			}
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var fromCall, fromReturn []time.Duration
	for range n {
		s, err := newSession()
		if err != nil {
			return err
		}
		if err := stores[0].Save(ctx, s); err != nil {
			return err
		}
		time.Sleep(5 * time.Millisecond) // let the save's own message pass
		for _, cs := range stores[1:] {
			for range 2 { // the second load is served from the cache
				if _, err := cs.Load(ctx, s.ID); err != nil {
					return fmt.Errorf("load before revocation: %w", err)
				}
			}
		}
		start := time.Now()
		if err := stores[0].Delete(ctx, s.ID); err != nil {
			return err
		}
		returned := time.Now()
		for _, cs := range stores[1:] {
			for {
				_, err := cs.Load(ctx, s.ID)
				if errors.Is(err, session.ErrNotFound) {
					break
				}
				if err != nil {
					return err
				}
				if time.Since(start) > 10*time.Second {
					return errors.New("a replica still allows a revoked session after 10s")
				}
				time.Sleep(time.Millisecond)
			}
		}
		now := time.Now()
		fromCall = append(fromCall, now.Sub(start))
		fromReturn = append(fromReturn, now.Sub(returned))
	}
	fmt.Printf("revocations: %d, replicas: %d (1 revoking, %d polling every 1ms)\n", n, replicas, replicas-1)
	report("denied on every replica, from the Delete call", fromCall)
	report("denied on every replica, from Delete's return", fromReturn)
	return nil
}

func report(what string, d []time.Duration) {
	slices.Sort(d)
	q := func(p float64) time.Duration { return d[min(len(d)-1, int(p*float64(len(d))))] }
	fmt.Printf("%s: p50 %v  p99 %v  max %v\n", what, q(0.50).Round(10*time.Microsecond),
		q(0.99).Round(10*time.Microsecond), d[len(d)-1].Round(10*time.Microsecond))
}

func newSession() (*session.Session, error) {
	id, err := session.NewID()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	return &session.Session{
		ID: id, Issuer: "https://idp.example.com", Subject: "bench-user", SID: "sid-" + id[:8],
		User: "bench", Email: "bench@example.com", EmailVerified: true, Groups: []string{"staff"},
		CreatedAt: now, ExpiresAt: now.Add(time.Hour),
	}, nil
}

// cleanup deletes every key under prefix.
func cleanup(addr, prefix string) {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		_ = c.Del(ctx, iter.Val()).Err()
	}
}
