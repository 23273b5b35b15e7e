package idle

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/cache"
	"github.com/gatehouse/gatehouse/internal/session/memstore"
	"github.com/gatehouse/gatehouse/internal/session/redisstore"
	"github.com/gatehouse/gatehouse/internal/session/sessiontest"
)

// countingMemory is a memory store that counts Touch calls.
type countingMemory struct {
	*memstore.Store
	touches atomic.Int64
}

func (m *countingMemory) Touch(ctx context.Context, id string, at time.Time) error {
	m.touches.Add(1)
	return m.Store.Touch(ctx, id, at)
}

// running returns a Store over a counting memory store, with Run running
// until t ends.
func running(t *testing.T, clock *sessiontest.Clock) (*Store, *countingMemory) {
	t.Helper()
	mem := &countingMemory{Store: memstore.New(memstore.Options{Now: clock.Now})}
	st, err := New(mem, Options{Timeout: 30 * time.Minute, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	sessiontest.RunUntilCleanup(t, st.Run)
	return st, mem
}

// touchesReach waits until mem has recorded n uses.
func touchesReach(t *testing.T, mem *countingMemory, n int64) {
	t.Helper()
	sessiontest.WaitFor(t, 5*time.Second, "recorded uses", func() bool { return mem.touches.Load() >= n })
}

func TestIdleStoreMemory(t *testing.T) {
	clock := sessiontest.NewClock()
	mem := &countingMemory{Store: memstore.New(memstore.Options{Now: clock.Now})}
	st, err := New(mem, Options{Timeout: 30 * time.Minute, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if st.opts.WriteInterval != 3*time.Minute {
		t.Fatalf("default write interval = %v, want 3m", st.opts.WriteInterval)
	}
	ctx := t.Context()
	s := sessiontest.FullSession(t, clock.Now(), clock.Now().Add(8*time.Hour))
	s.CreatedAt, s.LastSeenAt = clock.Now(), time.Time{}
	if err := st.Save(ctx, s); err != nil {
		t.Fatal(err)
	}

	// Within the write interval: served, no write offered.
	clock.Advance(2 * time.Minute)
	if _, err := st.Load(ctx, s.ID); err != nil || st.touchMemoLen() != 0 {
		t.Fatalf("at 2m: %v, %d writes offered", err, st.touchMemoLen())
	}
	// Past it: one write, whatever the burst of requests (made before Run
	// starts, so no write lands during the burst and hides a second one).
	clock.Advance(2 * time.Minute)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if _, err := st.Load(ctx, s.ID); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	sessiontest.RunUntilCleanup(t, st.Run)
	touchesReach(t, mem, 1)
	if got, _ := mem.Load(ctx, s.ID); !got.LastSeenAt.Equal(clock.Now()) {
		t.Fatalf("LastSeenAt = %v, want %v", got.LastSeenAt, clock.Now())
	}
	// Sliding: 29 minutes after the touch it still lives (and is touched).
	clock.Advance(29 * time.Minute)
	if _, err := st.Load(ctx, s.ID); err != nil {
		t.Fatalf("29m after last use: %v", err)
	}
	touchesReach(t, mem, 2)
	// 30 minutes unused: ended. The check is pure: nothing is written or
	// deleted, the record stays (unusable) until its absolute expiry.
	clock.Advance(30 * time.Minute)
	for _, read := range []func(context.Context, string) (*session.Session, error){st.Load, st.LoadIdentity, st.LoadWithTokens} {
		if _, err := read(ctx, s.ID); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("after 30m idle: %v, want ErrNotFound", err)
		}
	}
	h, _ := session.HandleOf(s.ID)
	st.mu.Lock()
	last, _ := st.touched.Peek(h)
	st.mu.Unlock()
	if !last.Equal(clock.Now().Add(-30 * time.Minute)) {
		t.Fatalf("an idle session's use was offered for writing (last offer %v)", last)
	}
	if _, err := mem.Load(ctx, s.ID); err != nil {
		t.Fatalf("the idle check deleted the record: %v", err)
	}
	if n := mem.touches.Load(); n != 2 {
		t.Fatalf("touches = %d, want 2: 50 loads within one interval wrote more than once", n)
	}
}

func TestIdleStoreOptions(t *testing.T) {
	mem := memstore.New(memstore.Options{})
	for name, o := range map[string]Options{
		"zero timeout":      {},
		"negative interval": {Timeout: time.Hour, WriteInterval: -1},
	} {
		if _, err := New(mem, o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	s, err := New(mem, Options{Timeout: 10 * time.Minute, WriteInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if s.opts.WriteInterval != 5*time.Minute {
		t.Fatalf("write interval = %v, want capped at 5m", s.opts.WriteInterval)
	}
	if s, _ := New(mem, Options{Timeout: 2 * time.Hour}); s.opts.WriteInterval != 12*time.Minute {
		t.Fatalf("write interval = %v, want 12m", s.opts.WriteInterval)
	}
}

// TestRunRecordsUseAndStops: Run writes the offered uses, and returns once
// its context ends, leaving no goroutine behind.
func TestRunRecordsUseAndStops(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	clock := sessiontest.NewClock()
	mem := &countingMemory{Store: memstore.New(memstore.Options{Now: clock.Now})}
	st, err := New(mem, Options{Timeout: 30 * time.Minute, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx) }()
	s := sessiontest.FullSession(t, clock.Now(), clock.Now().Add(8*time.Hour))
	s.CreatedAt, s.LastSeenAt = clock.Now(), time.Time{}
	if err := st.Save(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	clock.Advance(10 * time.Minute)
	if _, err := st.LoadIdentity(t.Context(), s.ID); err != nil {
		t.Fatal(err)
	}
	touchesReach(t, mem, 1)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

// TestFullQueueDropsNotBlocks: with maxTouchJobs writes pending (a store
// too slow to keep up), a request is still served at once, and its write
// is left for a later request.
func TestFullQueueDropsNotBlocks(t *testing.T) {
	clock := sessiontest.NewClock()
	mem := &countingMemory{Store: memstore.New(memstore.Options{Now: clock.Now})}
	st, err := New(mem, Options{Timeout: 30 * time.Minute, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	last := sessiontest.FullSession(t, clock.Now(), clock.Now().Add(8*time.Hour))
	last.CreatedAt, last.LastSeenAt = clock.Now(), time.Time{}
	if err := st.Save(ctx, last); err != nil {
		t.Fatal(err)
	}
	clock.Advance(10 * time.Minute)
	// Run is not running: the offered writes stay pending.
	for range maxTouchJobs {
		s := sessiontest.FullSession(t, clock.Now(), clock.Now().Add(8*time.Hour))
		st.maybeTouch(s.ID, "", clock.Now(), 10*time.Minute)
	}
	if _, err := st.LoadIdentity(ctx, last.ID); err != nil {
		t.Fatalf("served with the writes full: %v", err)
	}
	h, _ := session.HandleOf(last.ID)
	st.mu.Lock()
	_, remembered := st.touched.Peek(h)
	st.mu.Unlock()
	if remembered {
		t.Fatal("a dropped write was remembered as done: the next request would not retry it")
	}
}

// TestIdleStoreOverCacheAsksRedis: a replica whose cached copy is old must
// not end a session that another replica saw in use meanwhile.
func TestIdleStoreOverCacheAsksRedis(t *testing.T) {
	client, prefix := sessiontest.Redis(t)
	a := redisstore.NewFromClient(client, prefix)
	bClient := redis.NewClient(&redis.Options{Addr: sessiontest.RedisAddr()})
	t.Cleanup(func() { _ = bClient.Close() })
	b, err := cache.New(redisstore.NewFromClient(bClient, prefix), cache.Options{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	sessiontest.RunUntilCleanup(t, b.Run)
	sessiontest.WaitFor(t, 5*time.Second, "subscription", b.Subscribed)

	clock := sessiontest.ClockAt(time.Now())
	start := clock.Now()
	idleB, err := New(b, Options{Timeout: 30 * time.Minute, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	sessiontest.RunUntilCleanup(t, idleB.Run)
	ctx := t.Context()
	s := sessiontest.FullSession(t, start, start.Add(8*time.Hour))
	s.CreatedAt, s.LastSeenAt = start, start
	if err := a.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	// B caches the session (retrying while A's own revocation message may
	// still evict it).
	sessiontest.WaitFor(t, 5*time.Second, "cached on B", func() bool {
		_, err := idleB.LoadIdentity(ctx, s.ID)
		return err == nil && b.Len() == 1
	})
	if err := a.Touch(ctx, s.ID, start.Add(25*time.Minute)); err != nil {
		t.Fatal(err)
	}
	clock.Advance(35 * time.Minute)
	if _, err := idleB.LoadIdentity(ctx, s.ID); err != nil {
		t.Fatalf("session used 10m ago ended by a stale cached copy: %v", err)
	}
	clock.Advance(60 * time.Minute)
	if _, err := idleB.LoadIdentity(ctx, s.ID); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("idle session: %v, want ErrNotFound", err)
	}
}

// TestIdleStoreTouchMemoBounded: the memo of sessions this replica touched
// lately holds at most its bound, however many sessions are in use within
// one write interval, and each of them is still touched once.
func TestIdleStoreTouchMemoBounded(t *testing.T) {
	clock := sessiontest.NewClock()
	st, mem := running(t, clock)
	const bound, sessions = 4, 20
	st.setTouchMemo(t, bound)
	ctx := t.Context()
	ids := make([]string, sessions)
	for i := range ids {
		s := sessiontest.FullSession(t, clock.Now(), clock.Now().Add(8*time.Hour))
		s.CreatedAt = clock.Now()
		if err := st.Save(ctx, s); err != nil {
			t.Fatal(err)
		}
		ids[i] = s.ID
	}
	clock.Advance(5 * time.Minute) // past the 3m write interval
	for i, id := range ids {
		if _, err := st.LoadIdentity(ctx, id); err != nil {
			t.Fatal(err)
		}
		touchesReach(t, mem, int64(i+1))
		if n := st.touchMemoLen(); n > bound {
			t.Fatalf("touch memo holds %d sessions, bound %d", n, bound)
		}
	}
	if n := mem.touches.Load(); n != sessions {
		t.Fatalf("%d touches for %d sessions in use, want one each", n, sessions)
	}
}

// setTouchMemo gives s a touch memo of n entries, for tests.
func (s *Store) setTouchMemo(t testing.TB, n int) {
	t.Helper()
	memo, err := simplelru.NewLRU[string, time.Time](n, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.touched = memo
}

// touchMemoLen is how many sessions s remembers touching.
func (s *Store) touchMemoLen() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.touched.Len()
}
