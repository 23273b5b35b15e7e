package session

import (
	"context"
	"testing"
	"time"
)

func benchmarkLoad(b *testing.B, st Store) {
	ctx := context.Background()
	s := fullSession(b, time.Now(), time.Now().Add(time.Hour))
	if err := st.Save(ctx, s); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := st.Load(ctx, s.ID); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMemoryStoreLoad(b *testing.B) {
	benchmarkLoad(b, NewMemoryStore())
}

func BenchmarkRedisStoreLoad(b *testing.B) {
	st, _ := newTestRedisStore(b)
	benchmarkLoad(b, st)
}

func BenchmarkCodecOpenID(b *testing.B) {
	c := newTestCodec(b, nil, testKey(b))
	v, err := c.SealID(testCookie, mustID(b), time.Now().Add(time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.OpenID(testCookie, v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCachedStoreLoadHit: a check whose session is cached (no Redis).
func BenchmarkCachedStoreLoadHit(b *testing.B) {
	st, _ := newTestRedisStore(b)
	c := newCached(b, st, CacheOptions{TTL: time.Hour})
	s := fullSession(b, time.Now(), time.Now().Add(time.Hour))
	saveSettled(b, st, s, c)
	ctx := context.Background()
	if _, err := c.LoadIdentity(ctx, s.ID); err != nil || c.Len() != 1 {
		b.Fatalf("not cached: %v", err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.LoadIdentity(ctx, s.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCachedStoreLoadMiss: a check whose session is not cached (one
// Redis round trip, then cached), evicted before every lookup.
func BenchmarkCachedStoreLoadMiss(b *testing.B) {
	st, _ := newTestRedisStore(b)
	c := newCached(b, st, CacheOptions{TTL: time.Hour})
	s := fullSession(b, time.Now(), time.Now().Add(time.Hour))
	saveSettled(b, st, s, c)
	key, _ := storageKey(s.ID)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c.evict(key)
		if _, err := c.LoadIdentity(ctx, s.ID); err != nil {
			b.Fatal(err)
		}
	}
}
