//go:build e2e

package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/cookie"
)

// The failover tests run two gatehouse replicas (A without a local cache,
// B with the fault test's short-TTL cache) on a replicated Redis under the
// fault test's load of forward-auth checks with valid session cookies,
// kill a Redis master with SIGKILL, and let Redis promote a replica:
//
//   - TestFailoverSentinel: one master, one replica, three Sentinels
//     (quorum 2); gatehouse is configured with the Sentinels and the
//     master set name.
//   - TestFailoverCluster: a Cluster of three masters, each with a
//     replica; gatehouse is configured with the six nodes as seeds. The
//     master holding a session is killed.
//
// Every answer is judged as TestFaults judges it: only 200 or 503 (a 302
// or 401 would send a signed-in user to log in again), a 200 only with
// alice's identity, no transport error, and, for a session whose master is
// dead, no 200 from a check that began after the kill (past replica B's
// cache TTL) and ended before a replica was promoted. Service must resume
// by itself; the times from the kill to the promotion and to each
// replica's first 200 are logged.

// failoverDownAfter is how quickly the test's Redis declares a master dead.
const failoverDownAfter = time.Second

// failoverCase is what a topology gives the shared part of the test.
type failoverCase struct {
	// redisYAML replaces the redis addrs line of the configuration.
	redisYAML string
	// replicated waits until every replica holds every write so far.
	replicated func(ctx context.Context) error
	// victim returns the master to kill, the sessions (by cookie index)
	// whose keys it holds, and a func that reports once a replica of it
	// has taken over.
	victim func(ctx context.Context, keyPrefix string, ids []string) (kill func() error, held map[int]bool, promoted func(context.Context) bool, err error)
}

// TestFailoverSentinel: the master is SIGKILLed and Sentinel promotes the
// replica while both gatehouse replicas answer checks.
func TestFailoverSentinel(t *testing.T) {
	s := newSuite(t)
	ctx := t.Context()
	bin := redisServerBin(t)
	dir := filepath.Join(s.dir, "sentinel")
	master := startRedisNode(t, bin, dir, "master")
	replica := startRedisNode(t, bin, dir, "replica", "--replicaof", "127.0.0.1", strconv.Itoa(master.port))
	const set = "gh-failover"
	var sentinels []string
	for i := range 3 {
		port := freePort(t)
		conf := filepath.Join(dir, fmt.Sprintf("sentinel-%d.conf", i))
		body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor %s 127.0.0.1 %d 2\n"+
			"sentinel down-after-milliseconds %s %d\nsentinel failover-timeout %s 10000\n",
			port, dir, set, master.port, set, failoverDownAfter.Milliseconds(), set)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		p, err := startProc(dir, fmt.Sprintf("sentinel-%d", i), nil, bin, conf, "--sentinel")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.stop)
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		if err := p.waitReady(ctx, "port", tcpUp(addr)); err != nil {
			t.Fatal(err)
		}
		sentinels = append(sentinels, addr)
	}
	waitLinked(t, replica.addr())
	sc := redis.NewSentinelClient(&redis.Options{Addr: sentinels[0]})
	defer sc.Close()
	waitFor(t, 15*time.Second, "every Sentinel sees the replica and the others", func() bool {
		for _, a := range sentinels {
			c := redis.NewSentinelClient(&redis.Options{Addr: a})
			r, _ := c.Replicas(ctx, set).Result()
			m, _ := c.Master(ctx, set).Result()
			c.Close()
			if len(r) != 1 || m["num-other-sentinels"] != "2" {
				return false
			}
		}
		return true
	})

	runFailover(t, s, failoverCase{
		redisYAML: fmt.Sprintf("addrs: [%s]\n  master_name: %q", quoteAll(sentinels), set),
		replicated: func(ctx context.Context) error {
			return waitReplicated(ctx, master.addr(), []string{replica.addr()})
		},
		victim: func(ctx context.Context, _ string, ids []string) (func() error, map[int]bool, func(context.Context) bool, error) {
			held := map[int]bool{}
			for i := range ids {
				held[i] = true // one master holds everything
			}
			promoted := func(ctx context.Context) bool {
				a, err := sc.GetMasterAddrByName(ctx, set).Result()
				return err == nil && a[1] == strconv.Itoa(replica.port)
			}
			return master.kill, held, promoted, nil
		},
	})
}

