package envoy

import (
	"context"
	"sync"
	"time"
)

// headroom is the caller's context with an earlier deadline, whose timer is
// made only when something waits on Done. Envoy always sends a deadline,
// and context.WithDeadline would cost every call a timer, a registration
// with gRPC's own context of the call and several allocations, though a
// session lookup answered from memory (the local cache, the memory store)
// only reads Deadline or Err. A lookup that waits (Redis, its connection
// pool) calls Done, which makes the real context.WithDeadline there and
// then; until then Err compares the clock with the deadline, so every
// reader sees the same bound either way.
type headroom struct {
	parent   context.Context
	deadline time.Time

	mu       sync.Mutex
	inner    context.Context // made by Done or AfterFunc
	stop     context.CancelFunc
	released bool // release was called: done for good
}

var (
	_ context.Context = (*headroom)(nil)
	// context.WithCancel and friends on a headroom use its AfterFunc
	// instead of a goroutine per child.
	_ interface {
		AfterFunc(func()) func() bool
	} = (*headroom)(nil)
)

// withHeadroom shortens the caller's deadline (Envoy sends its ext_authz
// timeout as the gRPC deadline) by a tenth, at most 20ms, so that a slow
// session store yields gatehouse's own 503 before Envoy gives up on the
// call and answers with its generic error status. It returns ctx itself and
// a nil headroom when there is no deadline to shorten. Call release on the
// headroom (nil is fine) when done, as with a CancelFunc; it is returned as
// the concrete type, since a method value would cost an allocation.
func withHeadroom(ctx context.Context) (context.Context, *headroom) {
	dl, ok := ctx.Deadline()
	if !ok {
		return ctx, nil
	}
	margin := min(time.Until(dl)/10, 20*time.Millisecond)
	if margin <= 0 {
		return ctx, nil
	}
	h := &headroom{parent: ctx, deadline: dl.Add(-margin)}
	return h, h
}

func (h *headroom) Deadline() (time.Time, bool) { return h.deadline, true }

func (h *headroom) Value(key any) any { return h.parent.Value(key) }

// materialize returns the real context, making it on first use.
func (h *headroom) materialize() context.Context {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.inner == nil {
		h.inner, h.stop = context.WithDeadline(h.parent, h.deadline)
		if h.released {
			h.stop()
		}
	}
	return h.inner
}

func (h *headroom) Done() <-chan struct{} { return h.materialize().Done() }

func (h *headroom) Err() error {
	h.mu.Lock()
	inner, released := h.inner, h.released
	h.mu.Unlock()
	switch {
	case inner != nil:
		return inner.Err()
	case released:
		return context.Canceled
	}
	if err := h.parent.Err(); err != nil {
		return err
	}
	if !time.Now().Before(h.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

// AfterFunc runs f once the context is done (see context.AfterFunc).
func (h *headroom) AfterFunc(f func()) func() bool {
	return context.AfterFunc(h.materialize(), f)
}

// release ends the context (Err is Canceled from now on unless it had
// already ended) and stops its timer if one was made. It does nothing on
// a nil headroom.
func (h *headroom) release() {
	if h == nil {
		return
	}
	h.mu.Lock()
	h.released = true
	stop := h.stop
	h.mu.Unlock()
	if stop != nil {
		stop()
	}
}
