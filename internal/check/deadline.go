package check

import (
	"context"
	"sync"
	"time"
)

// lazyDeadline is a context with a deadline whose timer is made only when
// something waits on it. A session lookup answered from memory (the local
// cache, the memory store) only reads Deadline or Err, and context.WithTimeout
// would cost it a timer, a registration with the request's context and
// several allocations; a lookup that waits (Redis, its connection pool)
// calls Done, which makes the real context.WithDeadline there and then.
// Until Done is called, Err compares the clock with the deadline, so every
// reader sees the same bound either way.
type lazyDeadline struct {
	parent   context.Context
	deadline time.Time

	mu       sync.Mutex
	inner    context.Context // made by Done or AfterFunc
	stop     context.CancelFunc
	released bool // release was called: done for good
}

var (
	_ context.Context = (*lazyDeadline)(nil)
	// context.WithCancel and friends on a lazyDeadline use its AfterFunc
	// instead of a goroutine per child.
	_ interface {
		AfterFunc(func()) func() bool
	} = (*lazyDeadline)(nil)
)

// withLazyTimeout is context.WithTimeout(parent, d) without a timer until one
// is needed. Call its release when done, as with a CancelFunc. (It returns
// the concrete type: a release method value would cost an allocation.)
func withLazyTimeout(parent context.Context, d time.Duration) *lazyDeadline {
	c := &lazyDeadline{parent: parent, deadline: time.Now().Add(d)}
	if pd, ok := parent.Deadline(); ok && pd.Before(c.deadline) {
		c.deadline = pd
	}
	return c
}

func (c *lazyDeadline) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *lazyDeadline) Value(key any) any { return c.parent.Value(key) }

// materialize returns the real context, making it on first use.
func (c *lazyDeadline) materialize() context.Context {
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

func (c *lazyDeadline) Done() <-chan struct{} { return c.materialize().Done() }

func (c *lazyDeadline) Err() error {
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
func (c *lazyDeadline) AfterFunc(f func()) func() bool {
	return context.AfterFunc(c.materialize(), f)
}

// release ends the context (Err is Canceled from now on unless it had
// already ended) and stops its timer if one was made.
func (c *lazyDeadline) release() {
	c.mu.Lock()
	c.released = true
	stop := c.stop
	c.mu.Unlock()
	if stop != nil {
		stop()
	}
}
