package envoy

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestHeadroomWithoutDeadlineIsTheCallersContext(t *testing.T) {
	ctx := context.Background()
	got, h := withHeadroom(ctx)
	if got != ctx || h != nil {
		t.Fatalf("withHeadroom(no deadline) = %v, %v; want the context itself and nil", got, h)
	}
	h.release() // a nil headroom's release does nothing
}

func TestHeadroomShortensTheDeadline(t *testing.T) {
	for _, tc := range []struct {
		timeout, minMargin, maxMargin time.Duration
	}{
		{time.Second, 20 * time.Millisecond, 20 * time.Millisecond}, // at most 20ms
		{100 * time.Millisecond, 9 * time.Millisecond, 10 * time.Millisecond},
	} {
		parent, cancel := context.WithTimeout(context.Background(), tc.timeout)
		pdl, _ := parent.Deadline()
		ctx, h := withHeadroom(parent)
		dl, ok := ctx.Deadline()
		if margin := pdl.Sub(dl); !ok || margin < tc.minMargin || margin > tc.maxMargin {
			t.Errorf("timeout %v: deadline %v before the caller's (ok %v), want %v..%v", tc.timeout, margin, ok, tc.minMargin, tc.maxMargin)
		}
		h.release()
		cancel()
	}
}

// expired returns a headroom whose deadline has passed while its parent's
// has not.
func expired(t *testing.T) (context.Context, *headroom) {
	t.Helper()
	parent, cancel := context.WithTimeout(context.Background(), time.Hour)
	t.Cleanup(cancel)
	_, h := withHeadroom(parent)
	h.deadline = time.Now().Add(5 * time.Millisecond)
	t.Cleanup(h.release)
	return parent, h
}

func TestHeadroomEndsAtItsDeadlineForPollers(t *testing.T) {
	parent, h := expired(t)
	time.Sleep(time.Until(h.deadline))
	if err := h.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Err after the deadline, Done never called = %v, want DeadlineExceeded", err)
	}
	if parent.Err() != nil {
		t.Errorf("the caller's context ended too: %v", parent.Err())
	}
}

func TestHeadroomEndsAtItsDeadlineForWaiters(t *testing.T) {
	parent, h := expired(t)
	child, cancel := context.WithCancel(h) // registers through AfterFunc
	defer cancel()
	select {
	case <-child.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done of a child never closed after the headroom's deadline")
	}
	if err := h.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Err = %v, want DeadlineExceeded", err)
	}
	if parent.Err() != nil {
		t.Errorf("the caller's context ended too: %v", parent.Err())
	}
}

func TestHeadroomFollowsTheCallersCancel(t *testing.T) {
	parent, cancelParent := context.WithTimeout(context.WithValue(context.Background(), ctxKey{}, "v"), time.Hour)
	ctx, h := withHeadroom(parent)
	defer h.release()
	if ctx.Value(ctxKey{}) != "v" {
		t.Error("Value does not reach the caller's context")
	}
	cancelParent()
	if err := ctx.Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("Err after the caller's cancel = %v, want Canceled", err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done never closed after the caller's cancel")
	}
}

func TestHeadroomReleaseEndsIt(t *testing.T) {
	for _, waited := range []bool{false, true} {
		parent, cancel := context.WithTimeout(context.Background(), time.Hour)
		ctx, h := withHeadroom(parent)
		if waited {
			_ = ctx.Done() // makes the timer, which release must stop
		}
		h.release()
		if err := ctx.Err(); !errors.Is(err, context.Canceled) {
			t.Errorf("waited %v: Err after release = %v, want Canceled", waited, err)
		}
		done := ctx.Done()
		if done == nil {
			t.Fatalf("waited %v: nil Done", waited)
		}
		select {
		case <-done:
		default:
			t.Errorf("waited %v: Done open after release", waited)
		}
		cancel()
	}
}

type ctxKey struct{}
