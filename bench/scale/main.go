// Command scale measures gatehouse with a million sessions in Redis.
//
// It starts its own redis-servers on loopback ports (never the shared
// 6379): a standalone server holding -small sessions, one holding -n, and a
// Cluster of three masters (redis-cli --cluster create) holding -n too. The
// sessions are written pipelined in the real layout (record.Encode and
// redisstore's keys and index sets). Then, against `gatehouse serve` built
// from this checkout, it runs wrk in interleaved rounds and reports:
//
//   - the authenticated check's throughput and p99 with -n sessions
//     against -small, with the local cache off (every check reads Redis;
//     the checks spread over -spread sessions of the large set, or over
//     -small of them, as many as the small set has) and with the default
//     cache (the checks spread over -active sessions in both);
//
//   - Cluster against standalone, cache off, both holding -n sessions;
//
//   - revocation-to-denial latency across -replicas replicas (p50, p99),
//     with -small and with -n sessions in Redis;
//
//   - memory per session: the memory store and the local cache (growth of
//     the live Go heap after GC, runtime.MemStats.HeapAlloc, over -mem-n
//     sessions) and Redis (used_memory growth over the load).
//
//     go run ./bench/scale                   # the full run, about 7 minutes
//     go run ./bench/scale -n 100000 -d 2s   # a quick one
//
// Needs redis-server, redis-cli and wrk. Everything it starts is killed
// when it ends.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/session/cookie"
	"github.com/gatehouse/gatehouse/internal/session/redisstore"
)

// config is the command line.
type config struct {
	n, small, perUser, tokenBytes int
	spread, active                int
	dur                           time.Duration
	conns, threads, rounds        int
	revocations, replicas, memN   int
	cluster                       bool
	keep, bin                     string
	limit                         time.Duration
}

