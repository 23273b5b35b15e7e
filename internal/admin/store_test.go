package admin_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc/codes"

	adminv1 "github.com/gatehouse/gatehouse/gen/gatehouse/admin/v1"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/memstore"
	"github.com/gatehouse/gatehouse/internal/session/redisstore"
)

// TestRealStores runs the admin API over the real memory and Redis stores:
// sessions saved by ID are listed, fetched and revoked by handle, and a
// revoked session no longer loads by its ID.
func TestRealStores(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		st := memstore.New(memstore.Options{})
		t.Cleanup(func() { st.Close() })
		runRealStore(t, st)
	})
	t.Run("redis", func(t *testing.T) {
		runRealStore(t, newRedisStore(t))
	})
}

func newRedisStore(t *testing.T) *redisstore.Store {
	t.Helper()
	addr := os.Getenv("GATEHOUSE_TEST_REDIS")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	b := make([]byte, 6)
	rand.Read(b)
	prefix := "gatehouse-test-admin:" + hex.EncodeToString(b) + ":"
	st, err := redisstore.New(redisstore.Options{Addrs: []string{addr}, KeyPrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := st.Ping(c); err != nil {
		st.Close()
		t.Fatalf("Redis at %s unreachable (set GATEHOUSE_TEST_REDIS): %v", addr, err)
	}
	t.Cleanup(func() {
		st.Close()
		rc := redis.NewClient(&redis.Options{Addr: addr})
		defer rc.Close()
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := rc.Scan(c, 0, prefix+"*", 100).Iterator()
		for iter.Next(c) {
			if err := rc.Del(c, iter.Val()).Err(); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
		if err := iter.Err(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return st
}

func runRealStore(t *testing.T, st session.Manager) {
	c, _ := tokenServer(t, st)
	now := time.Now()
	save := func(iss, sub, email string) string {
		id, err := session.NewID()
		if err != nil {
			t.Fatal(err)
		}
		s := &session.Session{ID: id, Issuer: iss, Subject: sub, Email: email, User: sub,
			IDToken: "secret-id-token", RefreshToken: "secret-refresh-token",
			CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := st.Save(ctx(t), s); err != nil {
			t.Fatal(err)
		}
		return id
	}
	aliceIDs := []string{save("https://idp", "alice", "alice@example.com"), save("https://idp", "alice", "alice@example.com"),
		save("https://idp", "alice", "alice@example.com")}
	bobID := save("https://idp", "bob", "bob@example.com")

	var handles []string
	token := ""
	for range 5 {
		resp, err := c.ListSessions(ctx(t), &adminv1.ListSessionsRequest{Email: "alice@example.com", PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range resp.Sessions {
			if s.Subject != "alice" || len(s.Handle) != 64 {
				t.Fatalf("listed %v", s)
			}
			handles = append(handles, s.Handle)
		}
		if token = resp.NextPageToken; token == "" {
			break
		}
	}
	if len(handles) != 3 {
		t.Fatalf("listed %d of alice's sessions, want 3", len(handles))
	}
	got, err := c.GetSession(ctx(t), &adminv1.GetSessionRequest{Handle: handles[0]})
	if err != nil || got.Session.Email != "alice@example.com" || got.Session.ExpiresAt.AsTime().Sub(now.Add(time.Hour)).Abs() > time.Second {
		t.Fatalf("get: %v, %v", got, err)
	}

	// Revoke one by handle: exactly one of alice's IDs stops loading.
	if _, err := c.RevokeSession(ctx(t), &adminv1.RevokeSessionRequest{Handle: handles[0]}); err != nil {
		t.Fatal(err)
	}
	gone := 0
	for _, id := range aliceIDs {
		if _, err := st.Load(ctx(t), id); errors.Is(err, session.ErrNotFound) {
			gone++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if gone != 1 {
		t.Fatalf("%d of alice's sessions gone after revoking one", gone)
	}
	_, err = c.RevokeSession(ctx(t), &adminv1.RevokeSessionRequest{Handle: handles[0]})
	wantCode(t, err, codes.NotFound)

	// Revoke the user by email: the other two end, bob's stays.
	resp, err := c.RevokeUserSessions(ctx(t), &adminv1.RevokeUserSessionsRequest{Email: "alice@example.com"})
	if err != nil || resp.RevokedCount != 2 {
		t.Fatalf("revoke user: %v, %v", resp, err)
	}
	for _, id := range aliceIDs {
		if _, err := st.Load(ctx(t), id); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("alice's session still loads: %v", err)
		}
	}
	if s, err := st.Load(ctx(t), bobID); err != nil || s.Subject != "bob" {
		t.Fatalf("bob's session: %v, %v", s, err)
	}
}
