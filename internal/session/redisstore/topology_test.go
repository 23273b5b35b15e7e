package redisstore

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/sessiontest"
)

// These tests run the shared store suite against a Sentinel deployment and a
// Cluster made of redis-server processes the test starts on loopback.

func TestRedisStoreSentinelSuite(t *testing.T) {
	master := sessiontest.StartRedisServer(t, sessiontest.FreePort(t))
	sentinelPort := sessiontest.FreePort(t)
	conf := filepath.Join(t.TempDir(), "sentinel.conf")
	body := fmt.Sprintf("port %d\nbind 127.0.0.1\nsentinel monitor gh-master 127.0.0.1 %d 1\n", sentinelPort, master.Port())
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	sentinel := sessiontest.StartRedisProcess(t, sentinelPort, conf, "--sentinel")

	sessiontest.RunStoreSuite(t, sessiontest.SuiteOptions{
		NewStore: func(t *testing.T) session.Store {
			st, err := New(Options{
				Addrs: []string{sentinel.Addr()}, MasterName: "gh-master", KeyPrefix: sessiontest.Prefix(t),
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			if _, ok := st.client.(*redis.Client); !ok {
				t.Fatalf("client is %T, want a failover *redis.Client", st.client)
			}
			return st
		},
		Lifetime: 1500 * time.Millisecond,
		Wait:     5 * time.Second,
		Now:      time.Now,
	})
}

func TestRedisStoreClusterSuite(t *testing.T) {
	var addrs []string
	for range 3 {
		addrs = append(addrs, sessiontest.StartClusterNode(t, 2*time.Second).Addr())
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatalf("redis-cli not installed: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	// Wait until every node agrees the cluster is up.
	for _, a := range addrs {
		for {
			out, _ := exec.CommandContext(ctx, cli, "-h", "127.0.0.1", "-p", strings.Split(a, ":")[1], "cluster", "info").Output()
			if strings.Contains(string(out), "cluster_state:ok") {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("cluster node %s not ready: %s", a, out)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	newStore := func(t *testing.T, seeds []string, force bool) *Store {
		st, err := New(Options{Addrs: seeds, Cluster: force, KeyPrefix: sessiontest.Prefix(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		if _, ok := st.client.(*redis.ClusterClient); !ok {
			t.Fatalf("client is %T, want *redis.ClusterClient", st.client)
		}
		return st
	}
	sessiontest.RunStoreSuite(t, sessiontest.SuiteOptions{
		NewStore: func(t *testing.T) session.Store { return newStore(t, addrs, false) },
		Lifetime: 1500 * time.Millisecond,
		Wait:     5 * time.Second,
		Now:      time.Now,
	})

	t.Run("SingleSeed", func(t *testing.T) {
		// One seed address with Cluster set still follows the whole cluster:
		// sessions hashed to every slot range are saved and loaded.
		st := newStore(t, addrs[:1], true)
		c, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		nodes := map[string]bool{}
		cc := st.client.(*redis.ClusterClient)
		for range 30 {
			s := sessiontest.FullSession(t, time.Now(), time.Now().Add(time.Minute))
			if err := st.Save(c, s); err != nil {
				t.Fatal(err)
			}
			if _, err := st.Load(c, s.ID); err != nil {
				t.Fatal(err)
			}
			sk, _ := session.HandleOf(s.ID)
			node, err := cc.MasterForKey(c, st.key(sk))
			if err != nil {
				t.Fatal(err)
			}
			nodes[node.Options().Addr] = true
		}
		if len(nodes) < 2 {
			t.Fatalf("30 sessions landed on %d node(s); hash tag not spreading keys?", len(nodes))
		}
	})

	t.Run("HashTagCoLocates", func(t *testing.T) {
		// The session's other keys (added later) must share its slot.
		st := newStore(t, addrs, false)
		c, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		sk, _ := session.HandleOf(sessiontest.NewID(t))
		cc := st.client.(*redis.ClusterClient)
		a, err := cc.ClusterKeySlot(c, st.key(sk)).Result()
		if err != nil {
			t.Fatal(err)
		}
		b, err := cc.ClusterKeySlot(c, st.prefix+"other:{"+sk+"}:"+strconv.Itoa(7)).Result()
		if err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Fatalf("slots differ: %d vs %d", a, b)
		}
	})
}
