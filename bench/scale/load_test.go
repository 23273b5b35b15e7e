package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/redisstore"
	"github.com/gatehouse/gatehouse/internal/session/sessiontest"
)

// TestLoadSessionsIsSavesLayout: the bulk loader leaves Redis exactly as
// redisstore.Save does for the same sessions (the same keys, types, set
// members and expiries; the records differ only by their random nonces),
// the same in every Redis it loads at once, and redisstore reads, lists and
// deletes what it loaded.
func TestLoadSessionsIsSavesLayout(t *testing.T) {
	srv := sessiontest.StartRedisServer(t, sessiontest.FreePort(t))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer c.Close()
	c2 := redis.NewClient(&redis.Options{Addr: sessiontest.StartRedisServer(t, sessiontest.FreePort(t)).Addr()})
	defer c2.Close()
	f := fixture{n: 10, perUser: 3, tok: token(300), expires: time.Now().Add(time.Hour)}
	ld, err := loadSessions(ctx, []redis.UniversalClient{c, c2}, "bulk:", f, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(ld.ids) != f.n {
		t.Fatalf("loaded %d IDs, want %d", len(ld.ids), f.n)
	}

	// The same sessions, saved one by one.
	saved, err := redisstore.New(redisstore.Options{Addrs: []string{srv.Addr()}, KeyPrefix: "saved:"})
	if err != nil {
		t.Fatal(err)
	}
	defer saved.Close()
	for i, id := range ld.ids {
		if err := saved.Save(ctx, f.sessionAt(i, id, time.Now())); err != nil {
			t.Fatal(err)
		}
	}
	bulk, savedKeys := layout(t, c, "bulk:"), layout(t, c, "saved:")
	second := layout(t, c2, "bulk:")
	if len(second) != len(bulk) {
		t.Errorf("the second Redis holds %d keys, the first %d", len(second), len(bulk))
	}
	for k, ks := range bulk {
		if o, ok := second[k]; !ok || o.typ != ks.typ || !slices.Equal(o.members, ks.members) || (o.expireAt.Sub(ks.expireAt)).Abs() > time.Second {
			t.Errorf("%s: first Redis %+v, second %+v", k, ks, o)
		}
	}
	if len(bulk) != f.n+4*3+f.n { // sessions, user/sub/email sets of 4 users, one sid set each
		t.Errorf("bulk load wrote %d keys, want %d", len(bulk), f.n+4*3+f.n)
	}
	for k, want := range savedKeys {
		got, ok := bulk[k]
		if !ok {
			t.Errorf("Save wrote %s, the loader did not", k)
			continue
		}
		if got.typ != want.typ || !slices.Equal(got.members, want.members) {
			t.Errorf("%s: loader %+v, Save %+v", k, got, want)
		}
	}
	// Expiries: a session's with the session, an index set's in the second
	// after its longest-lived member's (EXPIRE has whole seconds), for both.
	for what, keys := range map[string]map[string]keyState{"loader": bulk, "Save": savedKeys} {
		for k, ks := range keys {
			lo, hi := f.expires.Add(-50*time.Millisecond), f.expires.Add(50*time.Millisecond)
			if ks.typ == "set" {
				lo, hi = f.expires.Add(-5*time.Millisecond), f.expires.Add(time.Second+50*time.Millisecond)
			}
			if ks.expireAt.Before(lo) || ks.expireAt.After(hi) {
				t.Errorf("%s: %s expires at %v, want within [%v, %v]", what, k, ks.expireAt, lo, hi)
			}
		}
	}
	for k := range bulk {
		if _, ok := savedKeys[k]; !ok {
			t.Errorf("the loader wrote %s, Save did not", k)
		}
	}

	st, err := redisstore.New(redisstore.Options{Addrs: []string{srv.Addr()}, KeyPrefix: "bulk:"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i, id := range ld.ids {
		got, err := st.Load(ctx, id)
		if err != nil {
			t.Fatalf("Load of loaded session %d: %v", i, err)
		}
		want := f.sessionAt(i, id, got.CreatedAt)
		if got.Email != want.Email || got.SID != want.SID || got.IDToken != want.IDToken || got.RefreshToken != want.RefreshToken || !got.ExpiresAt.Equal(want.ExpiresAt) {
			t.Errorf("session %d: got %+v", i, got)
		}
	}
	list, _, err := st.List(ctx, session.Filter{Issuer: "https://idp.example.com", Subject: "user-0000001"}, "", 10)
	if err != nil || len(list) != 3 {
		t.Fatalf("List of user 1: %d sessions, %v; want 3", len(list), err)
	}
	if n, err := st.DeleteMatching(ctx, session.Filter{Issuer: "https://idp.example.com", Subject: "user-0000003"}); err != nil || n != 1 {
		t.Fatalf("DeleteMatching of user 3: %d, %v; want 1", n, err)
	}
	if _, err := st.Load(ctx, ld.ids[9]); err == nil {
		t.Fatal("session 9 still loads after DeleteMatching of its user")
	}
}

// keyState is what the layout comparison looks at in one key.
type keyState struct {
	typ      string
	members  []string
	expireAt time.Time
}

// layout returns every key under prefix (without it) with its state.
func layout(t *testing.T, c *redis.Client, prefix string) map[string]keyState {
	t.Helper()
	ctx := t.Context()
	out := map[string]keyState{}
	keys, err := c.Keys(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		var ks keyState
		ks.typ = c.Type(ctx, k).Val()
		ms, err := c.Do(ctx, "PEXPIRETIME", k).Int64()
		if err != nil {
			t.Fatal(err)
		}
		ks.expireAt = time.UnixMilli(ms)
		if ks.typ == "set" {
			ks.members = c.SMembers(ctx, k).Val()
			slices.Sort(ks.members)
		}
		out[strings.TrimPrefix(k, prefix)] = ks
	}
	return out
}

func TestSpreadPick(t *testing.T) {
	ids := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}
	if got := spreadPick(ids, 5); !slices.Equal(got, []string{"a", "c", "e", "g", "i"}) {
		t.Errorf("spreadPick(10, 5) = %v", got)
	}
	if got := spreadPick(ids, 50); !slices.Equal(got, ids) {
		t.Errorf("spreadPick(10, 50) = %v, want all", got)
	}
}

func TestParseWrk(t *testing.T) {
	out := []byte(`Running 5s test @ http://127.0.0.1:1/authz/forward-auth
  2 threads and 64 connections
  Latency Distribution
     50%    2.10ms
     75%    3.00ms
     90%    4.00ms
     99%   12.50ms
  51234 requests in 5.00s, 9.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:  10246.80
`)
	r, err := parseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.rps != 10246.80 || r.p50 != 2100*time.Microsecond || r.p99 != 12500*time.Microsecond || r.requests != 51234 || r.non2xx != 7 || r.errors != 3 {
		t.Errorf("parseWrk = %+v", r)
	}
	if _, err := parseWrk([]byte("Requests/sec: 5\n")); err == nil {
		t.Error("parseWrk accepted output without a latency distribution")
	}
}
