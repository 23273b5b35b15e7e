package cache

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/record"
	"github.com/gatehouse/gatehouse/internal/session/redisstore"
	"github.com/gatehouse/gatehouse/internal/session/sessiontest"
)

// cmdCounter is a go-redis hook counting the commands a client sends.
type cmdCounter struct{ n atomic.Int64 }

func (h *cmdCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *cmdCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h *cmdCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// replicaStore is a Redis store on addr with prefix whose commands are
// counted; its client is closed when t ends.
func replicaStore(t testing.TB, addr, prefix string) (*redisstore.Store, *cmdCounter) {
	t.Helper()
	client := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = client.Close() })
	h := &cmdCounter{}
	client.AddHook(h)
	return redisstore.NewFromClient(client, prefix), h
}

// newTestRedisStore returns a Redis store on the test Redis under a fresh
// prefix, whose keys are deleted when t ends, and that prefix.
func newTestRedisStore(t testing.TB) (*redisstore.Store, string) {
	t.Helper()
	client, prefix := sessiontest.Redis(t)
	return redisstore.NewFromClient(client, prefix), prefix
}

// newCached starts a CachedStore on inner, runs it until t ends and waits
// until it is subscribed.
func newCached(t testing.TB, inner Backend, opts Options) *Store {
	t.Helper()
	c, err := New(inner, opts)
	if err != nil {
		t.Fatal(err)
	}
	sessiontest.RunUntilCleanup(t, c.Run)
	sessiontest.WaitFor(t, 5*time.Second, "subscription", c.Subscribed)
	return c
}

// settle runs write, which publishes msgs revocation messages, and waits
// until every replica has heard them, so a later Load is not evicted by a
// message still in flight.
func settle(t testing.TB, msgs int, write func(), replicas ...*Store) {
	t.Helper()
	before := make([]uint64, len(replicas))
	for i, r := range replicas {
		before[i] = r.heard.Load()
	}
	write()
	for i, r := range replicas {
		sessiontest.WaitFor(t, 2*time.Second, "revocation message", func() bool { return r.heard.Load() >= before[i]+uint64(msgs) })
	}
}

// saveSettled saves s through via and waits until replicas heard of it.
func saveSettled(t testing.TB, via session.Store, s *session.Session, replicas ...*Store) {
	t.Helper()
	settle(t, 1, func() {
		if err := via.Save(t.Context(), s); err != nil {
			t.Fatal(err)
		}
	}, replicas...)
}

// twoReplicas returns two CachedStores (A, B) sharing the test Redis and one
// prefix, B's Redis commands counted.
func twoReplicas(t *testing.T, opts Options) (a, b *Store, bCmds *cmdCounter) {
	_, prefix := newTestRedisStore(t) // owns cleanup of the prefix
	ra, _ := replicaStore(t, sessiontest.RedisAddr(), prefix)
	rb, cmds := replicaStore(t, sessiontest.RedisAddr(), prefix)
	return newCached(t, ra, opts), newCached(t, rb, opts), cmds
}

func TestCachedStoreSuite(t *testing.T) {
	sessiontest.RunStoreSuite(t, sessiontest.SuiteOptions{
		NewStore: func(t *testing.T) session.Store {
			st, _ := newTestRedisStore(t)
			return newCached(t, st, Options{})
		},
		Lifetime: 1500 * time.Millisecond,
		Wait:     5 * time.Second,
		Now:      time.Now,
	})
}

// TestNewRefusesNegativeOptions. (A memory store cannot be cached at all:
// it is no Backend, which the compiler checks.)
func TestNewRefusesNegativeOptions(t *testing.T) {
	st, _ := newTestRedisStore(t)
	if _, err := New(st, Options{TTL: -time.Second}); err == nil {
		t.Fatal("negative TTL accepted")
	}
}

