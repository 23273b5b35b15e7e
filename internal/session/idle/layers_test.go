package idle_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/cache"
	"github.com/gatehouse/gatehouse/internal/session/idle"
	"github.com/gatehouse/gatehouse/internal/session/memstore"
	"github.com/gatehouse/gatehouse/internal/session/redisstore"
	"github.com/gatehouse/gatehouse/internal/session/sessiontest"
)

// readerMethods calls each method of Reader on r by reflection, so a
// method added to Reader is covered by these tests without being named.
func readerMethods() map[string]func(ctx context.Context, r session.Reader, id string) (*session.Session, error) {
	out := map[string]func(context.Context, session.Reader, string) (*session.Session, error){}
	rt := reflect.TypeFor[session.Reader]()
	for i := range rt.NumMethod() {
		name := rt.Method(i).Name
		out[name] = func(ctx context.Context, r session.Reader, id string) (*session.Session, error) {
			res := reflect.ValueOf(r).MethodByName(name).Call([]reflect.Value{reflect.ValueOf(ctx), reflect.ValueOf(id)})
			s, _ := res[0].Interface().(*session.Session)
			err, _ := res[1].Interface().(error)
			return s, err
		}
	}
	return out
}

// TestEveryReadGoesThroughTheIdleLayer: over every inner store, every
// Reader method of an IdleStore ends a session idle past the timeout, so no
// way of reading a session on the check path skips the idle check.
func TestEveryReadGoesThroughTheIdleLayer(t *testing.T) {
	const timeout = 30 * time.Minute
	stacks := map[string]func(t *testing.T) (idle.Inner, session.Store){
		"memory": func(t *testing.T) (idle.Inner, session.Store) {
			m := memstore.New(memstore.Options{})
			t.Cleanup(func() { _ = m.Close() })
			return m, m
		},
		"redis": func(t *testing.T) (idle.Inner, session.Store) {
			r := newRedis(t)
			return r, r
		},
		"redis+cache": func(t *testing.T) (idle.Inner, session.Store) {
			r := newRedis(t)
			return newCached(t, r), r
		},
	}
	for stack, build := range stacks {
		for method, call := range readerMethods() {
			t.Run(stack+"/"+method, func(t *testing.T) {
				inner, base := build(t)
				st, err := idle.New(inner, idle.Options{Timeout: timeout})
				if err != nil {
					t.Fatal(err)
				}
				sessiontest.RunUntilCleanup(t, st.Run)
				ctx := t.Context()
				now := time.Now()
				live := sessiontest.FullSession(t, now, now.Add(8*time.Hour))
				stale := sessiontest.FullSession(t, now, now.Add(8*time.Hour))
				stale.CreatedAt, stale.LastSeenAt = now.Add(-2*time.Hour), now.Add(-timeout-time.Minute)
				for _, s := range []*session.Session{live, stale} {
					if err := st.Save(ctx, s); err != nil {
						t.Fatal(err)
					}
				}
				if got, err := call(ctx, st, live.ID); err != nil || got.Email != live.Email {
					t.Fatalf("live session: %v", err)
				}
				if _, err := call(ctx, st, stale.ID); !errors.Is(err, session.ErrNotFound) {
					t.Fatalf("%s served a session idle for %v: %v", method, timeout+time.Minute, err)
				}
				if _, err := base.Load(ctx, stale.ID); err != nil {
					t.Fatalf("the idle check is pure, yet the record is gone: %v", err)
				}
			})
		}
	}
}

// TestReaderTokens: LoadWithTokens has the tokens on every store and
// decorator; LoadIdentity never does but says whether a refresh token
// exists.
func TestReaderTokens(t *testing.T) {
	r := newRedis(t)
	mem := memstore.New(memstore.Options{})
	t.Cleanup(func() { _ = mem.Close() })
	cached := newCached(t, r)
	st, err := idle.New(cached, idle.Options{Timeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	sessiontest.RunUntilCleanup(t, st.Run)
	ctx := t.Context()
	for name, st := range map[string]session.ReadManager{"memory": mem, "redis": r, "cache": cached, "idle+cache": st} {
		s := sessiontest.FullSession(t, time.Now(), time.Now().Add(time.Hour))
		if err := st.Save(ctx, s); err != nil {
			t.Fatal(err)
		}
		full, err := st.LoadWithTokens(ctx, s.ID)
		if err != nil || full.AccessToken != s.AccessToken || full.IDToken != s.IDToken || full.RefreshToken != s.RefreshToken {
			t.Errorf("%s: LoadWithTokens lacks the tokens (%v)", name, err)
		}
		ident, err := st.LoadIdentity(ctx, s.ID)
		if err != nil || ident.AccessToken != "" || ident.IDToken != "" || ident.RefreshToken != "" || !ident.HasRefreshToken || ident.Email != s.Email {
			t.Errorf("%s: LoadIdentity = %+v, %v", name, ident != nil, err)
		}
	}
}

// TestReaderOfPlainStore: a Store that is no Reader is read through its
// Load by both methods.
func TestReaderOfPlainStore(t *testing.T) {
	mem := memstore.New(memstore.Options{})
	t.Cleanup(func() { _ = mem.Close() })
	plain := struct{ session.Store }{mem}
	r := session.ReaderOf(plain)
	if _, ok := r.(*memstore.Store); ok {
		t.Fatal("ReaderOf unwrapped the plain store")
	}
	if session.ReaderOf(mem) != session.Reader(mem) {
		t.Fatal("ReaderOf(a session.Reader) is not the session.Reader itself")
	}
	ctx := t.Context()
	s := sessiontest.FullSession(t, time.Now(), time.Now().Add(time.Hour))
	if err := mem.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	for name, call := range readerMethods() {
		if got, err := call(ctx, r, s.ID); err != nil || got.AccessToken != s.AccessToken {
			t.Errorf("%s through session.ReaderOf(plain): %v", name, err)
		}
	}
}

// newRedis returns a Redis store on the test Redis under a fresh prefix.
func newRedis(t *testing.T) *redisstore.Store {
	client, prefix := sessiontest.Redis(t)
	return redisstore.NewFromClient(client, prefix)
}

// newCached returns a running cache in front of r, once it is subscribed.
func newCached(t *testing.T, r *redisstore.Store) *cache.Store {
	c, err := cache.New(r, cache.Options{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	sessiontest.RunUntilCleanup(t, c.Run)
	sessiontest.WaitFor(t, 5*time.Second, "subscription", c.Subscribed)
	return c
}
