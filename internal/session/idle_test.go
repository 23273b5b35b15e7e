package session

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// countingMemory is a MemoryStore that counts Touch calls.
type countingMemory struct {
	*MemoryStore
	touches atomic.Int64
}

func (m *countingMemory) Touch(ctx context.Context, id string, at time.Time) error {
	m.touches.Add(1)
	return m.MemoryStore.Touch(ctx, id, at)
}

func TestIdleStoreMemory(t *testing.T) {
	clock := newFakeClock()
	mem := &countingMemory{MemoryStore: NewMemoryStore(WithClock(clock.Now))}
	idle, err := NewIdleStore(mem, IdleOptions{Timeout: 30 * time.Minute, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if idle.opts.WriteInterval != 3*time.Minute {
		t.Fatalf("default write interval = %v, want 3m", idle.opts.WriteInterval)
	}
	ctx := t.Context()
	s := fullSession(t, clock.Now(), clock.Now().Add(8*time.Hour))
	s.CreatedAt, s.LastSeenAt = clock.Now(), time.Time{}
	if err := idle.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	load := func() (*Session, error) {
		t.Helper()
		got, err := idle.Load(ctx, s.ID)
		idle.wg.Wait() // let a background touch finish
		return got, err
	}

	// Within the write interval: served, nothing written.
	clock.Advance(2 * time.Minute)
	if _, err := load(); err != nil || mem.touches.Load() != 0 {
		t.Fatalf("at 2m: %v, %d touches", err, mem.touches.Load())
	}
	// Past it: one background write, whatever the burst of requests.
	clock.Advance(2 * time.Minute)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if _, err := idle.Load(ctx, s.ID); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	idle.wg.Wait()
	if n := mem.touches.Load(); n != 1 {
		t.Fatalf("50 loads past the interval wrote %d times, want 1", n)
	}
	if got, _ := mem.Load(ctx, s.ID); !got.LastSeenAt.Equal(clock.Now()) {
		t.Fatalf("LastSeenAt = %v, want %v", got.LastSeenAt, clock.Now())
	}
	// Sliding: 29 minutes after the touch it still lives (and is touched).
	clock.Advance(29 * time.Minute)
	if _, err := load(); err != nil {
		t.Fatalf("29m after last use: %v", err)
	}
	if n := mem.touches.Load(); n != 2 {
		t.Fatalf("touches = %d, want 2", n)
	}
	// 30 minutes unused: ended and deleted.
	clock.Advance(30 * time.Minute)
	if _, err := load(); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after 30m idle: %v, want ErrNotFound", err)
	}
	if _, err := mem.Load(ctx, s.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("idle session not deleted: %v", err)
	}
}

func TestIdleStoreOptions(t *testing.T) {
	mem := NewMemoryStore()
	for name, o := range map[string]IdleOptions{
		"zero timeout":      {},
		"negative interval": {Timeout: time.Hour, WriteInterval: -1},
	} {
		if _, err := NewIdleStore(mem, o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	s, err := NewIdleStore(mem, IdleOptions{Timeout: 10 * time.Minute, WriteInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if s.opts.WriteInterval != 5*time.Minute {
		t.Fatalf("write interval = %v, want capped at 5m", s.opts.WriteInterval)
	}
	if s, _ := NewIdleStore(mem, IdleOptions{Timeout: 2 * time.Hour}); s.opts.WriteInterval != 12*time.Minute {
		t.Fatalf("write interval = %v, want 12m", s.opts.WriteInterval)
	}
}

// TestIdleStoreOverCacheAsksRedis: a replica whose cached copy is old must
// not end a session that another replica saw in use meanwhile.
func TestIdleStoreOverCacheAsksRedis(t *testing.T) {
	a, b, _ := twoReplicas(t, CacheOptions{TTL: time.Hour})
	clock := &fakeClock{t: time.Now()}
	start := clock.Now()
	idleB, err := NewIdleStore(b, IdleOptions{Timeout: 30 * time.Minute, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	runUntilCleanup(t, idleB.Run)
	ctx := t.Context()
	s := fullSession(t, start, start.Add(8*time.Hour))
	s.CreatedAt, s.LastSeenAt = start, start
	saveSettled(t, a, s, b)
	if _, err := idleB.LoadIdentity(ctx, s.ID); err != nil { // cached on B
		t.Fatal(err)
	}
	if err := a.Touch(ctx, s.ID, start.Add(25*time.Minute)); err != nil {
		t.Fatal(err)
	}
	clock.Advance(35 * time.Minute)
	if _, err := idleB.LoadIdentity(ctx, s.ID); err != nil {
		t.Fatalf("session used 10m ago ended by a stale cached copy: %v", err)
	}
	clock.Advance(60 * time.Minute)
	if _, err := idleB.LoadIdentity(ctx, s.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("idle session: %v, want ErrNotFound", err)
	}
	if _, err := a.Load(ctx, s.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("idle session still in Redis: %v", err)
	}
}

// TestIdleStoreTouchMemoBounded: the memo of sessions this replica touched
// lately holds at most its bound, however many sessions are in use within
// one write interval, and each of them is still touched once.
func TestIdleStoreTouchMemoBounded(t *testing.T) {
	clock := newFakeClock()
	mem := &countingMemory{MemoryStore: NewMemoryStore(WithClock(clock.Now))}
	idle, err := NewIdleStore(mem, IdleOptions{Timeout: 30 * time.Minute, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	const bound, sessions = 4, 20
	idle.setTouchMemo(t, bound)
	ctx := t.Context()
	ids := make([]string, sessions)
	for i := range ids {
		s := fullSession(t, clock.Now(), clock.Now().Add(8*time.Hour))
		s.CreatedAt = clock.Now()
		if err := idle.Save(ctx, s); err != nil {
			t.Fatal(err)
		}
		ids[i] = s.ID
	}
	clock.Advance(5 * time.Minute) // past the 3m write interval
	for _, id := range ids {
		if _, err := idle.LoadIdentity(ctx, id); err != nil {
			t.Fatal(err)
		}
		idle.wg.Wait()
		if n := idle.touchMemoLen(); n > bound {
			t.Fatalf("touch memo holds %d sessions, bound %d", n, bound)
		}
	}
	if n := mem.touches.Load(); n != sessions {
		t.Fatalf("%d touches for %d sessions in use, want one each", n, sessions)
	}
}

// setTouchMemo gives s a touch memo of n entries, for tests.
func (s *IdleStore) setTouchMemo(t testing.TB, n int) {
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
func (s *IdleStore) touchMemoLen() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.touched.Len()
}
