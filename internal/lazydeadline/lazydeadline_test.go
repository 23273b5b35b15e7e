package lazydeadline

import (
	"context"
	"errors"
	"testing"
	"time"
)

// waitDone waits for ctx to end, failing t after a bound far above any
// deadline used here (a busy machine must not fail these tests).
func waitDone(t *testing.T, ctx context.Context) {
	t.Helper()
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("context never ended")
	}
}

func TestReportsItsDeadline(t *testing.T) {
	before := time.Now()
	ctx := WithTimeout(context.Background(), time.Hour)
	defer ctx.Release()
	dl, ok := ctx.Deadline()
	if !ok || dl.Before(before.Add(time.Hour)) || dl.After(time.Now().Add(time.Hour)) {
		t.Errorf("Deadline = %v, %v; want about an hour from now", dl, ok)
	}
	parent, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pdl, _ := parent.Deadline()
	ctx = WithTimeout(parent, time.Hour)
	defer ctx.Release()
	if dl, _ := ctx.Deadline(); !dl.Equal(pdl) {
		t.Errorf("Deadline = %v, want the parent's earlier %v", dl, pdl)
	}
	if err := ctx.Err(); err != nil {
		t.Errorf("Err before the deadline = %v", err)
	}
}

// A reader that never waits (the local cache) still sees the deadline pass.
func TestErrWithoutDone(t *testing.T) {
	ctx := WithTimeout(context.Background(), 5*time.Millisecond)
	defer ctx.Release()
	for end := time.Now().Add(10 * time.Second); ctx.Err() == nil && time.Now().Before(end); {
		time.Sleep(time.Millisecond)
	}
	if err := ctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Err = %v, want DeadlineExceeded", err)
	}
	waitDone(t, ctx) // Done made after the deadline is closed at once
	if err := ctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Err after Done = %v, want DeadlineExceeded", err)
	}
}

func TestDoneClosesAtTheDeadline(t *testing.T) {
	ctx := WithTimeout(context.Background(), 20*time.Millisecond)
	defer ctx.Release()
	waitDone(t, ctx)
	if err := ctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Err = %v, want DeadlineExceeded", err)
	}
}

func TestFollowsItsParent(t *testing.T) {
	type key struct{}
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	ctx := WithTimeout(parent, time.Hour)
	defer ctx.Release()
	if ctx.Value(key{}) != "v" {
		t.Error("a value of the parent is lost")
	}
	child, stopChild := context.WithCancel(ctx) // through AfterFunc, no goroutine
	defer stopChild()
	cancel()
	if err := ctx.Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("Err after the parent's cancel, Done never called = %v, want Canceled", err)
	}
	waitDone(t, ctx)
	waitDone(t, child)

	parent, cancel = context.WithCancel(context.Background())
	ctx = WithTimeout(parent, time.Hour)
	defer ctx.Release()
	done := ctx.Done() // made before the cancel
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the parent's cancel did not reach Done")
	}
}

func TestRelease(t *testing.T) {
	ctx := WithTimeout(context.Background(), time.Hour)
	ctx.Release()
	if err := ctx.Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("Err after release = %v, want Canceled", err)
	}
	waitDone(t, ctx) // made after release: closed

	ctx = WithTimeout(context.Background(), time.Hour)
	done := ctx.Done() // made before release
	ctx.Release()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("release did not close Done")
	}
}

// A child context (registered through AfterFunc, no goroutine) ends at the
// deadline, and the parent does not.
func TestChildEndsAtTheDeadline(t *testing.T) {
	parent, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	ctx := WithTimeout(parent, 20*time.Millisecond)
	defer ctx.Release()
	child, stopChild := context.WithCancel(ctx)
	defer stopChild()
	waitDone(t, child)
	if err := ctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Err = %v, want DeadlineExceeded", err)
	}
	if parent.Err() != nil {
		t.Errorf("the parent ended too: %v", parent.Err())
	}
	var nilCtx *Context
	nilCtx.Release() // does nothing
}