// TestFailoverCluster: the Cluster master holding a session is SIGKILLed
// and its replica takes over while both gatehouse replicas answer checks.
func TestFailoverCluster(t *testing.T) {
	s := newSuite(t)
	ctx := t.Context()
	bin := redisServerBin(t)
	dir := filepath.Join(s.dir, "cluster")
	var nodes []*redisNode
	var addrs []string
	for i := range 6 {
		name := fmt.Sprintf("node-%d", i)
		// The cluster bus gets a port of its own (Redis's default,
		// port+10000, may be taken or past 65535).
		n := startRedisNode(t, bin, dir, name, "--cluster-enabled", "yes", "--cluster-port", strconv.Itoa(freePort(t)),
			"--cluster-config-file", filepath.Join(dir, name, "nodes.conf"),
			"--cluster-node-timeout", strconv.Itoa(int(failoverDownAfter.Milliseconds())))
		nodes = append(nodes, n)
		addrs = append(addrs, n.addr())
	}
	cli, err := lookTool("GATEHOUSE_E2E_REDIS_CLI", "redis-cli", "/usr/bin/redis-cli")
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.CommandContext(cctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	// Wait until every node agrees the cluster is up and every replica
	// has synchronized with its master.
	waitFor(t, 20*time.Second, "cluster_state:ok on every node", func() bool {
		for _, a := range addrs {
			c := redis.NewClient(&redis.Options{Addr: a})
			info, _ := c.ClusterInfo(ctx).Result()
			c.Close()
			if !strings.Contains(info, "cluster_state:ok") {
				return false
			}
		}
		return true
	})
	topo := func(ctx context.Context) (map[string][]string, error) { return clusterTopology(ctx, addrs[0]) }
	waitFor(t, 20*time.Second, "a linked replica for every master", func() bool {
		m, err := topo(ctx)
		if err != nil || len(m) != 3 {
			return false
		}
		for _, reps := range m {
			if len(reps) != 1 {
				return false
			}
			c := redis.NewClient(&redis.Options{Addr: reps[0]})
			info, _ := c.Info(ctx, "replication").Result()
			c.Close()
			if !strings.Contains(info, "master_link_status:up") {
				return false
			}
		}
		return true
	})
	byAddr := map[string]*redisNode{}
	for _, n := range nodes {
		byAddr[n.addr()] = n
	}

	var masters map[string][]string
	runFailover(t, s, failoverCase{
		redisYAML: fmt.Sprintf("addrs: [%s]", quoteAll(addrs)),
		replicated: func(ctx context.Context) error {
			m, err := topo(ctx)
			if err != nil {
				return err
			}
			masters = m
			for master, reps := range m {
				if err := waitReplicated(ctx, master, reps); err != nil {
					return err
				}
			}
			return nil
		},
		victim: func(ctx context.Context, keyPrefix string, ids []string) (func() error, map[int]bool, func(context.Context) bool, error) {
			// The master that holds session 0's key is killed; the other
			// sessions may live on it too.
			owner := map[int]string{}
			for master := range masters {
				c := redis.NewClient(&redis.Options{Addr: master})
				for i, h := range ids {
					if n, err := c.Exists(ctx, keyPrefix+"session:{"+h+"}").Result(); err == nil && n == 1 {
						owner[i] = master
					}
				}
				c.Close()
			}
			if len(owner) != len(ids) {
				return nil, nil, nil, fmt.Errorf("found the masters of %d of %d sessions", len(owner), len(ids))
			}
			victim := owner[0]
			held := map[int]bool{}
			for i, m := range owner {
				held[i] = m == victim
			}
			heir := masters[victim][0]
			hc := redis.NewClient(&redis.Options{Addr: heir})
			t.Cleanup(func() { hc.Close() })
			promoted := func(ctx context.Context) bool {
				info, err := hc.Info(ctx, "replication").Result()
				if err != nil || !strings.Contains(info, "role:master") {
					return false
				}
				ci, err := hc.ClusterInfo(ctx).Result()
				return err == nil && strings.Contains(ci, "cluster_state:ok")
			}
			return byAddr[victim].kill, held, promoted, nil
		},
	})
}

// runFailover is the part both topologies share: replicas, logins, load,
// the kill, and the judgement.
func runFailover(t *testing.T, s *suite, fc failoverCase) {
	ctx := t.Context()
	ps := s.setups["nginx"]
	addrA := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	addrB := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	ps.GatehouseAddr, ps.AppAddr = addrA, s.echoAddr
	const placeholder = "failover-redis-placeholder:1"
	keyPrefix := "gatehouse-e2e-failover:"
	base := gatehouseConfig{
		Issuer: s.op.issuer, RedirectURL: ps.origin() + "/oauth2/callback",
		CookieKey: newCookieKey(), RedisAddr: placeholder, KeyPrefix: keyPrefix, LogLevel: "info",
	}
	replicas := []struct {
		name, addr, session string
		ttl                 time.Duration
	}{
		{"gatehouse-a", addrA, fmt.Sprintf("  timeout: %s\n  cache_size: 0\n", faultStoreTimeout), 0},
		{"gatehouse-b", addrB, fmt.Sprintf("  timeout: %s\n  cache_ttl: %s\n", faultStoreTimeout, faultCacheTTL), faultCacheTTL + faultClockSlack},
	}
	var procs []*proc
	for _, r := range replicas {
		c := base
		c.Addr, c.Session = r.addr, r.session
		yaml := c.yaml()
		line := fmt.Sprintf("addrs: [%q]", placeholder)
		if !strings.Contains(yaml, line) {
			t.Fatalf("the configuration has no %q line to replace:\n%s", line, yaml)
		}
		yaml = strings.Replace(yaml, line, fc.redisYAML, 1)
		p, err := startGatehouseYAML(ctx, ps.Dir, r.name, s.tools["gatehouse"], r.addr, yaml)
		if err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		t.Cleanup(p.stop)
		procs = append(procs, p)
	}
	px, err := startNginx(ctx, ps, s.tools["nginx"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(px.stop)
	procs = append(procs, px)
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range procs {
				t.Logf("---- %s log (tail) ----\n%s", p.name, p.tail(3000))
			}
		}
	})
	if err := s.waitRoute(ctx, px, ps); err != nil {
		t.Fatal(err)
	}

	// Three sessions of alice from real logins through nginx, and their
	// handles (the hash of the ID, which names the Redis key), to find
	// where they live.
	cookies := aliceSessions(ctx, t, ps, 3, "failover-login")
	var handles []string
	for _, c := range cookies {
		handles = append(handles, sessionHandle(t, base.CookieKey, c))
	}
	rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := fc.replicated(rctx); err != nil {
		t.Fatalf("sessions not replicated: %v", err)
	}
	kill, held, promoted, err := fc.victim(ctx, keyPrefix, handles)
	if err != nil {
		t.Fatal(err)
	}

	tl := &timeline{}
	ld := startLoad(ps, []string{addrA, addrB}, cookies, 3)
	stopped := false
	defer func() {
		if !stopped {
			ld.stop()
		}
	}()
	sleepCtx(ctx, time.Second)

	tl.mark("master SIGKILL")
	killedAt := time.Now()
	if err := kill(); err != nil {
		t.Fatal(err)
	}
	var promotedAt time.Time
	for deadline := killedAt.Add(30 * time.Second); promotedAt.IsZero(); {
		pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		if promoted(pctx) {
			promotedAt = time.Now()
		}
		cancel()
		if promotedAt.IsZero() && time.Now().After(deadline) {
			t.Fatal("no replica was promoted within 30s of the kill")
		}
		sleepCtx(ctx, 10*time.Millisecond)
	}
	tl.mark("replica promoted")
	ttl := []time.Duration{replicas[0].ttl, replicas[1].ttl}
	resumed := waitSessionsResumed(ctx, ld, killedAt, ttl, len(cookies), 20*time.Second)
	sleepCtx(ctx, 1500*time.Millisecond)
	ld.stop()
	stopped = true
	tl.mark("end")

	// The promotion is seen by polling every 10 ms, and a client may
	// learn of it a little before the test does.
	const promotionSlack = 100 * time.Millisecond
	var wrong []string
	outage503 := map[int]int{}
	for _, sm := range ld.samples {
		why := ""
		dead := held[sm.session] && !sm.start.Before(killedAt.Add(ttl[sm.replica])) && sm.end.Before(promotedAt.Add(-promotionSlack))
		switch {
		case sm.status == 0:
			why = "transport error from a live replica: " + sm.err
		case sm.status != http.StatusOK && sm.status != http.StatusServiceUnavailable:
			why = fmt.Sprintf("status %d (location %q)", sm.status, sm.location)
		case sm.status == http.StatusOK && sm.email != userAlice.Email:
			why = fmt.Sprintf("200 with identity %q", sm.email)
		case sm.status == http.StatusOK && dead:
			why = "200 while the session's master was dead and not yet replaced"
		}
		if dead && sm.status == http.StatusServiceUnavailable {
			outage503[sm.replica]++
		}
		if why != "" {
			wrong = append(wrong, fmt.Sprintf("replica %c session %d at +%v..+%v: %s",
				'A'+sm.replica, sm.session, sm.start.Sub(ld.began).Round(time.Millisecond), sm.end.Sub(ld.began).Round(time.Millisecond), why))
		}
	}
	t.Logf("timeline: %s", tl.String(ld.began))
	t.Logf("answers by phase (phase starts at the check's start; err = transport error):\n%s", ld.table(tl))
	t.Logf("sessions on the killed master: %v; promotion %v after the kill", held, promotedAt.Sub(killedAt).Round(time.Millisecond))
	for i, r := range resumed {
		t.Logf("session %d (on the killed master: %v): first 200 after the kill, not from a cache: replica A %v, replica B %v", i, held[i], r[0], r[1])
	}
	t.Logf("requests: %d; wrong answers: %d", len(ld.samples), len(wrong))
	for i, w := range wrong {
		if i == 20 {
			t.Errorf("... and %d more wrong answers", len(wrong)-20)
			break
		}
		t.Errorf("wrong answer: %s", w)
	}
	// The test must have tested something: replica A, which has no
	// cache, answered 503 for a session while its master was dead.
	if outage503[0] == 0 {
		t.Errorf("replica A: no 503 for a session on the dead master before the promotion: the outage was not observed")
	}
	for i, r := range resumed {
		for rep, d := range r {
			if d < 0 {
				t.Errorf("session %d: replica %c did not answer 200 within 20s of the kill", i, 'A'+rep)
			} else if held[i] && killedAt.Add(d).Before(promotedAt.Add(-promotionSlack)) {
				t.Errorf("session %d: replica %c answered 200 %v after the kill (past its cache TTL), before the promotion", i, 'A'+rep, d)
			}
		}
	}
}

