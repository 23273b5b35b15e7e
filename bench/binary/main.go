// Command binary benchmarks the shipped binary: it builds `gatehouse serve`
// from the checkout (go build -trimpath), runs it with the production
// wiring (Redis sessions, the default local cache, log level warn, Secure
// cookies), signs in through the real login flow at the development
// OpenID provider (internal/oidctest) to get a session, and measures from
// outside, on loopback only:
//
//   - forward-auth (Redis + local cache) beside a no-op net/http server;
//   - forward-auth with the cache off beside a no-op doing one Redis GET
//     (of the same session record);
//   - oauth2-proxy's /oauth2/auth on Redis sessions (-oauth2-proxy, a
//     binary built by scripts/bench-load.sh), signed in through the same
//     provider, as a peer;
//   - Envoy ext_authz over gRPC beside a no-op ext_authz server.
//
// Every HTTP target receives the same request headers (one Cookie header
// holding both sessions, the X-Forwarded-* set, Accept); the no-op servers
// run in processes of their own. The targets are measured in turn, in an
// order that rotates every round, at each concurrency; the report gives
// each round and the median and min–max of every ratio. It never fails on
// timing, only when an answer is not an allow.
//
//	go run ./bench/binary -d 5s -rounds 3 -c 64,256 -oauth2-proxy PATH
//
// With -profile DIR it then loads each gatehouse again and saves CPU,
// allocation and execution-trace profiles from its admin listener
// (admin.pprof: true) into DIR. Bounded in time: every run has a deadline
// and the whole benchmark stops after -max.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/bench/internal/extauthz"
	"github.com/gatehouse/gatehouse/internal/oidctest"
)

type options struct {
	duration, warmup time.Duration
	rounds           int
	conns            []int
	threads          int
	grpcConns        int
	redis            string
	oauth2Proxy      string
	gatehouse        string
	baseline         string
	profile          string
	profileFor       time.Duration
	keep             string
	max              time.Duration
	only             *regexp.Regexp // targets measured; nil measures all
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "noop" {
		if err := noopMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	var o options
	conns := flag.String("c", "64,256", "comma-separated concurrencies (wrk connections, gRPC callers)")
	flag.DurationVar(&o.duration, "d", 5*time.Second, "measured duration of each run (whole seconds)")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured warm-up before each run")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds; each measures every target once per concurrency (0: profile only)")
	flag.IntVar(&o.threads, "t", 2, "wrk threads")
	flag.IntVar(&o.grpcConns, "grpc-conns", 2, "gRPC connections per server (Envoy opens about one per worker thread)")
	flag.StringVar(&o.redis, "redis", "127.0.0.1:6379", "Redis address (loopback); keys use a unique prefix and are deleted afterwards")
	flag.StringVar(&o.oauth2Proxy, "oauth2-proxy", "", "oauth2-proxy v7.15.6 binary (scripts/bench-load.sh builds it); empty leaves it out")
	flag.StringVar(&o.gatehouse, "gatehouse", "", "a gatehouse binary to run instead of building one from the checkout")
	flag.StringVar(&o.baseline, "baseline", "", "a second gatehouse binary (say, an earlier commit's) measured in the same rounds, as \"baseline\" targets")
	flag.StringVar(&o.profile, "profile", "", "folder to save pprof profiles of each gatehouse under load into; empty takes none")
	flag.DurationVar(&o.profileFor, "profile-for", 8*time.Second, "length of each profile")
	flag.StringVar(&o.keep, "keep", "", "folder for configurations and logs (default: a temporary one, removed)")
	flag.DurationVar(&o.max, "max", 30*time.Minute, "stop everything after this long")
	flag.Func("targets", "measure only the targets whose names match this regular expression (say, 'forward-auth|no-op net'); the comparisons need both of their targets", func(s string) error {
		re, err := regexp.Compile(s)
		o.only = re
		return err
	})
	flag.Parse()
	for _, s := range strings.Split(*conns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "binary: -c: %q is not a positive number\n", s)
			os.Exit(2)
		}
		o.conns = append(o.conns, n)
	}
	if err := run(os.Stdout, o); err != nil {
		fmt.Fprintln(os.Stderr, "binary:", err)
		os.Exit(1)
	}
}

