package session

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"
)

// readerMethods calls each method of Reader on r by reflection, so a
// method added to Reader is covered by these tests without being named.
func readerMethods() map[string]func(ctx context.Context, r Reader, id string) (*Session, error) {
	out := map[string]func(context.Context, Reader, string) (*Session, error){}
	rt := reflect.TypeFor[Reader]()
	for i := range rt.NumMethod() {
		name := rt.Method(i).Name
		out[name] = func(ctx context.Context, r Reader, id string) (*Session, error) {
			res := reflect.ValueOf(r).MethodByName(name).Call([]reflect.Value{reflect.ValueOf(ctx), reflect.ValueOf(id)})
			s, _ := res[0].Interface().(*Session)
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
	stacks := map[string]func(t *testing.T) (ReadManager, Store){
		"memory": func(t *testing.T) (ReadManager, Store) {
			m := NewMemoryStore()
			t.Cleanup(func() { _ = m.Close() })
			return m, m
		},
		"redis": func(t *testing.T) (ReadManager, Store) {
			r, _ := newTestRedisStore(t)
			return r, r
		},
		"redis+cache": func(t *testing.T) (ReadManager, Store) {
			r, _ := newTestRedisStore(t)
			return newCached(t, r, CacheOptions{TTL: time.Hour}), r
		},
	}
	for stack, build := range stacks {
		for method, call := range readerMethods() {
			t.Run(stack+"/"+method, func(t *testing.T) {
				inner, base := build(t)
				idle, err := NewIdleStore(inner, IdleOptions{Timeout: timeout})
				if err != nil {
					t.Fatal(err)
				}
				runUntilCleanup(t, idle.Run)
				ctx := t.Context()
				now := time.Now()
				live := fullSession(t, now, now.Add(8*time.Hour))
				stale := fullSession(t, now, now.Add(8*time.Hour))
				stale.CreatedAt, stale.LastSeenAt = now.Add(-2*time.Hour), now.Add(-timeout-time.Minute)
				for _, s := range []*Session{live, stale} {
					if err := idle.Save(ctx, s); err != nil {
						t.Fatal(err)
					}
				}
				if got, err := call(ctx, idle, live.ID); err != nil || got.Email != live.Email {
					t.Fatalf("live session: %v", err)
				}
				if _, err := call(ctx, idle, stale.ID); !errors.Is(err, ErrNotFound) {
					t.Fatalf("%s served a session idle for %v: %v", method, timeout+time.Minute, err)
				}
				if _, err := base.Load(ctx, stale.ID); !errors.Is(err, ErrNotFound) {
					t.Fatalf("idle session not ended in the store: %v", err)
				}
			})
		}
	}
}

// TestReaderTokens: LoadWithTokens has the tokens on every store and
// decorator; LoadIdentity never does but says whether a refresh token
// exists.
func TestReaderTokens(t *testing.T) {
	r, _ := newTestRedisStore(t)
	mem := NewMemoryStore()
	t.Cleanup(func() { _ = mem.Close() })
	cached := newCached(t, r, CacheOptions{TTL: time.Hour})
	idle, err := NewIdleStore(cached, IdleOptions{Timeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	runUntilCleanup(t, idle.Run)
	ctx := t.Context()
	for name, st := range map[string]ReadManager{"memory": mem, "redis": r, "cache": cached, "idle+cache": idle} {
		s := fullSession(t, time.Now(), time.Now().Add(time.Hour))
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
	mem := NewMemoryStore()
	t.Cleanup(func() { _ = mem.Close() })
	plain := struct{ Store }{mem}
	r := ReaderOf(plain)
	if _, ok := r.(*MemoryStore); ok {
		t.Fatal("ReaderOf unwrapped the plain store")
	}
	if ReaderOf(mem) != Reader(mem) {
		t.Fatal("ReaderOf(a Reader) is not the Reader itself")
	}
	ctx := t.Context()
	s := fullSession(t, time.Now(), time.Now().Add(time.Hour))
	if err := mem.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	for name, call := range readerMethods() {
		if got, err := call(ctx, r, s.ID); err != nil || got.AccessToken != s.AccessToken {
			t.Errorf("%s through ReaderOf(plain): %v", name, err)
		}
	}
}
