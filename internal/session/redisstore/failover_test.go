package redisstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/sessiontest"
)

// TestRedisSentinelFailover: sessions written before the master dies (and
// replicated, as WAIT confirms) are readable after Sentinel promotes the
// replica; while no master answers, Load fails with a store error (so the
// check path answers 503), never ErrNotFound and never a session.
func TestRedisSentinelFailover(t *testing.T) {
	master := sessiontest.StartRedisServer(t, sessiontest.FreePort(t))
	replica := sessiontest.StartRedisServer(t, sessiontest.FreePort(t), "--replicaof", "127.0.0.1", strconv.Itoa(master.Port()))
	sentinelPort := sessiontest.FreePort(t)
	conf := filepath.Join(t.TempDir(), "sentinel.conf")
	body := fmt.Sprintf("port %d\nbind 127.0.0.1\nsentinel monitor gh-fo 127.0.0.1 %d 1\n"+
		"sentinel down-after-milliseconds gh-fo 1000\nsentinel failover-timeout gh-fo 5000\n",
		sentinelPort, master.Port())
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	sentinel := sessiontest.StartRedisProcess(t, sentinelPort, conf, "--sentinel")

	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	rc := redis.NewClient(&redis.Options{Addr: replica.Addr()})
	defer rc.Close()
	sessiontest.WaitFor(t, 10*time.Second, "replica linked", func() bool {
		info, _ := rc.Info(ctx, "replication").Result()
		return strings.Contains(info, "master_link_status:up")
	})
	sc := redis.NewSentinelClient(&redis.Options{Addr: sentinel.Addr()})
	defer sc.Close()
	sessiontest.WaitFor(t, 10*time.Second, "sentinel sees the replica", func() bool {
		r, _ := sc.Replicas(ctx, "gh-fo").Result()
		return len(r) == 1
	})

	st, err := New(Options{
		Addrs: []string{sentinel.Addr()}, MasterName: "gh-fo", KeyPrefix: sessiontest.Prefix(t),
		DialTimeout: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var saved []*session.Session
	for i := range 20 {
		s := sessiontest.FullSession(t, time.Now(), time.Now().Add(time.Hour))
		s.Subject = "user-" + strconv.Itoa(i%4)
		if err := st.Save(ctx, s); err != nil {
			t.Fatal(err)
		}
		saved = append(saved, s)
	}
	mc := redis.NewClient(&redis.Options{Addr: master.Addr()})
	n, err := mc.Wait(ctx, 1, 5*time.Second).Result()
	_ = mc.Close()
	if err != nil || n < 1 {
		t.Fatalf("WAIT 1: %d replicas, %v", n, err)
	}

	master.Stop()
	call := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 300*time.Millisecond) }
	sawStoreError := false
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, cancel := call()
		got, err := st.Load(c, saved[0].ID)
		cancel()
		if errors.Is(err, session.ErrNotFound) {
			t.Fatalf("Load during failover = session.ErrNotFound; the check path would send the user to log in")
		}
		if err == nil {
			sessiontest.SameSession(t, got, saved[0])
			break
		}
		sawStoreError = true
		if time.Now().After(deadline) {
			t.Fatalf("no failover within 30s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !sawStoreError {
		t.Fatal("Load never failed while no master was up; did the test kill the master?")
	}
	if addr, err := sc.GetMasterAddrByName(ctx, "gh-fo").Result(); err != nil || addr[1] != strconv.Itoa(replica.Port()) {
		t.Fatalf("sentinel master = %v, %v; want the replica on %d", addr, err, replica.Port())
	}
	for _, s := range saved {
		got, err := st.Load(ctx, s.ID)
		if err != nil {
			t.Fatalf("session lost in failover: %v", err)
		}
		sessiontest.SameSession(t, got, s)
	}
	// Indexes were replicated too, and the new master takes writes.
	if list, _, err := st.List(ctx, session.Filter{Issuer: saved[0].Issuer, Subject: "user-0"}, "", 100); err != nil || len(list) != 5 {
		t.Fatalf("List after failover: %d, %v; want 5", len(list), err)
	}
	if n, err := st.DeleteMatching(ctx, session.Filter{Issuer: saved[0].Issuer, Subject: "user-1"}); err != nil || n != 5 {
		t.Fatalf("DeleteMatching after failover: %d, %v; want 5", n, err)
	}
}
