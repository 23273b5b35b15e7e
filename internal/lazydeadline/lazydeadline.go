// Package lazydeadline is context.WithDeadline for the hot path: a
// context whose timer is made only when something waits on it.
//
// A session lookup answered from memory (the local cache, the memory
// store) only reads Deadline or Err, and context.WithDeadline would cost it
// a timer, a registration with the parent context and several allocations
// on every check. A lookup that waits (Redis, its connection pool) calls
// Done, which makes the real context.WithDeadline there and then. Until
// Done is called, Err compares the clock with the deadline, so every reader
// sees the same bound either way. Both the forward-auth check
// (internal/check) and Envoy's ext_authz service (internal/envoy) bound
// their lookups with it.
package lazydeadline

import (
	"context"
	"sync"
	"time"
)

// Context is a context.Context with a deadline whose timer is made only
// when Done or AfterFunc is first called. Call Release when done with it,
// as with a CancelFunc.
type Context struct {
	parent   context.Context
	deadline time.Time

	mu       sync.Mutex
	inner    context.Context // made by Done or AfterFunc
	stop     context.CancelFunc
	released bool // Release was called: done for good
}

var (
	_ context.Context = (*Context)(nil)
	// context.WithCancel and friends on a Context use its AfterFunc
	// instead of a goroutine per child.
	_ interface {
		AfterFunc(func()) func() bool
	} = (*Context)(nil)
)

// New is context.WithDeadline(parent, deadline) without a timer until one is
// needed; the parent's deadline holds when it is earlier. (It returns the
// concrete type: a release function value would cost an allocation.)
func New(parent context.Context, deadline time.Time) *Context {
	c := &Context{parent: parent, deadline: deadline}
	if pd, ok := parent.Deadline(); ok && pd.Before(c.deadline) {
		c.deadline = pd
	}
	return c
}

// WithTimeout is New(parent, time.Now().Add(d)).
func WithTimeout(parent context.Context, d time.Duration) *Context {
	return New(parent, time.Now().Add(d))
}

// Deadline implements context.Context.
func (c *Context) Deadline() (time.Time, bool) { return c.deadline, true }

// Value implements context.Context: the parent's values.
func (c *Context) Value(key any) any { return c.parent.Value(key) }

// materialize returns the real context, making it on first use.
func (c *Context) materialize() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inner == nil {
		c.inner, c.stop = context.WithDeadline(c.parent, c.deadline)
		if c.released {
			c.stop()
		}
	}
	return c.inner
}

// Done implements context.Context; it makes the timer.
func (c *Context) Done() <-chan struct{} { return c.materialize().Done() }

// Err implements context.Context, without making the timer.
func (c *Context) Err() error {
	c.mu.Lock()
	inner, released := c.inner, c.released
	c.mu.Unlock()
	switch {
	case inner != nil:
		return inner.Err()
	case released:
		return context.Canceled
	}
	if err := c.parent.Err(); err != nil {
		return err
	}
	if !time.Now().Before(c.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

// AfterFunc runs f once the context is done (see context.AfterFunc).
func (c *Context) AfterFunc(f func()) func() bool {
	return context.AfterFunc(c.materialize(), f)
}

// Release ends the context (Err is Canceled from now on unless it had
// already ended) and stops its timer if one was made. It does nothing on a
// nil Context.
func (c *Context) Release() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.released = true
	stop := c.stop
	c.mu.Unlock()
	if stop != nil {
		stop()
	}
}
