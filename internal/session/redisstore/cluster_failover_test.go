package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/sessiontest"
)

// TestRedisClusterFailover: a Cluster of three masters, each with a
// replica. When the master holding a session is killed and its replica
// takes over, Load finds the session again within seconds of the
// promotion (go-redis alone would keep dialling the dead master until its
// minute-long slot map reload), and while no node serves the slot, Load
// fails with a store error, never ErrNotFound.
func TestRedisClusterFailover(t *testing.T) {
	var nodes []*sessiontest.RedisServer
	var addrs []string
	for range 6 {
		srv := sessiontest.StartClusterNode(t, time.Second)
		nodes = append(nodes, srv)
		addrs = append(addrs, srv.Addr())
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	clients := map[string]*redis.Client{}
	for _, a := range addrs {
		c := redis.NewClient(&redis.Options{Addr: a, DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
		defer c.Close()
		clients[a] = c
	}
	// Every node up, every replica synchronized.
	sessiontest.WaitFor(t, 20*time.Second, "cluster up with a linked replica per master", func() bool {
		linked := 0
		for _, c := range clients {
			ci, _ := c.ClusterInfo(ctx).Result()
			ri, _ := c.Info(ctx, "replication").Result()
			if !strings.Contains(ci, "cluster_state:ok") {
				return false
			}
			if strings.Contains(ri, "master_link_status:up") {
				linked++
			}
		}
		return linked == 3
	})

	st, err := New(Options{Addrs: addrs, KeyPrefix: sessiontest.Prefix(t), DialTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cc := st.client.(*redis.ClusterClient)
	var saved []*session.Session
	for range 12 {
		s := sessiontest.FullSession(t, time.Now(), time.Now().Add(time.Hour))
		if err := st.Save(ctx, s); err != nil {
			t.Fatal(err)
		}
		saved = append(saved, s)
	}
	h0, _ := session.HandleOf(saved[0].ID)
	node, err := cc.MasterForKey(ctx, st.key(h0))
	if err != nil {
		t.Fatal(err)
	}
	victim := node.Options().Addr
	// The victim's replica holds every write the victim took.
	offset, err := replOffset(ctx, clients[victim], "master_repl_offset")
	if err != nil {
		t.Fatal(err)
	}
	var heir string
	for a, c := range clients {
		ri, _ := c.Info(ctx, "replication").Result()
		if strings.Contains(ri, "master_port:"+strings.Split(victim, ":")[1]+"\r\n") {
			heir = a
		}
	}
	if heir == "" {
		t.Fatalf("no replica of %s", victim)
	}
	sessiontest.WaitFor(t, 5*time.Second, "replica caught up", func() bool {
		n, err := replOffset(ctx, clients[heir], "slave_repl_offset")
		return err == nil && n >= offset
	})

	for _, n := range nodes {
		if n.Addr() == victim {
			n.Stop()
		}
	}
	killed := time.Now()
	var promoted time.Time
	sawStoreError := false
	for {
		if promoted.IsZero() {
			if ri, _ := clients[heir].Info(ctx, "replication").Result(); strings.Contains(ri, "role:master") {
				promoted = time.Now()
			}
		}
		c, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		got, err := st.Load(c, saved[0].ID)
		cancel()
		if errors.Is(err, session.ErrNotFound) {
			t.Fatal("Load during failover = session.ErrNotFound; the check path would send the user to log in")
		}
		if err == nil {
			sessiontest.SameSession(t, got, saved[0])
			break
		}
		sawStoreError = true
		// go-redis reloads its slot map every minute by itself; the hook
		// must do it well before.
		if !promoted.IsZero() && time.Since(promoted) > 10*time.Second {
			t.Fatalf("Load still fails %v after the replica was promoted: %v", time.Since(promoted).Round(time.Millisecond), err)
		}
		if time.Since(killed) > 40*time.Second {
			t.Fatalf("no promotion within 40s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !sawStoreError {
		t.Fatal("Load never failed after the master was killed; did the test kill the right node?")
	}
	t.Logf("promoted %v after the kill; the session loads again %v after the promotion",
		promoted.Sub(killed).Round(time.Millisecond), time.Since(promoted).Round(time.Millisecond))
	for _, s := range saved {
		got, err := st.Load(ctx, s.ID)
		if err != nil {
			t.Fatalf("session lost in failover: %v", err)
		}
		sessiontest.SameSession(t, got, s)
	}
}

func replOffset(ctx context.Context, c *redis.Client, field string) (int64, error) {
	info, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in INFO replication", field)
}

// TestNoReply: only errors without a reply from Redis trigger a reload.
func TestNoReply(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{redis.Nil, false},
		{context.Canceled, false},
		{redis.ErrClosed, false},
		{fmt.Errorf("load: %w", dial), true},
		{context.DeadlineExceeded, true},
		{io.EOF, true},
		{io.ErrUnexpectedEOF, true},
	} {
		if got := noReply(tc.err); got != tc.want {
			t.Errorf("noReply(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	// A reply from Redis, e.g. CLUSTERDOWN during the election.
	srv := sessiontest.StartRedisServer(t, sessiontest.FreePort(t))
	c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer c.Close()
	err := c.Do(t.Context(), "NO-SUCH-COMMAND").Err()
	if err == nil || noReply(err) {
		t.Errorf("noReply(%v) = true for a Redis error reply", err)
	}
}