// TestCachedStoreLifecycle: NewCachedStore starts no goroutine and the
// cache stays bypassed until Run; once Run's context ends, Run returns, no
// goroutine is left, the cache is empty and bypassed, and a second Run is
// refused.
func TestCachedStoreLifecycle(t *testing.T) {
	st, cmds := replicaStore(t, sessiontest.RedisAddr(), sessiontest.Prefix(t))
	ignore := goleak.IgnoreCurrent()
	c, err := New(st, Options{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := goleak.Find(ignore); err != nil {
		t.Fatalf("NewCachedStore started a goroutine: %v", err)
	}
	ctx := t.Context()
	s := sessiontest.FullSession(t, time.Now(), time.Now().Add(time.Hour))
	if err := st.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	before := cmds.n.Load()
	for range 2 {
		if _, err := c.LoadIdentity(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
	}
	if c.Subscribed() || c.Len() != 0 || cmds.n.Load()-before != 2 {
		t.Fatal("the cache was used before Run")
	}

	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(runCtx) }()
	sessiontest.WaitFor(t, 5*time.Second, "subscription", c.Subscribed)
	if _, err := c.LoadIdentity(ctx, s.ID); err != nil || c.Len() != 1 {
		t.Fatalf("not cached while running: %v, %d entries", err, c.Len())
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if c.Subscribed() || c.Len() != 0 {
		t.Fatal("the cache is still in use after Run returned")
	}
	if err := goleak.Find(ignore); err != nil {
		t.Fatalf("goroutines left after Run returned: %v", err)
	}
	if err := c.Run(ctx); err == nil {
		t.Fatal("a second Run was accepted")
	}
}

// TestCachedStoreHitsSkipRedis: a cached lookup sends nothing to Redis, is
// shared, and holds no tokens; Load and LoadWithTokens have them.
func TestCachedStoreHitsSkipRedis(t *testing.T) {
	a, b, cmds := twoReplicas(t, Options{TTL: time.Minute})
	ctx := t.Context()
	s := sessiontest.FullSession(t, time.Now(), time.Now().Add(time.Hour))
	saveSettled(t, a, s, b)
	first, err := b.LoadIdentity(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	before := cmds.n.Load()
	for range 100 {
		got, err := b.LoadIdentity(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got != first {
			t.Fatal("cache hit returned another copy")
		}
	}
	if n := cmds.n.Load() - before; n != 0 {
		t.Fatalf("100 cache hits sent %d Redis commands", n)
	}
	if first.IDToken != "" || first.AccessToken != "" || first.RefreshToken != "" {
		t.Fatal("cached session holds tokens")
	}
	if first.Email != s.Email || first.Handle == "" || !slices.Equal(first.Groups, s.Groups) {
		t.Fatalf("cached identity wrong: %+v", first)
	}
	fresh, err := b.Load(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	sessiontest.SameSession(t, fresh, s)
	if cmds.n.Load() == before {
		t.Fatal("Load did not go to Redis")
	}
	before = cmds.n.Load()
	if fresh2, _ := b.LoadWithTokens(ctx, s.ID); fresh2 == nil || fresh2.RefreshToken != s.RefreshToken {
		t.Fatal("LoadWithTokens lacks tokens")
	}
	if cmds.n.Load() == before {
		t.Fatal("LoadWithTokens did not go to Redis")
	}
}

// TestCachedStoreRevocationReachesReplicas: a revocation through replica A
// denies the session on replica B, which had it cached, within 100ms; so do
// user-wide revocation, revocation by handle and a changed session.
func TestCachedStoreRevocationReachesReplicas(t *testing.T) {
	a, b, _ := twoReplicas(t, Options{TTL: time.Minute})
	ctx := t.Context()
	cached := func(s *session.Session) {
		t.Helper()
		saveSettled(t, a, s, b)
		for range 2 { // the second is a hit
			if _, err := b.LoadIdentity(ctx, s.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	denied := func(what string, s *session.Session, revoke func()) {
		t.Helper()
		cached(s)
		revoke()
		start := time.Now()
		sessiontest.WaitFor(t, 100*time.Millisecond, what+" reaching replica B", func() bool {
			_, err := b.LoadIdentity(ctx, s.ID)
			return errors.Is(err, session.ErrNotFound)
		})
		t.Logf("%s: denied on B %v after the call returned", what, time.Since(start))
	}
	now, exp := time.Now(), time.Now().Add(time.Hour)

	s1 := sessiontest.FullSession(t, now, exp)
	denied("Delete", s1, func() {
		if err := a.Delete(ctx, s1.ID); err != nil {
			t.Fatal(err)
		}
	})
	s2 := sessiontest.FullSession(t, now, exp)
	denied("DeleteByHandle", s2, func() {
		h, _ := session.HandleOf(s2.ID)
		if err := a.DeleteByHandle(ctx, h); err != nil {
			t.Fatal(err)
		}
	})
	s3 := sessiontest.FullSession(t, now, exp)
	s3.Subject = "back-channel-user"
	denied("DeleteMatching", s3, func() {
		if n, err := a.DeleteMatching(ctx, session.Filter{Issuer: s3.Issuer, Subject: s3.Subject}); err != nil || n != 1 {
			t.Fatalf("DeleteMatching = %d, %v", n, err)
		}
	})

	// A refresh that changes the groups reaches B too.
	s4 := sessiontest.FullSession(t, now, exp)
	cached(s4)
	s4.Groups = []string{"demoted"}
	if err := a.Save(ctx, s4); err != nil {
		t.Fatal(err)
	}
	sessiontest.WaitFor(t, 100*time.Millisecond, "changed groups reaching B", func() bool {
		got, err := b.LoadIdentity(ctx, s4.ID)
		return err == nil && slices.Equal(got.Groups, []string{"demoted"})
	})
}

// TestCachedStoreOwnWritesEvictAtOnce: the replica that revokes never
// serves the revoked session again, not even for the pub/sub hop.
func TestCachedStoreOwnWritesEvictAtOnce(t *testing.T) {
	a, _, _ := twoReplicas(t, Options{TTL: time.Minute})
	ctx := t.Context()
	s := sessiontest.FullSession(t, time.Now(), time.Now().Add(time.Hour))
	if err := a.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	if _, err := a.LoadIdentity(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.DeleteMatching(ctx, session.Filter{Issuer: s.Issuer, Subject: s.Subject}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.LoadIdentity(ctx, s.ID); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Load right after own DeleteMatching = %v", err)
	}
}

// TestCachedStoreTTL: an entry is served for TTL, then read again.
func TestCachedStoreTTL(t *testing.T) {
	clock := sessiontest.ClockAt(time.Now())
	_, b, cmds := twoReplicas(t, Options{TTL: 5 * time.Second, Now: clock.Now})
	ctx := t.Context()
	s := sessiontest.FullSession(t, time.Now(), time.Now().Add(time.Hour))
	saveSettled(t, b, s, b)
	if _, err := b.LoadIdentity(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	n := cmds.n.Load()
	clock.Advance(4 * time.Second)
	if _, err := b.LoadIdentity(ctx, s.ID); err != nil || cmds.n.Load() != n {
		t.Fatalf("within TTL: %v, %d commands", err, cmds.n.Load()-n)
	}
	clock.Advance(2 * time.Second)
	if _, err := b.LoadIdentity(ctx, s.ID); err != nil || cmds.n.Load() == n {
		t.Fatalf("after TTL: %v, served from cache", err)
	}
}

// TestCachedStoreBounded: the cache never holds more than Size sessions.
func TestCachedStoreBounded(t *testing.T) {
	_, b, _ := twoReplicas(t, Options{Size: 10, TTL: time.Minute})
	ctx := t.Context()
	for range 50 {
		s := sessiontest.FullSession(t, time.Now(), time.Now().Add(time.Hour))
		saveSettled(t, b, s, b)
		if _, err := b.LoadIdentity(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
		if n := b.Len(); n > 10 {
			t.Fatalf("cache holds %d > 10", n)
		}
	}
	if n := b.Len(); n != 10 {
		t.Fatalf("cache holds %d, want 10", n)
	}
}

// TestCachedStoreSubscriptionDrop: when the subscription is killed the
// cache is emptied and bypassed, so a revocation published meanwhile is not
// missed; the store subscribes again by itself. When Redis dies, a cached
// session is not served: Load fails (5xx), never allows.
func TestCachedStoreSubscriptionDrop(t *testing.T) {
	port := sessiontest.FreePort(t)
	srv := sessiontest.StartRedisServer(t, port)
	prefix := sessiontest.Prefix(t)
	ra, _ := replicaStore(t, srv.Addr(), prefix)
	rb, cmds := replicaStore(t, srv.Addr(), prefix)
	b := newCached(t, rb, Options{TTL: time.Minute, ResubscribeMin: 2 * time.Second})
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer admin.Close()
	ctx := t.Context()

	s := sessiontest.FullSession(t, time.Now(), time.Now().Add(time.Hour))
	saveSettled(t, ra, s, b)
	if _, err := b.LoadIdentity(ctx, s.ID); err != nil || b.Len() != 1 {
		t.Fatalf("Load: %v, cached %d", err, b.Len())
	}
	if err := admin.Do(ctx, "client", "kill", "type", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	sessiontest.WaitFor(t, time.Second, "drop noticed", func() bool { return !b.Subscribed() })
	if n := b.Len(); n != 0 {
		t.Fatalf("cache holds %d entries after the drop", n)
	}
	// Revoked while B hears nothing: B must not serve it.
	if err := ra.Delete(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.LoadIdentity(ctx, s.ID); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Load while unsubscribed = %v, want session.ErrNotFound", err)
	}
	s2 := sessiontest.FullSession(t, time.Now(), time.Now().Add(time.Hour))
	if err := ra.Save(ctx, s2); err != nil {
		t.Fatal(err)
	}
	n := cmds.n.Load()
	for range 3 {
		if _, err := b.LoadIdentity(ctx, s2.ID); err != nil {
			t.Fatal(err)
		}
	}
	if cmds.n.Load()-n < 3 {
		t.Fatal("cache served lookups while unsubscribed")
	}
	if b.Len() != 0 {
		t.Fatal("cache filled while unsubscribed")
	}

	// Back after the backoff, by itself.
	sessiontest.WaitFor(t, 5*time.Second, "resubscribe", b.Subscribed)
	if _, err := b.LoadIdentity(ctx, s2.ID); err != nil || b.Len() != 1 {
		t.Fatalf("after resubscribe: %v, cached %d", err, b.Len())
	}

	// Redis dies: the cached session is not served.
	srv.Stop()
	sessiontest.WaitFor(t, 3*time.Second, "drop noticed after kill", func() bool { return !b.Subscribed() })
	lctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := b.LoadIdentity(lctx, s2.ID); err == nil || errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Load with Redis dead = %v, want a store error", err)
	}
}

// TestCachedStoreSilentDeathNoticed: a subscription whose server stops
// answering (but keeps the connection) is noticed by the health ping.
func TestCachedStoreSilentDeathNoticed(t *testing.T) {
	port := sessiontest.FreePort(t)
	srv := sessiontest.StartRedisServer(t, port)
	rb, _ := replicaStore(t, srv.Addr(), sessiontest.Prefix(t))
	b := newCached(t, rb, Options{HealthInterval: 100 * time.Millisecond, ResubscribeMin: time.Minute})
	// SIGSTOP freezes the server: connections stay open, nothing answers.
	if err := srv.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Signal(syscall.SIGCONT) }()
	sessiontest.WaitFor(t, 2*time.Second, "frozen server noticed", func() bool { return !b.Subscribed() })
}

// TestCachedStoreHeap100k measures the heap cost of 100,000 cached
// sessions (target: under 100 MiB).
func TestCachedStoreHeap100k(t *testing.T) {
	st, _ := newTestRedisStore(t)
	const n = 100000
	inner := &synthStore{Store: st, now: time.Now()}
	c := newCached(t, inner, Options{Size: n, TTL: time.Hour})
	ids := make([]string, n)
	for i := range ids {
		ids[i] = sessiontest.NewID(t)
	}
	ctx := t.Context()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, id := range ids {
		if _, err := c.LoadIdentity(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if c.Len() != n {
		t.Fatalf("cached %d, want %d", c.Len(), n)
	}
	mib := float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)
	t.Logf("heap for %d cached sessions: %.1f MiB (%.0f bytes each)", n, mib, mib*(1<<20)/n)
	if mib >= 100 {
		t.Errorf("heap for %d cached sessions = %.1f MiB, target < 100 MiB", n, mib)
	}
	runtime.KeepAlive(c)
}

// synthStore answers Load with a typical session decoded from its stored
// form, without Redis, so the cache can be filled fast.
type synthStore struct {
	*redisstore.Store
	now time.Time
}

func (s *synthStore) Load(_ context.Context, id string) (*session.Session, error) {
	x := &session.Session{
		Issuer: "https://idp.example.com/realms/acme", Subject: "248289761001",
		SID: "idp-session-7f3a", User: "jane", Email: "jane@example.com", EmailVerified: true,
		PreferredUsername: "jane.doe",
		Groups:            []string{"engineering", "ml-team", "clearml-users", "vpn", "all-staff"},
		CreatedAt:         s.now, ExpiresAt: s.now.Add(time.Hour), LastSeenAt: s.now,
		TokenExpiry: s.now.Add(5 * time.Minute),
	}
	// Decode from the stored form so every string is its own allocation,
	// as with a real lookup.
	x.ID = id
	_, data, _, err := record.Encode(x, s.now)
	if err != nil {
		return nil, err
	}
	out, err := record.Decode(id, data, s.now)
	if err != nil {
		return nil, err
	}
	out.Handle, _ = session.HandleOf(id)
	return out, nil
}

// BenchmarkCachedStoreLoadHit: a check whose session is cached (no Redis).
func BenchmarkCachedStoreLoadHit(b *testing.B) {
	st, _ := newTestRedisStore(b)
	c := newCached(b, st, Options{TTL: time.Hour})
	s := sessiontest.FullSession(b, time.Now(), time.Now().Add(time.Hour))
	saveSettled(b, st, s, c)
	ctx := context.Background()
	if _, err := c.LoadIdentity(ctx, s.ID); err != nil || c.Len() != 1 {
		b.Fatalf("not cached: %v", err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.LoadIdentity(ctx, s.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCachedStoreLoadMiss: a check whose session is not cached (one
// Redis round trip, then cached), evicted before every lookup.
func BenchmarkCachedStoreLoadMiss(b *testing.B) {
	st, _ := newTestRedisStore(b)
	c := newCached(b, st, Options{TTL: time.Hour})
	s := sessiontest.FullSession(b, time.Now(), time.Now().Add(time.Hour))
	saveSettled(b, st, s, c)
	key, _ := session.HandleOf(s.ID)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c.evict(key)
		if _, err := c.LoadIdentity(ctx, s.ID); err != nil {
			b.Fatal(err)
		}
	}
}
