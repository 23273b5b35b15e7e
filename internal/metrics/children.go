package metrics

import (
	"sync"
	"sync/atomic"
)

// maxChildren bounds a children cache. Its keys come from code (adapters,
// outcomes, reason codes, store operations), never from requests, so the
// bound is never reached in practice; past it, lookups go to the vector.
const maxChildren = 1024

// children remembers a metric vector's children by label values, so that
// the request path neither hashes the labels, nor takes the vector's lock,
// nor allocates the variadic label slice on every observation: reads come
// from an immutable map behind an atomic pointer, and a new key copies it.
type children[K comparable, M any] struct {
	mu      sync.Mutex
	m       atomic.Pointer[map[K]M]
	resolve func(K) M // the vector's WithLabelValues for k
}

func newChildren[K comparable, M any](resolve func(K) M) *children[K, M] {
	return &children[K, M]{resolve: resolve}
}

// get returns the child for k, made once.
func (c *children[K, M]) get(k K) M {
	if m := c.m.Load(); m != nil {
		if v, ok := (*m)[k]; ok {
			return v
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	var n int
	if old != nil {
		if v, ok := (*old)[k]; ok {
			return v
		}
		n = len(*old)
	}
	v := c.resolve(k)
	if n >= maxChildren {
		return v
	}
	next := make(map[K]M, n+1)
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	next[k] = v
	c.m.Store(&next)
	return v
}
