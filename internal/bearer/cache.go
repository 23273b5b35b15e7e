package bearer

import (
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/authz"
)

// cache remembers verified tokens by their SHA-256, bounded in size.
type cache struct {
	mu      sync.RWMutex
	max     int
	entries map[[32]byte]cached
}

type cached struct {
	id    *authz.Identity
	until time.Time
}

func newCache(max int) *cache {
	return &cache{max: max, entries: make(map[[32]byte]cached)}
}

func (c *cache) get(key [32]byte, now time.Time) (*authz.Identity, bool) {
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return nil, false
	}
	return e.id, true
}

// put stores an entry; when the cache is full, expired entries go first,
// then arbitrary ones until there is room.
func (c *cache) put(key [32]byte, id *authz.Identity, until, now time.Time) {
	if !now.Before(until) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		for k, e := range c.entries {
			if !now.Before(e.until) {
				delete(c.entries, k)
			}
		}
		for k := range c.entries {
			if len(c.entries) < c.max {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[key] = cached{id: id, until: until}
}

// len reports the number of entries, for tests.
func (c *cache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
