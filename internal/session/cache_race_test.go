package session

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// inFlightStore is a RedisStore whose Load, once armed, runs during after
// Redis has answered and before the cache in front of it decides whether
// to keep the answer: the window in which a revocation races a lookup.
type inFlightStore struct {
	*RedisStore
	during func()
	armed  atomic.Bool
	fired  atomic.Bool
}

func (s *inFlightStore) Load(ctx context.Context, id string) (*Session, error) {
	sess, err := s.RedisStore.Load(ctx, id)
	if s.armed.CompareAndSwap(true, false) {
		s.during()
		s.fired.Store(true)
	}
	return sess, err
}

// lookupRacing runs one cached lookup of s on b with revoke happening
// while it is in flight, and returns what b answers next.
func lookupRacing(t *testing.T, b *CachedStore, inner *inFlightStore, s *Session, revoke func()) (*Session, error) {
	t.Helper()
	ctx := t.Context()
	inner.during = revoke
	inner.armed.Store(true)
	// The lookup that was in flight when the revocation came may still see
	// the session: it started first. What matters is the next one.
	if _, err := b.LoadIdentity(ctx, s.ID); err != nil {
		t.Fatalf("in-flight lookup: %v", err)
	}
	if !inner.fired.Load() {
		t.Fatal("the revocation did not run during the lookup")
	}
	return b.LoadIdentity(ctx, s.ID)
}

// TestCachedStoreLookupRacingRevocation: a revocation (delete or changed
// session) that lands while a lookup is between Redis's answer and the
// cache insert is never hidden by that insert: the next lookup sees it,
// at once, not after the TTL. The race is made deterministic by running
// the revocation inside the lookup.
func TestCachedStoreLookupRacingRevocation(t *testing.T) {
	base, _ := newTestRedisStore(t)
	ra, _ := replicaStore(t, testRedisAddr(), base.prefix)
	rb, _ := replicaStore(t, testRedisAddr(), base.prefix)
	inner := &inFlightStore{RedisStore: rb}
	b := newCached(t, inner, CacheOptions{TTL: time.Hour})
	ctx := t.Context()
	heardBy := func(n uint64) func() bool { return func() bool { return b.heard.Load() >= n } }

	t.Run("deleted on another replica", func(t *testing.T) {
		s := fullSession(t, time.Now(), time.Now().Add(time.Hour))
		saveSettled(t, ra, s, b)
		got, err := lookupRacing(t, b, inner, s, func() {
			n := b.heard.Load() + 1
			if err := ra.Delete(ctx, s.ID); err != nil {
				t.Error(err)
			}
			waitFor(t, 2*time.Second, "revocation heard", heardBy(n))
		})
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("after a revocation that raced the lookup: %v, %v; want ErrNotFound", got != nil, err)
		}
		if b.Len() != 0 {
			t.Fatalf("revoked session cached (%d entries)", b.Len())
		}
	})

	t.Run("demoted on another replica", func(t *testing.T) {
		s := fullSession(t, time.Now(), time.Now().Add(time.Hour))
		saveSettled(t, ra, s, b)
		got, err := lookupRacing(t, b, inner, s, func() {
			n := b.heard.Load() + 1
			d := *s
			d.Groups = []string{"demoted"}
			if err := ra.Save(ctx, &d); err != nil {
				t.Error(err)
			}
			waitFor(t, 2*time.Second, "change heard", heardBy(n))
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Groups, []string{"demoted"}) {
			t.Fatalf("after a demotion that raced the lookup: groups %v, want the new ones", got.Groups)
		}
	})

	t.Run("deleted on this replica", func(t *testing.T) {
		s := fullSession(t, time.Now(), time.Now().Add(time.Hour))
		saveSettled(t, ra, s, b)
		_, err := lookupRacing(t, b, inner, s, func() {
			if err := b.Delete(ctx, s.ID); err != nil {
				t.Error(err)
			}
		})
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("after an own revocation that raced the lookup: %v; want ErrNotFound", err)
		}
	})
}

// TestCachedStoreLookupRacingLostRevocation: a revocation whose message is
// lost (the subscription drops and comes back while a lookup is in flight)
// is not hidden by that lookup's insert either.
func TestCachedStoreLookupRacingLostRevocation(t *testing.T) {
	srv := startRedisServer(t, freePort(t))
	prefix := uniquePrefix(t)
	ra, _ := replicaStore(t, srv.addr(), prefix)
	rb, _ := replicaStore(t, srv.addr(), prefix)
	inner := &inFlightStore{RedisStore: rb}
	b := newCached(t, inner, CacheOptions{TTL: time.Hour, ResubscribeMin: 20 * time.Millisecond})
	admin := redis.NewClient(&redis.Options{Addr: srv.addr()})
	defer admin.Close()
	ctx := t.Context()
	s := fullSession(t, time.Now(), time.Now().Add(time.Hour))
	saveSettled(t, ra, s, b)
	_, err := lookupRacing(t, b, inner, s, func() {
		if err := admin.Do(ctx, "client", "kill", "type", "pubsub").Err(); err != nil {
			t.Error(err)
		}
		waitFor(t, 2*time.Second, "drop noticed", func() bool { return !b.Subscribed() })
		if err := ra.Delete(ctx, s.ID); err != nil { // nobody hears this one
			t.Error(err)
		}
		waitFor(t, 5*time.Second, "resubscribed", b.Subscribed)
	})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("after a lost revocation that raced the lookup: %v; want ErrNotFound", err)
	}
}