// Names of the targets.
const (
	tNoop      = "no-op net/http server"
	tCache     = "gatehouse forward-auth, Redis + local cache"
	tNoopRedis = "no-op + one Redis GET"
	tNoCache   = "gatehouse forward-auth, Redis every lookup"
	tO2P       = "oauth2-proxy /oauth2/auth, Redis sessions"
	tNoopGRPC  = "no-op ext_authz server"
	tGRPC      = "gatehouse ext_authz, Redis + local cache"
	tNoopHdrs  = "no-op sending gatehouse's response headers"
	baseSuffix = " (baseline)"
)

// The comparisons reported, with issue 11's targets.
var comparisons = []comparison{
	{title: "forward-auth (cache) / no-op", target: tCache, base: tNoop, minRPS: 0.85, maxP99: 1.5},
	{title: "forward-auth (cache off) / no-op + GET", target: tNoCache, base: tNoopRedis, minRPS: 0.8},
	{title: "gatehouse (cache) / oauth2-proxy", target: tCache, base: tO2P, minRPS: 5, lowerP99: true},
	{title: "gatehouse (cache off) / oauth2-proxy", target: tNoCache, base: tO2P},
	{title: "oauth2-proxy / no-op + GET", target: tO2P, base: tNoopRedis},
	{title: "ext_authz / no-op ext_authz", target: tGRPC, base: tNoopGRPC, minRPS: 0.9, maxP99: 1.3},
	{title: "forward-auth (cache) / no-op + its headers", target: tCache, base: tNoopHdrs},
	{title: "no-op + its headers / no-op", target: tNoopHdrs, base: tNoop},
	{title: "baseline: forward-auth (cache) / no-op", target: tCache + baseSuffix, base: tNoop, minRPS: 0.85, maxP99: 1.5},
	{title: "baseline: forward-auth (cache off) / GET", target: tNoCache + baseSuffix, base: tNoopRedis, minRPS: 0.8},
	{title: "baseline: gatehouse (cache) / oauth2-proxy", target: tCache + baseSuffix, base: tO2P, minRPS: 5, lowerP99: true},
	{title: "baseline: ext_authz / no-op ext_authz", target: tGRPC + baseSuffix, base: tNoopGRPC, minRPS: 0.9, maxP99: 1.3},
	{title: "gatehouse / baseline, forward-auth (cache)", target: tCache, base: tCache + baseSuffix},
	{title: "gatehouse / baseline, cache off", target: tNoCache, base: tNoCache + baseSuffix},
	{title: "gatehouse / baseline, ext_authz", target: tGRPC, base: tGRPC + baseSuffix},
}

type target struct {
	name string
	url  string // HTTP targets
	grpc string // gRPC targets: host:port
}

