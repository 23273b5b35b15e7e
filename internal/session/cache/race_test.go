package cache

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/redisstore"
	"github.com/gatehouse/gatehouse/internal/session/sessiontest"
)

// inFlightStore is a RedisStore whose Load, once armed, runs during after
// Redis has answered and before the cache in front of it decides whether
// to keep the answer: the window in which a revocation races a lookup.
type inFlightStore struct {
	*redisstore.Store
	during func()
	armed  atomic.Bool
	fired  atomic.Bool
}

func (s *inFlightStore) Load(ctx context.Context, id string) (*session.Session, error) {
	sess, err := s.Store.Load(ctx, id)
	if s.armed.CompareAndSwap(true, false) {
		s.during()
		s.fired.Store(true)
	}
	return sess, err
}

// lookupRacing runs one cached lookup of s on b with revoke happening
// while it is in flight, and returns what b answers next.
func lookupRacing(t *testing.T, b *Store, inner *inFlightStore, s *session.Session, revoke func()) (*session.Session, error) {
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
	_, prefix := newTestRedisStore(t)
	ra, _ := replicaStore(t, sessiontest.RedisAddr(), prefix)
	rb, _ := replicaStore(t, sessiontest.RedisAddr(), prefix)
	inner := &inFlightStore{Store: rb}
	b := newCached(t, inner, Options{TTL: time.Hour})
	ctx := t.Context()
	heardBy := func(n uint64) func() bool { return func() bool { return b.heard.Load() >= n } }

	t.Run("deleted on another replica", func(t *testing.T) {
		s := sessiontest.FullSession(t, time.Now(), time.Now().Add(time.Hour))
		saveSettled(t, ra, s, b)
		got, err := lookupRacing(t, b, inner, s, func() {
			n := b.heard.Load() + 1
			if err := ra.Delete(ctx, s.ID); err != nil {
				t.Error(err)
			}
			sessiontest.WaitFor(t, 2*time.Second, "revocation heard", heardBy(n))
		})
		if !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("after a revocation that raced the lookup: %v, %v; want session.ErrNotFound", got != nil, err)
		}
		if b.Len() != 0 {
			t.Fatalf("revoked session cached (%d entries)", b.Len())
		}
	})

	t.Run("demoted on another replica", func(t *testing.T) {
		s := sessiontest.FullSession(t, time.Now(), time.Now().Add(time.Hour))
		saveSettled(t, ra, s, b)
		got, err := lookupRacing(t, b, inner, s, func() {
			n := b.heard.Load() + 1
			d := *s
			d.Groups = []string{"demoted"}
			if err := ra.Save(ctx, &d); err != nil {
				t.Error(err)
			}
			sessiontest.WaitFor(t, 2*time.Second, "change heard", heardBy(n))
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Groups, []string{"demoted"}) {
			t.Fatalf("after a demotion that raced the lookup: groups %v, want the new ones", got.Groups)
		}
	})

	t.Run("deleted on this replica", func(t *testing.T) {
		s := sessiontest.FullSession(t, time.Now(), time.Now().Add(time.Hour))
		saveSettled(t, ra, s, b)
		_, err := lookupRacing(t, b, inner, s, func() {
			if err := b.Delete(ctx, s.ID); err != nil {
				t.Error(err)
			}
		})
		if !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("after an own revocation that raced the lookup: %v; want session.ErrNotFound", err)
		}
	})
}

// TestCachedStoreLookupRacingLostRevocation: a revocation whose message is
// lost (the subscription drops and comes back while a lookup is in flight)
// is not hidden by that lookup's insert either.
func TestCachedStoreLookupRacingLostRevocation(t *testing.T) {
	srv := sessiontest.StartRedisServer(t, sessiontest.FreePort(t))
	prefix := sessiontest.Prefix(t)
	ra, _ := replicaStore(t, srv.Addr(), prefix)
	rb, _ := replicaStore(t, srv.Addr(), prefix)
	inner := &inFlightStore{Store: rb}
	b := newCached(t, inner, Options{TTL: time.Hour, ResubscribeMin: 20 * time.Millisecond})
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer admin.Close()
	ctx := t.Context()
	s := sessiontest.FullSession(t, time.Now(), time.Now().Add(time.Hour))
	saveSettled(t, ra, s, b)
	_, err := lookupRacing(t, b, inner, s, func() {
		if err := admin.Do(ctx, "client", "kill", "type", "pubsub").Err(); err != nil {
			t.Error(err)
		}
		sessiontest.WaitFor(t, 2*time.Second, "drop noticed", func() bool { return !b.Subscribed() })
		if err := ra.Delete(ctx, s.ID); err != nil { // nobody hears this one
			t.Error(err)
		}
		sessiontest.WaitFor(t, 5*time.Second, "resubscribed", b.Subscribed)
	})
	if !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("after a lost revocation that raced the lookup: %v; want session.ErrNotFound", err)
	}
}
