package login_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/login"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/cookie"
	"github.com/gatehouse/gatehouse/internal/session/memstore"
	"github.com/gatehouse/gatehouse/internal/session/redisstore"
)

// revokeHook is a go-redis hook that, once armed, runs revoke just before
// the first command that writes the session key reaches Redis: a sign-out
// or admin revocation on another replica landing between refresh's look at
// the session and its save, whatever commands the save uses.
type revokeHook struct {
	key    string
	revoke func()
	armed  atomic.Bool
	fired  atomic.Bool
}

func (h *revokeHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *revokeHook) writes(cmd redis.Cmder) bool {
	switch strings.ToLower(cmd.Name()) {
	case "set", "eval", "evalsha", "evalsha_ro", "eval_ro":
	default:
		return false
	}
	for _, a := range cmd.Args() {
		if s, ok := a.(string); ok && s == h.key {
			return true
		}
	}
	return false
}

func (h *revokeHook) before(cmds ...redis.Cmder) {
	for _, c := range cmds {
		if h.writes(c) && h.armed.CompareAndSwap(true, false) {
			h.revoke()
			h.fired.Store(true)
			return
		}
	}
}

func (h *revokeHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.before(cmd)
		return next(ctx, cmd)
	}
}

func (h *revokeHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.before(cmds...)
		return next(ctx, cmds)
	}
}

func testRedisAddr() string {
	if a := os.Getenv("GATEHOUSE_TEST_REDIS"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// redisClient returns a client on the test Redis (failing t when it is
// unreachable) and a key prefix of its own, deleted when t ends.
func redisClient(t *testing.T) (*redis.Client, string) {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "gatehouse-test:" + hex.EncodeToString(b) + ":"
	rc := redis.NewClient(&redis.Options{Addr: testRedisAddr(), ContextTimeoutEnabled: true})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rc.Ping(ctx).Err(); err != nil {
		t.Fatalf("Redis at %s unreachable (set GATEHOUSE_TEST_REDIS): %v", testRedisAddr(), err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		if keys, _ := rc.Keys(ctx, prefix+"*").Result(); len(keys) > 0 {
			rc.Del(ctx, keys...)
		}
		rc.Close()
	})
	return rc, prefix
}

// sessionKey is the Redis key RedisStore keeps session id under.
func sessionKey(t *testing.T, prefix, id string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return prefix + "session:{" + hex.EncodeToString(sum[:]) + "}"
}

// TestRefreshNeverResurrectsRevokedSessionRedis: a revocation through
// another replica that lands after refresh checked the session is still
// there but before it saves the renewed one wins: the session stays ended.
func TestRefreshNeverResurrectsRevokedSessionRedis(t *testing.T) {
	e := newEnv(t, envOptions{})
	s, _ := e.signIn(t, "alice", "wonderland")
	rc, prefix := redisClient(t)
	store := redisstore.NewFromClient(rc, prefix)
	other := redisstore.NewFromClient(redis.NewClient(&redis.Options{Addr: testRedisAddr()}), prefix)
	ctx := context.Background()
	if err := store.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	hook := &revokeHook{key: sessionKey(t, prefix, s.ID), revoke: func() {
		if err := other.Delete(ctx, s.ID); err != nil {
			t.Error(err)
		}
	}}
	rc.AddHook(hook)
	h, err := login.New(e.cfg, store, e.codec, cookie.Settings{Name: cookieName}, e.rv, login.Options{Logger: e.logger})
	if err != nil {
		t.Fatal(err)
	}
	runHandler(h)
	t.Cleanup(func() { shutdown(t, h) })

	hook.armed.Store(true)
	_, err = h.Refresh(ctx, s)
	if !hook.fired.Load() {
		t.Fatalf("the refresh never wrote the session (Refresh = %v)", err)
	}
	if !errors.Is(err, login.ErrSessionGone) {
		t.Errorf("Refresh of a session revoked before its save = %v, want ErrSessionGone", err)
	}
	if _, err := store.Load(ctx, s.ID); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("revoked session resurrected by refresh (Load error %v)", err)
	}
}

// revokeBeforeWrite is a session store that ends the session just before a
// write of it reaches the store, once armed.
type revokeBeforeWrite struct {
	*memstore.Store
	armed, fired atomic.Bool
}

func (r *revokeBeforeWrite) revoke(ctx context.Context, id string) {
	if r.armed.CompareAndSwap(true, false) {
		_ = r.Store.Delete(ctx, id)
		r.fired.Store(true)
	}
}

func (r *revokeBeforeWrite) Save(ctx context.Context, s *session.Session) error {
	r.revoke(ctx, s.ID)
	return r.Store.Save(ctx, s)
}

func (r *revokeBeforeWrite) Update(ctx context.Context, s *session.Session) error {
	r.revoke(ctx, s.ID)
	return r.Store.Update(ctx, s)
}

// TestRefreshNeverResurrectsRevokedSessionMemory: the same with the memory
// store.
func TestRefreshNeverResurrectsRevokedSessionMemory(t *testing.T) {
	e := newEnv(t, envOptions{})
	s, _ := e.signIn(t, "alice", "wonderland")
	store := &revokeBeforeWrite{Store: memstore.New(memstore.Options{})}
	t.Cleanup(func() { _ = store.Close() })
	ctx := context.Background()
	if err := store.Store.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	h, err := login.New(e.cfg, store, e.codec, cookie.Settings{Name: cookieName}, e.rv, login.Options{Logger: e.logger})
	if err != nil {
		t.Fatal(err)
	}
	runHandler(h)
	t.Cleanup(func() { shutdown(t, h) })

	store.armed.Store(true)
	_, err = h.Refresh(ctx, s)
	if !store.fired.Load() {
		t.Fatalf("the refresh never wrote the session (Refresh = %v)", err)
	}
	if !errors.Is(err, login.ErrSessionGone) {
		t.Errorf("Refresh of a session revoked before its save = %v, want ErrSessionGone", err)
	}
	if _, err := store.Load(ctx, s.ID); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("revoked session resurrected by refresh (Load error %v)", err)
	}
}

// TestRefreshRefusesStoreWithoutUpdate: a store that can only save
// unconditionally is not used to save a refresh.
func TestRefreshRefusesStoreWithoutUpdate(t *testing.T) {
	e := newEnv(t, envOptions{})
	s, _ := e.signIn(t, "alice", "wonderland")
	plain := struct{ session.Store }{memstore.New(memstore.Options{})}
	ctx := context.Background()
	if err := plain.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	h, err := login.New(e.cfg, plain, e.codec, cookie.Settings{Name: cookieName}, e.rv, login.Options{Logger: e.logger})
	if err != nil {
		t.Fatal(err)
	}
	runHandler(h)
	t.Cleanup(func() { shutdown(t, h) })
	if _, err := h.Refresh(ctx, s); err == nil || !strings.Contains(err.Error(), "cannot save only while the session exists") {
		t.Fatalf("Refresh through a store without Update = %v, want a refusal", err)
	}
	if got, err := plain.Load(ctx, s.ID); err != nil || got.RefreshToken != s.RefreshToken {
		t.Fatalf("session changed by a refused refresh: %v", err)
	}
}
