package bearer

import (
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/authz"
)

func cacheKey(i int) [32]byte { return sha256.Sum256(fmt.Appendf(nil, "token-%d", i)) }

// TestCacheBoundKeepsRecentlyUsed: however many tokens go through, the
// cache never holds more than its bound, and a token in steady use is not
// the one evicted to make room (least recently used goes first).
func TestCacheBoundKeepsRecentlyUsed(t *testing.T) {
	const size = 10
	c, err := newCache(size)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	until := now.Add(time.Hour)
	hot := &authz.Identity{User: "hot"}
	c.put(cacheKey(-1), hot, until, now)
	for i := range 500 {
		if got, ok := c.get(cacheKey(-1), now); !ok || got != hot {
			t.Fatalf("after %d other tokens the token in use was evicted", i)
		}
		c.put(cacheKey(i), &authz.Identity{User: fmt.Sprint(i)}, until, now)
		if n := c.len(); n > size {
			t.Fatalf("cache holds %d entries, bound %d", n, size)
		}
	}
	if _, ok := c.get(cacheKey(0), now); ok {
		t.Error("the least recently used token is still cached")
	}
	if _, ok := c.get(cacheKey(499), now); !ok {
		t.Error("the newest token is not cached")
	}
}

// TestCacheEntryDeadline: each entry lives until its own deadline on the
// injected clock (the sooner of the TTL and the token's exp), not a
// shared TTL.
func TestCacheEntryDeadline(t *testing.T) {
	c, err := newCache(4)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	id := &authz.Identity{User: "u"}
	c.put(cacheKey(1), id, now.Add(time.Second), now)
	c.put(cacheKey(2), id, now.Add(time.Minute), now)
	c.put(cacheKey(3), id, now, now) // already over: not stored
	if _, ok := c.get(cacheKey(3), now); ok {
		t.Error("an entry past its deadline was stored")
	}
	later := now.Add(time.Second)
	if _, ok := c.get(cacheKey(1), later); ok {
		t.Error("entry served at its deadline")
	}
	if _, ok := c.get(cacheKey(2), later); !ok {
		t.Error("entry with a later deadline not served")
	}
	if n := c.len(); n != 1 {
		t.Errorf("expired entry kept: %d entries, want 1", n)
	}
}

func TestNewCacheRefusesNoBound(t *testing.T) {
	if _, err := newCache(0); err == nil {
		t.Error("a cache without a bound was made")
	}
}