func main() {
	var c config
	flag.IntVar(&c.n, "n", 1_000_000, "sessions in the large data sets")
	flag.IntVar(&c.small, "small", 1_000, "sessions in the small data set")
	flag.IntVar(&c.perUser, "per-user", 4, "sessions per user")
	flag.IntVar(&c.tokenBytes, "token-bytes", 900, "size of each session's ID token (the access token is a quarter of it, the refresh token 64 bytes)")
	flag.IntVar(&c.spread, "spread", 50_000, "cache off: checks pick a random session among this many of the large set (all of the small set)")
	flag.IntVar(&c.active, "active", 1_000, "default cache: checks pick a random session among this many, in both sets")
	flag.DurationVar(&c.dur, "d", 5*time.Second, "duration of each wrk run")
	flag.IntVar(&c.conns, "c", 64, "wrk connections")
	flag.IntVar(&c.threads, "t", 2, "wrk threads")
	flag.IntVar(&c.rounds, "rounds", 5, "interleaved rounds over every target")
	flag.IntVar(&c.revocations, "revocations", 200, "revocations measured per data set")
	flag.IntVar(&c.replicas, "replicas", 3, "replicas in the revocation measurement")
	flag.IntVar(&c.memN, "mem-n", 100_000, "sessions in the memory measurements")
	flag.BoolVar(&c.cluster, "cluster", true, "also measure a Redis Cluster of three masters")
	flag.StringVar(&c.keep, "keep", "", "keep configurations and logs in this directory")
	flag.StringVar(&c.bin, "gatehouse", "", "a gatehouse binary to measure (default: built from this checkout)")
	flag.DurationVar(&c.limit, "limit", 15*time.Minute, "give up after this long")
	flag.Parse()
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

// target is one gatehouse serve wrk measures.
type target struct {
	name, url, cookies string
	runs               []wrkResult
}

func run(c config) error {
	if c.small <= 0 || c.n < c.small || c.spread <= 0 || c.active <= 0 || c.active > c.small || c.memN <= 0 || c.memN > c.n || c.rounds <= 0 {
		return errors.New("need 0 < -active <= -small <= -n, -spread > 0, 0 < -mem-n <= -n, -rounds > 0")
	}
	for _, tool := range []string{"redis-server", "redis-cli", "wrk"} {
		if _, err := lookPath(tool); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.limit)
	defer cancel()
	dir := c.keep
	if dir == "" {
		d, err := os.MkdirTemp("", "gatehouse-scale-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ps := &procs{dir: dir}
	defer ps.stopAll()

	fmt.Printf("scale: %d and %d sessions (%d per user, ID token %d bytes), wrk -t%d -c%d, %v per run, %d rounds\n",
		c.small, c.n, c.perUser, c.tokenBytes, c.threads, c.conns, c.dur, c.rounds)
	bin := c.bin
	var err error
	if bin == "" {
		if bin, err = buildGatehouse(ctx, dir); err != nil {
			return err
		}
	}
	const prefix = "gatehouse-scale:"
	exp := time.Now().Add(24 * time.Hour)
	tok := token(c.tokenBytes)

	// The data sets: the small one, and the large one twice (standalone
	// and Cluster, the same sessions in both, encoded once).
	type dataset struct {
		name  string
		addrs []string
		n     int
		ids   []string
		perS  float64 // Redis bytes per session
	}
	small := &dataset{name: "standalone-small", n: c.small}
	large := &dataset{name: "standalone-large", n: c.n}
	sets := []*dataset{small, large}
	groups := [][]*dataset{{small}, {large}}
	if c.cluster {
		sets = append(sets, &dataset{name: "cluster-large", n: c.n})
		groups[1] = append(groups[1], sets[2])
	}
	for _, group := range groups {
		var clients []redis.UniversalClient
		before := map[*dataset]int64{}
		for _, ds := range group {
			if strings.HasPrefix(ds.name, "cluster") {
				ds.addrs, err = ps.startCluster(ctx)
			} else {
				var a string
				a, err = ps.startRedis(ctx, ds.name)
				ds.addrs = []string{a}
			}
			if err != nil {
				return err
			}
			if before[ds], err = usedMemory(ctx, ds.addrs); err != nil {
				return err
			}
			if len(ds.addrs) > 1 {
				clients = append(clients, redis.NewClusterClient(&redis.ClusterOptions{Addrs: ds.addrs}))
			} else {
				clients = append(clients, redis.NewClient(&redis.Options{Addr: ds.addrs[0]}))
			}
		}
		ld, err := loadSessions(ctx, clients, prefix, fixture{n: group[0].n, perUser: c.perUser, tok: tok, expires: exp}, 4)
		for _, cl := range clients {
			cl.Close()
		}
		if err != nil {
			return fmt.Errorf("%s: %w", group[0].name, err)
		}
		var names []string
		for _, ds := range group {
			after, err := usedMemory(ctx, ds.addrs)
			if err != nil {
				return err
			}
			ds.ids, ds.perS = ld.ids, float64(after-before[ds])/float64(ds.n)
			names = append(names, ds.name)
		}
		fmt.Printf("loaded %8d sessions into %s in %.1fs (%.0f/s)\n",
			group[0].n, strings.Join(names, " and "), ld.took.Seconds(), float64(group[0].n)/ld.took.Seconds())
	}

	// Cookies, as gatehouse serve seals them with this key.
	key := make([]byte, 32)
	rand.Read(key)
	codec, err := cookie.NewCodec([][]byte{key}, nil)
	if err != nil {
		return err
	}
	secret := base64.StdEncoding.EncodeToString(key)
	cname, err := cookieName()
	if err != nil {
		return err
	}
	cookieFile := func(name string, ids []string, k int) (string, string, error) {
		pick := spreadPick(ids, k)
		lines := make([]string, len(pick))
		for i, id := range pick {
			v, err := codec.SealID(cname, id, exp)
			if err != nil {
				return "", "", err
			}
			lines[i] = cname + "=" + v
		}
		p := filepath.Join(dir, name+".cookies")
		return p, lines[0], os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
	}
	script := filepath.Join(dir, "cookies.lua")
	if err := os.WriteFile(script, []byte(wrkScript), 0o600); err != nil {
		return err
	}

	var targets []*target
	add := func(name string, ds *dataset, cacheSize, k int) error {
		file, first, err := cookieFile(name, ds.ids, k)
		if err != nil {
			return err
		}
		port, err := freePort()
		if err != nil {
			return err
		}
		listen := fmt.Sprintf("127.0.0.1:%d", port)
		url, err := ps.startServe(ctx, bin, "gatehouse-"+name, serveConfig(listen, ds.addrs, prefix, secret, cacheSize), first)
		if err != nil {
			return err
		}
		targets = append(targets, &target{name: name, url: url, cookies: file})
		return nil
	}
	steps := []struct {
		name      string
		ds        *dataset
		cacheSize int
		k         int
	}{
		{fmt.Sprintf("no cache, %s in Redis", count(c.small)), small, 0, c.small},
		{fmt.Sprintf("no cache, %s in Redis", count(c.n)), large, 0, c.spread},
		{fmt.Sprintf("no cache, %s in Redis, %s active", count(c.n), count(c.small)), large, 0, c.small},
		{fmt.Sprintf("cache, %s in Redis", count(c.small)), small, 10000, c.active},
		{fmt.Sprintf("cache, %s in Redis", count(c.n)), large, 10000, c.active},
	}
	if c.cluster {
		steps = append(steps, struct {
			name      string
			ds        *dataset
			cacheSize int
			k         int
		}{fmt.Sprintf("no cache, Cluster, %s", count(c.n)), sets[2], 0, c.spread})
	}
	for _, st := range steps {
		if err := add(st.name, st.ds, st.cacheSize, st.k); err != nil {
			return err
		}
	}

	// Warm up every target, then interleave the rounds.
	loadBefore := loadAvg()
	for _, t := range targets {
		if _, err := runWrk(ctx, t.url, script, t.cookies, c.threads, c.conns, time.Second); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}
	for range c.rounds {
		for _, t := range targets {
			r, err := runWrk(ctx, t.url, script, t.cookies, c.threads, c.conns, c.dur)
			if err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			if r.non2xx > 0 || r.errors > 0 {
				return fmt.Errorf("%s: %d non-2xx answers and %d socket errors in %d requests: not measuring allowed checks; see %s",
					t.name, r.non2xx, r.errors, r.requests, dir)
			}
			t.runs = append(t.runs, r)
		}
	}
	ps.stopServes()
	fmt.Printf("\nload average before the checks: %s; after: %s\n", loadBefore, loadAvg())

	fmt.Printf("\nchecks (gatehouse serve, forward-auth, signed-in browser, every answer 200): median of %d rounds [min–max]\n", c.rounds)
	fmt.Printf("  %-40s %8s  %-13s %9s  %-17s %s\n", "target", "sessions", "", "req/s", "", "p99")
	for i, t := range targets {
		rps := make([]float64, len(t.runs))
		p99 := make([]float64, len(t.runs))
		for j, r := range t.runs {
			rps[j], p99[j] = r.rps, float64(r.p99)/1e6
		}
		fmt.Printf("  %-40s %8d  checked       %9.0f [%.0f–%.0f]  %6.2fms [%.2f–%.2f]\n", t.name, steps[i].k,
			median(rps), slices.Min(rps), slices.Max(rps), median(p99), slices.Min(p99), slices.Max(p99))
	}
	ratio := func(what string, a, b *target) {
		var rr, pr []float64
		for j := range a.runs {
			rr = append(rr, a.runs[j].rps/b.runs[j].rps)
			pr = append(pr, float64(a.runs[j].p99)/float64(b.runs[j].p99))
		}
		fmt.Printf("  %-56s req/s %.2fx [%.2f–%.2f]  p99 %.2fx [%.2f–%.2f]\n", what,
			median(rr), slices.Min(rr), slices.Max(rr), median(pr), slices.Min(pr), slices.Max(pr))
	}
	fmt.Println("ratios (per round, median [min–max]):")
	ratio(fmt.Sprintf("no cache: %s / %s sessions, both over %s", count(c.n), count(c.small), count(c.small)), targets[2], targets[0])
	ratio(fmt.Sprintf("no cache: %s over %s / %s over %s", count(c.n), count(c.spread), count(c.small), count(c.small)), targets[1], targets[0])
	ratio(fmt.Sprintf("cache:    %s / %s sessions, both over %s", count(c.n), count(c.small), count(c.active)), targets[4], targets[3])
	if c.cluster {
		ratio("no cache: Cluster / standalone (both "+count(c.n)+" over "+count(c.spread)+")", targets[5], targets[1])
	}

	// Redis alone: the lookup a check makes, from one connection.
	fmt.Printf("\nRedis alone: one MGET of a random session's keys from one connection, %d rounds of 2000 interleaved:\n", c.rounds)
	lookups := map[string][]time.Duration{}
	picks := map[string][]string{small.name: small.ids, large.name: spreadPick(large.ids, c.spread)}
	for range c.rounds {
		for _, ds := range sets[:2] {
			d, err := redisLookups(ctx, ds.addrs[0], prefix, picks[ds.name], 2000)
			if err != nil {
				return fmt.Errorf("lookups in Redis, %s: %w", ds.name, err)
			}
			lookups[ds.name] = append(lookups[ds.name], d...)
		}
	}
	for _, ds := range sets[:2] {
		d := lookups[ds.name]
		slices.Sort(d)
		fmt.Printf("  %8d sessions in Redis, over %6d: p50 %v  p99 %v\n", ds.n, len(picks[ds.name]), quantile(d, 0.50), quantile(d, 0.99))
	}

	// Revocation to denial.
	fmt.Printf("\nrevocation to denial, %d replicas (1 revoking, %d polling every 1ms), %d revocations each:\n", c.replicas, c.replicas-1, c.revocations)
	for _, ds := range sets[:2] {
		ids := ds.ids[len(ds.ids)-min(c.revocations, len(ds.ids)):] // not among the active sessions
		d, err := revocationLatency(ctx, redisstore.Options{Addrs: ds.addrs, KeyPrefix: prefix}, c.replicas, ids)
		if err != nil {
			return fmt.Errorf("revocation, %s: %w", ds.name, err)
		}
		slices.Sort(d)
		fmt.Printf("  %8d sessions in Redis: p50 %v  p99 %v  max %v\n", ds.n, quantile(d, 0.50), quantile(d, 0.99), d[len(d)-1].Round(10*time.Microsecond))
	}

	// Memory.
	f := fixture{n: c.memN, perUser: c.perUser, tok: tok, expires: exp}
	mem, err := memstoreBytesPerSession(ctx, f, c.memN)
	if err != nil {
		return err
	}
	rs, err := redisstore.New(redisstore.Options{Addrs: large.addrs, KeyPrefix: prefix})
	if err != nil {
		return err
	}
	defer rs.Close()
	cached, err := cacheBytesPerSession(ctx, rs, large.ids[:c.memN])
	if err != nil {
		return err
	}
	fmt.Printf("\nmemory per session (%d sessions, live heap after GC):\n", c.memN)
	fmt.Printf("  memory store (record with sealed tokens, indexes): %6.0f bytes\n", mem)
	fmt.Printf("  local cache (identity without tokens, LRU entry):  %6.0f bytes\n", cached)
	for _, ds := range sets {
		fmt.Printf("  Redis, %-17s (used_memory growth / sessions): %6.0f bytes\n", ds.name, ds.perS)
	}
	return nil
}

// stopServes ends the gatehouse processes (they are the children whose
// name starts with gatehouse-), freeing the CPU for the later steps.
func (ps *procs) stopServes() {
	for _, c := range ps.list {
		if c.ProcessState == nil && strings.HasSuffix(c.Path, "gatehouse") {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}
}

// loadAvg is the machine's 1, 5 and 15-minute load averages, which say how
// much else was running.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

// spreadPick returns k of ids spread evenly over the whole list.
func spreadPick(ids []string, k int) []string {
	k = min(k, len(ids))
	out := make([]string, k)
	for i := range out {
		out[i] = ids[i*len(ids)/k]
	}
	return out
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// quantile of sorted d, rounded for printing.
func quantile(d []time.Duration, p float64) time.Duration {
	return d[min(len(d)-1, int(p*float64(len(d))))].Round(time.Microsecond)
}

// errNotLoaded means a session the benchmark loaded is missing from Redis.
var errNotLoaded = errors.New("a loaded session is missing")

// count renders 1000 as 1k and 1000000 as 1M.
func count(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1_000 && n%1_000 == 0:
		return fmt.Sprintf("%dk", n/1_000)
	}
	return fmt.Sprint(n)
}
