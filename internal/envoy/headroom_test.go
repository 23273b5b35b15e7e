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
	h.Release() // a nil Context's Release does nothing
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
		h.Release()
		cancel()
	}
}

func TestHeadroomFollowsTheCallersCancel(t *testing.T) {
	parent, cancelParent := context.WithTimeout(context.WithValue(context.Background(), ctxKey{}, "v"), time.Hour)
	ctx, h := withHeadroom(parent)
	defer h.Release()
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

type ctxKey struct{}
