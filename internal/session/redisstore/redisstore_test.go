package redisstore

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/record"
	"github.com/gatehouse/gatehouse/internal/session/sessiontest"
)

// newTestRedisStore returns a RedisStore on the test Redis with a unique
// prefix, failing t if Redis is unreachable; its keys are deleted and the
// client closed when t ends.
func newTestRedisStore(t testing.TB) (*Store, redis.UniversalClient) {
	t.Helper()
	prefix := sessiontest.Prefix(t)
	st, err := New(Options{Addrs: []string{sessiontest.RedisAddr()}, KeyPrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := st.Ping(ctx); err != nil {
		_ = st.Close()
		t.Fatalf("Redis at %s unreachable (set GATEHOUSE_TEST_REDIS): %v", sessiontest.RedisAddr(), err)
	}
	t.Cleanup(func() {
		defer st.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := st.client.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			if err := st.client.Del(ctx, iter.Val()).Err(); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
		if err := iter.Err(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return st, st.client
}

func TestRedisStoreSuite(t *testing.T) {
	sessiontest.RunStoreSuite(t, sessiontest.SuiteOptions{
		NewStore: func(t *testing.T) session.Store {
			st, _ := newTestRedisStore(t)
			return st
		},
		Lifetime: 1500 * time.Millisecond,
		Wait:     5 * time.Second,
		Now:      time.Now,
	})
}

// TestRedisStoreKeyAndValueHoldNoSecrets: a copy of Redis reveals neither a
// usable session ID nor any token.
func TestRedisStoreKeyAndValueHoldNoSecrets(t *testing.T) {
	st, client := newTestRedisStore(t)
	ctx := t.Context()
	s := sessiontest.FullSession(t, time.Now(), time.Now().Add(time.Hour))
	if err := st.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	keys, err := client.Keys(ctx, st.prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	sk, _ := session.HandleOf(s.ID)
	key := st.prefix + "session:{" + sk + "}"
	// The session and its four indexes (user, sid, sub, email), each
	// expiring with the session and holding only the handle.
	if len(keys) != 5 || !slices.Contains(keys, key) {
		t.Fatalf("keys = %q, want %q and 4 indexes", keys, key)
	}
	idBytes0, _ := session.ParseID(s.ID)
	for _, k := range keys {
		for _, secret := range []string{s.ID, hex.EncodeToString(idBytes0), s.Email, s.Subject, s.SID} {
			if strings.Contains(k, secret) {
				t.Errorf("key %q contains a secret or identity in clear", k)
			}
		}
		if k == key {
			continue
		}
		members, err := client.SMembers(ctx, k).Result()
		if err != nil || !slices.Equal(members, []string{sk}) {
			t.Errorf("index %q = %q, %v; want just the handle", k, members, err)
		}
		if ttl, _ := client.TTL(ctx, k).Result(); ttl <= 59*time.Minute || ttl > time.Hour+2*time.Second {
			t.Errorf("index %q TTL = %v, want about 1h", k, ttl)
		}
	}
	raw, err := client.Get(ctx, key).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	idBytes, _ := session.ParseID(s.ID)
	secrets := map[string]string{
		"session id":        s.ID,
		"session id (raw)":  string(idBytes),
		"session id (hex)":  hex.EncodeToString(idBytes),
		"id token":          s.IDToken,
		"access token":      s.AccessToken,
		"refresh token":     s.RefreshToken,
		"id token part":     "ID-TOKEN-PLAINTEXT",
		"access token part": "ACCESS-TOKEN-PLAINTEXT",
		"refresh tok part":  "REFRESH-TOKEN-PLAINTEXT",
	}
	for name, secret := range secrets {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("stored value contains the %s", name)
		}
		if strings.Contains(key, secret) {
			t.Errorf("key contains the %s", name)
		}
	}
	// The record still carries the identity the admin API lists.
	if !bytes.Contains(raw, []byte(s.Email)) {
		t.Errorf("stored value lacks the email; record format changed?")
	}
	// The key expires with the session.
	ttl, err := client.PTTL(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= 59*time.Minute || ttl > time.Hour {
		t.Errorf("PTTL = %v, want about 1h", ttl)
	}
}

// TestRedisStoreRecordNeedsID: the stored record cannot be read back under
// another ID, even by someone who moves it to that ID's key.
func TestRedisStoreRecordNeedsID(t *testing.T) {
	st, client := newTestRedisStore(t)
	ctx := t.Context()
	victim := sessiontest.FullSession(t, time.Now(), time.Now().Add(time.Hour))
	if err := st.Save(ctx, victim); err != nil {
		t.Fatal(err)
	}
	vk, _ := session.HandleOf(victim.ID)
	raw, err := client.Get(ctx, st.key(vk)).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	attacker := sessiontest.NewID(t)
	ak, _ := session.HandleOf(attacker)
	if err := client.Set(ctx, st.key(ak), raw, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if s, err := st.Load(ctx, attacker); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Load(copied record) = %+v, %v; want session.ErrNotFound", s, err)
	}
}

// TestRedisDownIsAnError: a Redis that refuses connections makes Load fail
// within the deadline with an error that is not ErrNotFound (so the caller
// answers 5xx instead of sending the user to log in again).
func TestRedisDownIsAnError(t *testing.T) {
	st, err := New(Options{Addrs: []string{"127.0.0.1:" + strconv.Itoa(sessiontest.FreePort(t))}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for range 3 { // also once go-redis has started failing fast
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		start := time.Now()
		_, err := st.Load(ctx, sessiontest.NewID(t))
		elapsed := time.Since(start)
		cancel()
		if err == nil || errors.Is(err, session.ErrNotFound) {
			t.Fatalf("Load with Redis down = %v, want a store error", err)
		}
		if elapsed > time.Second {
			t.Fatalf("Load took %v, deadline was 300ms", elapsed)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if err := st.Ping(ctx); err == nil {
		t.Fatal("Ping succeeded with Redis down")
	}
	if err := st.Save(ctx, sessiontest.FullSession(t, time.Now(), time.Now().Add(time.Hour))); err == nil {
		t.Fatal("Save succeeded with Redis down")
	}
}

// TestRedisHungHonoursDeadline: a server that accepts but never answers must
// not hold a Load past its ctx deadline (go-redis ignores ctx deadlines
// unless ContextTimeoutEnabled is set).
func TestRedisHungHonoursDeadline(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = c.Close() })
		}
	}()
	st, err := New(Options{
		Addrs:       []string{l.Addr().String()},
		ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, DialTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = st.Load(ctx, sessiontest.NewID(t))
	if elapsed := time.Since(start); elapsed > 1500*time.Millisecond {
		t.Fatalf("Load on a hung server took %v, deadline was 200ms", elapsed)
	}
	if err == nil || errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Load on a hung server = %v, want a store error", err)
	}
}

// TestRedisStoreRecoversAfterRestart: when Redis dies, Load fails fast with a
// store error; when it comes back on the same address, the same store
// serves again by itself.
func TestRedisStoreRecoversAfterRestart(t *testing.T) {
	port := sessiontest.FreePort(t)
	srv := sessiontest.StartRedisServer(t, port)
	st, err := New(Options{Addrs: []string{srv.Addr()}, KeyPrefix: sessiontest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	call := func() context.Context {
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		t.Cleanup(cancel)
		return ctx
	}
	s := sessiontest.FullSession(t, time.Now(), time.Now().Add(time.Hour))
	if err := st.Save(call(), s); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Load(call(), s.ID); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	for range 3 {
		start := time.Now()
		_, err := st.Load(call(), s.ID)
		if err == nil || errors.Is(err, session.ErrNotFound) {
			t.Fatalf("Load with Redis killed = %v, want a store error", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("Load with Redis killed took %v", d)
		}
	}

	sessiontest.StartRedisServer(t, port) // empty: nothing was persisted
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := st.Save(call(), s)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("store did not recover within 5s of restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	got, err := st.Load(call(), s.ID)
	if err != nil {
		t.Fatalf("Load after recovery: %v", err)
	}
	sessiontest.SameSession(t, got, s)
}

// TestRedisErrorsHoldNoSecrets: a store error (which gets logged) names
// neither the password, the session ID nor its key.
func TestRedisErrorsHoldNoSecrets(t *testing.T) {
	const password = "hunter2-super-secret-redis-password"
	st, err := New(Options{Addrs: []string{sessiontest.RedisAddr()}, Password: password, Username: "nobody-" + password})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	id := sessiontest.NewID(t)
	sk, _ := session.HandleOf(id)
	_, err = st.Load(ctx, id)
	if err == nil || errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Load with bad credentials = %v, want an auth error", err)
	}
	for _, secret := range []string{password, id, sk} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q contains a secret", err)
		}
	}
}

func TestNewRedisStoreOptions(t *testing.T) {
	bad := map[string]Options{
		"no addrs":    {},
		"empty addr":  {Addrs: []string{" "}},
		"negative db": {Addrs: []string{"a:1"}, DB: -1},
		"cluster db":  {Addrs: []string{"a:1", "b:1"}, DB: 2},
		"pool":        {Addrs: []string{"a:1"}, PoolSize: -1},
	}
	for name, o := range bad {
		if st, err := New(o); err == nil {
			_ = st.Close()
			t.Errorf("%s: NewRedisStore succeeded", name)
		}
	}
	for name, o := range map[string]Options{
		"standalone": {Addrs: []string{"127.0.0.1:1"}, DB: 3},
		"sentinel":   {Addrs: []string{"127.0.0.1:1", "127.0.0.1:2"}, MasterName: "mymaster", DB: 1},
		"cluster":    {Addrs: []string{"127.0.0.1:1", "127.0.0.1:2"}},
	} {
		st, err := New(o)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		_ = st.Close()
	}
}

// TestRedisIndexDropsStaleMembers: an index member whose session is gone
// (expired in Redis, or deleted by an older version) is skipped and removed
// by the next reader.
func TestRedisIndexDropsStaleMembers(t *testing.T) {
	st, client := newTestRedisStore(t)
	ctx := t.Context()
	gone := sessiontest.FullSession(t, time.Now(), time.Now().Add(time.Hour))
	live := sessiontest.FullSession(t, time.Now(), time.Now().Add(time.Hour))
	for _, s := range []*session.Session{gone, live} {
		if err := st.Save(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	gk, _ := session.HandleOf(gone.ID)
	if err := client.Del(ctx, st.key(gk)).Err(); err != nil { // as if expired
		t.Fatal(err)
	}
	userIdx := st.indexKey(record.Index{Kind: record.KindUser, Hash: record.Hash(record.KindUser, gone.Issuer, gone.Subject)})
	if ok, _ := client.SIsMember(ctx, userIdx, gk).Result(); !ok {
		t.Fatal("setup: stale member missing")
	}
	list, next, err := st.List(ctx, session.Filter{Issuer: gone.Issuer, Subject: gone.Subject}, "", 10)
	if err != nil || next != "" || len(list) != 1 || list[0].Handle == gk {
		t.Fatalf("List = %d sessions, %q, %v; want only the live one", len(list), next, err)
	}
	if ok, _ := client.SIsMember(ctx, userIdx, gk).Result(); ok {
		t.Fatal("stale member not removed by List")
	}
	if n, err := st.DeleteMatching(ctx, session.Filter{Issuer: gone.Issuer, SID: gone.SID}); err != nil || n != 1 {
		t.Fatalf("DeleteMatching(sid with a stale member) = %d, %v; want 1 (the live one)", n, err)
	}
}

func BenchmarkLoad(b *testing.B) {
	st, _ := newTestRedisStore(b)
	ctx := context.Background()
	s := sessiontest.FullSession(b, time.Now(), time.Now().Add(time.Hour))
	if err := st.Save(ctx, s); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.Load(ctx, s.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRedisRecordFormat: with RecordFormat V2 (a rolling upgrade from a
// release before v3) the store writes v2 records, and a store of either
// format reads what the other wrote.
func TestRedisRecordFormat(t *testing.T) {
	v3, rc := newTestRedisStore(t)
	v2 := NewFromClient(rc, v3.prefix)
	v2.format = record.V2
	ctx := t.Context()
	now := time.Now()
	for name, c := range map[string]struct {
		writer, reader *Store
		first          byte
	}{
		"v2 written, read by v3": {v2, v3, '{'},
		"v3 written, read by v2": {v3, v2, 0x03},
	} {
		s := sessiontest.FullSession(t, now, now.Add(time.Hour))
		if err := c.writer.Save(ctx, s); err != nil {
			t.Fatal(err)
		}
		h, _ := session.HandleOf(s.ID)
		data, err := rc.Get(ctx, v3.key(h)).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if data[0] != c.first {
			t.Errorf("%s: stored record starts with %#x, want %#x", name, data[0], c.first)
		}
		got, err := c.reader.Load(ctx, s.ID)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.Email != s.Email || got.AccessToken != s.AccessToken {
			t.Errorf("%s: read back %q, %q", name, got.Email, got.AccessToken)
		}
	}
}
