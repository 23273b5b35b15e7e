package check

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/session"
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

func TestLazyDeadlineReportsItsDeadline(t *testing.T) {
	before := time.Now()
	ctx := withLazyTimeout(context.Background(), time.Hour)
	defer ctx.release()
	dl, ok := ctx.Deadline()
	if !ok || dl.Before(before.Add(time.Hour)) || dl.After(time.Now().Add(time.Hour)) {
		t.Errorf("Deadline = %v, %v; want about an hour from now", dl, ok)
	}
	parent, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pdl, _ := parent.Deadline()
	ctx = withLazyTimeout(parent, time.Hour)
	defer ctx.release()
	if dl, _ := ctx.Deadline(); !dl.Equal(pdl) {
		t.Errorf("Deadline = %v, want the parent's earlier %v", dl, pdl)
	}
	if err := ctx.Err(); err != nil {
		t.Errorf("Err before the deadline = %v", err)
	}
}

// A reader that never waits (the local cache) still sees the deadline pass.
func TestLazyDeadlineErrWithoutDone(t *testing.T) {
	ctx := withLazyTimeout(context.Background(), 5*time.Millisecond)
	defer ctx.release()
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

func TestLazyDeadlineDoneClosesAtTheDeadline(t *testing.T) {
	ctx := withLazyTimeout(context.Background(), 20*time.Millisecond)
	defer ctx.release()
	waitDone(t, ctx)
	if err := ctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Err = %v, want DeadlineExceeded", err)
	}
}

func TestLazyDeadlineFollowsItsParent(t *testing.T) {
	type key struct{}
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	ctx := withLazyTimeout(parent, time.Hour)
	defer ctx.release()
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
	ctx = withLazyTimeout(parent, time.Hour)
	defer ctx.release()
	done := ctx.Done() // made before the cancel
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the parent's cancel did not reach Done")
	}
}

func TestLazyDeadlineRelease(t *testing.T) {
	ctx := withLazyTimeout(context.Background(), time.Hour)
	ctx.release()
	if err := ctx.Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("Err after release = %v, want Canceled", err)
	}
	waitDone(t, ctx) // made after release: closed

	ctx = withLazyTimeout(context.Background(), time.Hour)
	done := ctx.Done() // made before release
	ctx.release()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("release did not close Done")
	}
}

// hangingStore never answers on its own: one kind waits on Done (as Redis
// and its pool do), the other only polls Err (as a store that never
// blocks would).
type hangingStore struct {
	session.Store
	pollErr bool
}

func (h hangingStore) Load(ctx context.Context, _ string) (*session.Session, error) {
	if h.pollErr {
		for ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		return nil, ctx.Err()
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestHangingStoreIsBoundedByTheTimeout: with the lazy deadline, a store
// lookup still ends at Options.Timeout with 503 store_unavailable, whether
// the store waits on Done or only reads Err.
func TestHangingStoreIsBoundedByTheTimeout(t *testing.T) {
	e := newEnv(t, policy())
	for _, pollErr := range []bool{false, true} {
		c := New(hangingStore{pollErr: pollErr}, e.codec, e.c.cookies, policy(), Options{Timeout: 20 * time.Millisecond})
		done := make(chan Verdict, 1)
		go func() {
			done <- c.Check(context.Background(), browser("app.example.com", "/"), Credentials{Cookie: e.cookie})
		}()
		select {
		case v := <-done:
			if v.Outcome != authz.Unavailable || v.Reason != authz.ReasonStoreUnavailable {
				t.Errorf("pollErr=%v: verdict %v/%s, want unavailable/store_unavailable", pollErr, v.Outcome, v.Reason)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("pollErr=%v: the check never ended: the timeout does not bound the store", pollErr)
		}
	}
}