// sessionHandle opens the session cookie in a Cookie header with the
// replicas' cookie key and returns the session's handle.
func sessionHandle(t *testing.T, key, header string) string {
	t.Helper()
	k, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		t.Fatal(err)
	}
	codec, err := cookie.NewCodec([][]byte{k}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := cookie.NewSettings("_gatehouse", "", true)
	if err != nil {
		t.Fatal(err)
	}
	id, ok, err := codec.OpenSessionCookie(header, cs.Name)
	if err != nil || !ok {
		t.Fatalf("no session cookie %s in %q: %v", cs.Name, header, err)
	}
	h, err := session.HandleOf(id)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// waitSessionsResumed waits until every session has been answered 200 by
// both replicas in a check that began after since plus the replica's cache
// TTL (so not from its cache), and returns, per session and replica, how
// long after since that check ended (-1 if not within limit).
func waitSessionsResumed(ctx context.Context, l *load, since time.Time, ttl []time.Duration, sessions int, limit time.Duration) [][2]time.Duration {
	out := make([][2]time.Duration, sessions)
	for deadline := since.Add(limit); ; {
		done := true
		l.mu.Lock()
		for i := range out {
			out[i] = [2]time.Duration{-1, -1}
		}
		for _, sm := range l.samples {
			if sm.status == http.StatusOK && !sm.start.Before(since.Add(ttl[sm.replica])) {
				d := sm.end.Sub(since).Round(time.Millisecond)
				if cur := out[sm.session][sm.replica]; cur < 0 || d < cur {
					out[sm.session][sm.replica] = d
				}
			}
		}
		l.mu.Unlock()
		for _, r := range out {
			if r[0] < 0 || r[1] < 0 {
				done = false
			}
		}
		if done || time.Now().After(deadline) || ctx.Err() != nil {
			return out
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// redisNode is a redis-server of a failover test, without persistence.
type redisNode struct {
	p    *proc
	port int
}

func (n *redisNode) addr() string { return fmt.Sprintf("127.0.0.1:%d", n.port) }

// kill ends the node with SIGKILL and returns once it has exited.
func (n *redisNode) kill() error {
	if err := n.p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("redis SIGKILL: %w", err)
	}
	<-n.p.done
	return nil
}

func redisServerBin(t *testing.T) string {
	t.Helper()
	bin, err := lookTool("GATEHOUSE_E2E_REDIS_SERVER", "redis-server", "/usr/sbin/redis-server", "/usr/bin/redis-server")
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// startRedisNode runs redis-server on a free loopback port with its own
// folder under dir and waits until it answers PING.
func startRedisNode(t *testing.T, bin, dir, name string, extra ...string) *redisNode {
	t.Helper()
	nd := filepath.Join(dir, name)
	if err := os.MkdirAll(nd, 0o700); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	args := append([]string{bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", nd}, extra...)
	p, err := startProc(dir, name, nil, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	n := &redisNode{p: p, port: port}
	c := redis.NewClient(&redis.Options{Addr: n.addr(), DialTimeout: time.Second, MaxRetries: -1})
	defer c.Close()
	if err := p.waitReady(t.Context(), "PING", func(ctx context.Context) error { return c.Ping(ctx).Err() }); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitLinked waits until the replica at addr has synchronized with its master.
func waitLinked(t *testing.T, addr string) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	waitFor(t, 15*time.Second, "replica "+addr+" linked", func() bool {
		info, _ := c.Info(t.Context(), "replication").Result()
		return strings.Contains(info, "master_link_status:up")
	})
}

// waitReplicated waits until every replica of master has acknowledged the
// master's replication offset as it is now, so every write so far.
func waitReplicated(ctx context.Context, master string, replicas []string) error {
	mc := redis.NewClient(&redis.Options{Addr: master})
	defer mc.Close()
	offset, err := infoInt(ctx, mc, "master_repl_offset")
	if err != nil {
		return err
	}
	for _, r := range replicas {
		rc := redis.NewClient(&redis.Options{Addr: r})
		for {
			got, err := infoInt(ctx, rc, "slave_repl_offset")
			if err == nil && got >= offset {
				break
			}
			if ctx.Err() != nil {
				rc.Close()
				return fmt.Errorf("replica %s at offset %d, master %s at %d: %w", r, got, master, offset, ctx.Err())
			}
			time.Sleep(10 * time.Millisecond)
		}
		rc.Close()
	}
	return nil
}

// infoInt reads an integer field of INFO replication.
func infoInt(ctx context.Context, c *redis.Client, field string) (int64, error) {
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

// clusterTopology maps each master's address to its replicas' addresses,
// from CLUSTER NODES as the node at addr sees it.
func clusterTopology(ctx context.Context, addr string) (map[string][]string, error) {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	out, err := c.ClusterNodes(ctx).Result()
	if err != nil {
		return nil, err
	}
	ids := map[string]string{} // node ID → address
	type line struct{ id, addr, flags, master string }
	var lines []line
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(l)
		if len(f) < 8 {
			continue
		}
		a, _, _ := strings.Cut(f[1], "@")
		lines = append(lines, line{f[0], a, f[2], f[3]})
		ids[f[0]] = a
	}
	m := map[string][]string{}
	for _, l := range lines {
		if strings.Contains(l.flags, "fail") {
			continue
		}
		if strings.Contains(l.flags, "master") {
			if _, ok := m[l.addr]; !ok {
				m[l.addr] = nil
			}
		} else if strings.Contains(l.flags, "slave") {
			m[ids[l.master]] = append(m[ids[l.master]], l.addr)
		}
	}
	return m, nil
}

// startGatehouseYAML runs `gatehouse serve` on a configuration given as
// text, waiting for /readyz.
func startGatehouseYAML(ctx context.Context, dir, name, bin, addr, yaml string) (*proc, error) {
	path := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		return nil, err
	}
	p, err := startProc(dir, name, nil, bin, "serve", "--config", path)
	if err != nil {
		return nil, err
	}
	if err := p.waitReady(ctx, "/readyz", httpOK("http://"+addr+"/readyz")); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// waitFor polls cond every 50 ms until it holds, failing t after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
	}
}

func quoteAll(addrs []string) string {
	q := make([]string, len(addrs))
	for i, a := range addrs {
		q[i] = strconv.Quote(a)
	}
	return strings.Join(q, ", ")
}
