package bearer

import (
	"fmt"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/gatehouse/gatehouse/internal/authz"
)

// cache remembers verified tokens by their SHA-256: a least-recently-used
// cache (golang-lru) bounded in entries, each entry served until its own
// deadline on the Verifier's clock.
//
// Not golang-lru's expirable.LRU: its TTL is one for all entries and read
// from the wall clock, while a token's entry must end at the sooner of
// CacheTTL and the token's exp, on the injected clock; and each
// expirable.LRU starts a goroutine that never ends.
type cache struct {
	lru *lru.Cache[[32]byte, cached]
}

type cached struct {
	id    *authz.Identity
	until time.Time
}

// newCache returns a cache of at most size entries (size > 0).
func newCache(size int) (*cache, error) {
	l, err := lru.New[[32]byte, cached](size)
	if err != nil {
		return nil, fmt.Errorf("bearer: token cache: %w", err)
	}
	return &cache{lru: l}, nil
}

// get returns the identity cached for key, unless its deadline has passed
// (then the entry is dropped).
func (c *cache) get(key [32]byte, now time.Time) (*authz.Identity, bool) {
	e, ok := c.lru.Get(key)
	if !ok {
		return nil, false
	}
	if !now.Before(e.until) {
		c.lru.Remove(key)
		return nil, false
	}
	return e.id, true
}

// put caches id until the deadline; when the cache is full the least
// recently used entry makes room.
func (c *cache) put(key [32]byte, id *authz.Identity, until, now time.Time) {
	if !now.Before(until) {
		return
	}
	c.lru.Add(key, cached{id: id, until: until})
}

// len reports the number of entries, for tests.
func (c *cache) len() int { return c.lru.Len() }
