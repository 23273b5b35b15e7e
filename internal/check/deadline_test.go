package check

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/session"
)

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