func run(out io.Writer, o options) error {
	if o.rounds < 0 || o.duration < time.Second || len(o.conns) == 0 {
		return errors.New("need -rounds >= 0, -d >= 1s and at least one -c")
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		return fmt.Errorf("wrk not found (apt-get install wrk): %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.max)
	defer cancel()
	dir := o.keep
	if dir == "" {
		d, err := os.MkdirTemp("", "gatehouse-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}

	bin := o.gatehouse
	if bin == "" {
		bin = filepath.Join(dir, "gatehouse")
		fmt.Fprintf(out, "building gatehouse: go build -trimpath -o %s ./cmd/gatehouse\n", bin)
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./cmd/gatehouse")
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build gatehouse: %w: %s", err, b)
		}
	}

	nonce := strconv.FormatInt(time.Now().UnixNano(), 36)
	prefix := "gatehouse-bench-" + nonce + ":"
	o2pCookie := "_o2p_bench_" + nonce
	rc := redis.NewClient(&redis.Options{Addr: o.redis})
	defer rc.Close()
	if err := rc.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("-redis %s: %w", o.redis, err)
	}
	defer deleteKeys(rc, prefix+"*", o2pCookie+"*")

	var ps procs
	defer ps.stopAll()
	addrs := make([]string, 11)
	for i := range addrs {
		a, err := freeAddr()
		if err != nil {
			return err
		}
		addrs[i] = a
	}
	ghA := gatehouseInstance{name: "gatehouse-cache", http: addrs[0], grpc: addrs[1], admin: addrs[2]}
	ghB := gatehouseInstance{name: "gatehouse-nocache", http: addrs[3], admin: addrs[4], noCache: true}
	o2pAddr := addrs[5]
	baseA := gatehouseInstance{name: "baseline-cache", http: addrs[6], grpc: addrs[7], admin: addrs[8]}
	baseB := gatehouseInstance{name: "baseline-nocache", http: addrs[9], admin: addrs[10], noCache: true}

	provider, err := oidctest.New(oidctest.Options{
		Users: []oidctest.User{{Subject: "alice", Email: "alice@example.com", EmailVerified: true,
			Groups: []string{"ml-team"}, PreferredUsername: "alice", Password: "alice"}},
		Client: oidctest.Client{ID: "gatehouse-bench", Secret: randomHex(24),
			RedirectURIs: []string{ghA.callback(), ghB.callback(), "http://" + o2pAddr + "/oauth2/callback", baseA.callback(), baseB.callback()}},
		IDTokenLifetime: time.Hour, AccessTokenLifetime: time.Hour, RefreshTokenLifetime: 2 * time.Hour,
	})
	if err != nil {
		return err
	}
	defer provider.Close()

	shared := sharedSettings{
		issuer: provider.Issuer(), clientID: provider.Client().ID, clientSecret: provider.Client().Secret,
		cookieKey: randomBase64(32), redis: o.redis, prefix: prefix, tokenFile: filepath.Join(dir, "admin-token"),
	}
	if err := os.WriteFile(shared.tokenFile, []byte(randomHex(32)), 0o600); err != nil {
		return err
	}
	type instance struct {
		g   gatehouseInstance
		bin string
	}
	instances := []instance{{ghA, bin}, {ghB, bin}}
	if o.baseline != "" {
		instances = append(instances, instance{baseA, o.baseline}, instance{baseB, o.baseline})
	}
	for _, in := range instances {
		p, err := in.g.start(ctx, dir, in.bin, shared)
		if err != nil {
			return err
		}
		ps.add(p)
	}
	ghCookie, err := login(ctx, provider, "http://"+ghA.http+"/oauth2/start?rd="+benchURL, "_gatehouse")
	if err != nil {
		return err
	}
	cookieHeader := "Cookie: theme=dark; " + ghCookie.Name + "=" + ghCookie.Value
	sessionKey, err := onlyKey(ctx, rc, prefix+"session:*")
	if err != nil {
		return err
	}

	httpTargets := []target{{name: tNoop}, {name: tCache, url: "http://" + ghA.http + "/authz/forward-auth"},
		{name: tNoopRedis}, {name: tNoCache, url: "http://" + ghB.http + "/authz/forward-auth"}}
	if o.oauth2Proxy != "" {
		p, err := startOAuth2Proxy(ctx, dir, o.oauth2Proxy, o2pAddr, o2pCookie, shared)
		if err != nil {
			return err
		}
		ps.add(p)
		ck, err := login(ctx, provider, "http://"+o2pAddr+"/oauth2/start?rd=/", o2pCookie)
		if err != nil {
			return err
		}
		cookieHeader += "; " + ck.Name + "=" + ck.Value
		httpTargets = append(httpTargets, target{name: tO2P, url: "http://" + o2pAddr + "/oauth2/auth"})
	}

	self, err := os.Executable()
	if err != nil {
		return err
	}
	for i, kind := range map[int][]string{0: {"http"}, 2: {"redis", "-redis", o.redis, "-key", sessionKey}} {
		p, a, err := start(dir, "noop-"+kind[0], nil, true, append([]string{self, "noop", "-kind"}, kind...)...)
		if err != nil {
			return err
		}
		ps.add(p)
		httpTargets[i].url = "http://" + a + "/authz/forward-auth"
	}
	pg, grpcNoop, err := start(dir, "noop-grpc", nil, true, self, "noop", "-kind", "grpc")
	if err != nil {
		return err
	}
	ps.add(pg)
	grpcTargets := []target{{name: tNoopGRPC, grpc: grpcNoop}, {name: tGRPC, grpc: ghA.grpc}}
	if o.baseline != "" {
		httpTargets = append(httpTargets,
			target{name: tCache + baseSuffix, url: "http://" + baseA.http + "/authz/forward-auth"},
			target{name: tNoCache + baseSuffix, url: "http://" + baseB.http + "/authz/forward-auth"})
		grpcTargets = append(grpcTargets, target{name: tGRPC + baseSuffix, grpc: baseA.grpc})
	}

	headers := []string{cookieHeader, "X-Forwarded-Method: GET", "X-Forwarded-Proto: https",
		"X-Forwarded-Host: app.example.com", "X-Forwarded-Uri: /dashboard?tab=runs", "X-Forwarded-For: 203.0.113.7",
		"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
	grpcReq := extauthz.CheckRequest("app.example.com", strings.TrimPrefix(cookieHeader, "Cookie: "))
	for _, t := range httpTargets {
		if err := allowed(ctx, t.url, headers); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}
	// A no-op that answers with the response headers gatehouse sends for
	// this request (same names and values): what the answer alone costs.
	answer, err := allowedHeaders(ctx, httpTargets[1].url, headers)
	if err != nil {
		return err
	}
	args := []string{self, "noop", "-kind", "http"}
	for k, vs := range answer {
		if k == "Date" || k == "Content-Length" {
			continue // net/http adds these itself
		}
		for _, v := range vs {
			args = append(args, "-header", k+": "+v)
		}
	}
	ph, hdrsAddr, err := start(dir, "noop-headers", nil, true, args...)
	if err != nil {
		return err
	}
	ps.add(ph)
	httpTargets = append(httpTargets, target{name: tNoopHdrs, url: "http://" + hdrsAddr + "/authz/forward-auth"})

	fmt.Fprintf(out, "gatehouse %s; %d CPUs; load average %s; wrk -t%d; %v per run after a %v warm-up; %d rounds; gRPC over %d connections\n",
		bin, nproc(), loadavg(), o.threads, o.duration, o.warmup, o.rounds, o.grpcConns)
	fmt.Fprintf(out, "session from a real login at %s; every HTTP target gets the same headers\n", provider.Issuer())
	res := results{}
	var all []target
	for _, t := range append(append([]target{}, httpTargets...), grpcTargets...) {
		if o.only == nil || o.only.MatchString(t.name) {
			all = append(all, t)
		}
	}
	if len(all) == 0 {
		return fmt.Errorf("-targets %s matches no target", o.only)
	}
	for round := range o.rounds {
		for _, c := range o.conns {
			fmt.Fprintf(out, "\nround %d, c%d (load average %s)\n", round+1, c, loadavg())
			for i := range all {
				t := all[(i+round)%len(all)]
				m, err := measureTarget(ctx, t, c, o, headers, grpcReq)
				if err != nil {
					return fmt.Errorf("round %d, c%d, %s: %w", round+1, c, t.name, err)
				}
				res.add(c, t.name, m)
				refused := ""
				if m.non2xx+m.errors > 0 {
					refused = fmt.Sprintf("  (%d of %d not allowed, %d socket errors)", m.non2xx, m.requests, m.errors)
				}
				fmt.Fprintf(out, "  %-44s %10.0f req/s  p50 %9v  p99 %9v%s\n", t.name, m.rps, m.p50.Round(time.Microsecond), m.p99.Round(time.Microsecond), refused)
			}
		}
	}
	if o.rounds > 0 {
		var names []string
		for _, t := range all {
			names = append(names, t.name)
		}
		report(out, res, o.conns, names, comparisons)
	}
	if o.profile != "" {
		if err := os.MkdirAll(o.profile, 0o755); err != nil {
			return err
		}
		for _, pr := range []struct {
			name, admin string
			t           target
		}{
			{"forward-auth-cache", ghA.admin, httpTargets[1]},
			{"forward-auth-nocache", ghB.admin, httpTargets[3]},
			{"ext-authz", ghA.admin, grpcTargets[1]},
		} {
			if err := profileUnderLoad(ctx, out, o, pr.name, pr.admin, pr.t, headers, grpcReq); err != nil {
				return err
			}
		}
	}
	for _, p := range ps {
		if p.exited() {
			return fmt.Errorf("%s exited during the benchmark: %v\n%s", p.name, p.err, p.tail())
		}
	}
	return nil
}

// benchURL is the page the benchmark's requests are for.
const benchURL = "https://app.example.com/dashboard"

// measureTarget warms t up, then measures it at concurrency c. Answers
// that are not an allow are counted; more than maxRefused of them fail the
// run (the benchmark must measure allowed checks), fewer are reported: at
// c256 with the cache off, on this shared machine, a Redis lookup now and
// then outlasts session.timeout (250 ms, mostly waiting for one of the
// client's pooled connections) and is answered 503, as it must be.
func measureTarget(ctx context.Context, t target, c int, o options, headers []string, req *extauthzReq) (measurement, error) {
	var m measurement
	if t.grpc != "" {
		r, err := extauthz.Measure(t.grpc, req, extauthz.Load{Concurrency: c, Conns: o.grpcConns, Warmup: o.warmup, Duration: o.duration})
		if err != nil {
			return measurement{}, err
		}
		m = measurement{rps: r.RPS(), p50: r.P(50), p99: r.P(99), requests: r.Calls + r.Errors, non2xx: r.Errors}
		if r.Errors > 0 {
			m.firstErr = r.FirstErr
		}
	} else {
		if o.warmup > 0 {
			if _, err := wrk(ctx, t.url, c, o.threads, o.warmup, headers); err != nil {
				return measurement{}, err
			}
		}
		var err error
		if m, err = wrk(ctx, t.url, c, o.threads, o.duration, headers); err != nil {
			return m, err
		}
		if err := allowed(ctx, t.url, headers); err != nil {
			return m, fmt.Errorf("after the run: %w", err)
		}
	}
	if bad := m.non2xx + m.errors; float64(bad) > maxRefused*float64(m.requests) {
		return m, fmt.Errorf("%d of %d answers were not allows and %d socket errors (first: %v): not measuring allowed checks",
			m.non2xx, m.requests, m.errors, m.firstErr)
	}
	return m, nil
}

// maxRefused is the share of answers that may be other than an allow.
const maxRefused = 0.05

// allowed sends one request with headers to url and wants a 2xx.
func allowed(ctx context.Context, url string, headers []string) error {
	_, err := allowedHeaders(ctx, url, headers)
	return err
}

// allowedHeaders is allowed, returning the answer's headers.
func allowedHeaders(ctx context.Context, url string, headers []string) (http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Add(k, v)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("answered %d (reason %q), not an allow", resp.StatusCode, resp.Header.Get("X-Gatehouse-Reason"))
	}
	return resp.Header, nil
}

// onlyKey returns the one Redis key matching pattern.
func onlyKey(ctx context.Context, rc *redis.Client, pattern string) (string, error) {
	var keys []string
	iter := rc.Scan(ctx, 0, pattern, 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return "", fmt.Errorf("redis scan %s: %w", pattern, err)
	}
	if len(keys) != 1 {
		return "", fmt.Errorf("redis: %d keys match %s, want the one session", len(keys), pattern)
	}
	return keys[0], nil
}

// deleteKeys removes what the benchmark wrote to Redis.
func deleteKeys(rc *redis.Client, patterns ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, pat := range patterns {
		iter := rc.Scan(ctx, 0, pat, 1000).Iterator()
		for iter.Next(ctx) {
			rc.Del(ctx, iter.Val())
		}
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return b
}

func randomHex(n int) string    { return hex.EncodeToString(randomBytes(n))[:n] }
func randomBase64(n int) string { return base64.StdEncoding.EncodeToString(randomBytes(n)) }

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

func nproc() int {
	out, err := exec.Command("nproc").Output()
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return n
}
