package main

import (
	"context"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/session"
)

// redisLookups times, from one connection, n lookups of random sessions
// among ids as redisstore's Load makes them (one MGET of the record and
// its last-use key), and returns their latencies sorted. It shows what
// Redis itself costs per lookup at a data set's size, apart from gatehouse
// and wrk.
func redisLookups(ctx context.Context, addr, prefix string, ids []string, n int) ([]time.Duration, error) {
	c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 1})
	defer c.Close()
	keys := make([][2]string, len(ids))
	for i, id := range ids {
		h, err := session.HandleOf(id)
		if err != nil {
			return nil, err
		}
		keys[i] = [2]string{prefix + "session:{" + h + "}", prefix + "seen:{" + h + "}"}
	}
	out := make([]time.Duration, 0, n)
	for range n {
		k := keys[rand.IntN(len(keys))]
		start := time.Now()
		vals, err := c.MGet(ctx, k[0], k[1]).Result()
		if err != nil {
			return nil, err
		}
		out = append(out, time.Since(start))
		if _, ok := vals[0].(string); !ok {
			return nil, errNotLoaded
		}
	}
	slices.Sort(out)
	return out, nil
}
