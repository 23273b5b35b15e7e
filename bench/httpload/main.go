// Command httpload measures gatehouse's forward-auth check over HTTP with
// wrk, beside no-op servers measured in the same run, and prints requests
// per second, p50 and p99 and the ratios. It wires the adapter in this
// process (make bench-inprocess); bench/binary measures the shipped
// binary (make bench-load).
//
// It starts, in this process and on loopback only: gatehouse's forward-auth
// handler with a signed-in session on (1) the in-memory store, (2) Redis
// with the local cache, (3) Redis without it; a no-op HTTP server; and a
// no-op server that does one Redis GET per request (the floor for every
// lookup going to Redis). Then it runs wrk against each, at each
// concurrency, for a bounded time.
//
//	go run ./bench/httpload -d 10s -c 64,256
//
// Needs wrk (apt-get install wrk) and, for the Redis cases, Redis at
// -redis (default 127.0.0.1:6379); its keys use a unique prefix and are
// deleted afterwards.
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/check"
	"github.com/gatehouse/gatehouse/internal/forwardauth"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/cache"
	"github.com/gatehouse/gatehouse/internal/session/cookie"
	"github.com/gatehouse/gatehouse/internal/session/memstore"
	"github.com/gatehouse/gatehouse/internal/session/redisstore"
)

const cookieName = "_gatehouse"

func main() {
	dur := flag.Duration("d", 10*time.Second, "duration of each wrk run")
	conns := flag.String("c", "64,256", "comma-separated wrk connection counts")
	threads := flag.Int("t", 2, "wrk threads")
	redisAddr := flag.String("redis", "127.0.0.1:6379", "Redis for the Redis cases; empty skips them")
	flag.Parse()
	if err := run(*dur, *conns, *threads, *redisAddr); err != nil {
		fmt.Fprintln(os.Stderr, "httpload:", err)
		os.Exit(1)
	}
}

type target struct {
	name  string
	url   string
	floor string // the no-op target this one is compared with
}

func run(dur time.Duration, connList string, threads int, redisAddr string) error {
	if _, err := exec.LookPath("wrk"); err != nil {
		return fmt.Errorf("wrk not found (apt-get install wrk): %w", err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	codec, err := cookie.NewCodec([][]byte{key}, nil)
	if err != nil {
		return err
	}
	ctx := context.Background()
	var targets []target
	var cookie string

	noop, err := serve(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) }))
	if err != nil {
		return err
	}
	targets = append(targets, target{"no-op HTTP server", noop, ""})

	mem := memstore.New(memstore.Options{})
	defer mem.Close()
	id, _ := session.NewID()
	exp := time.Now().Add(24 * time.Hour)
	sess := &session.Session{ID: id, Issuer: "https://idp.example", Subject: "u1", User: "u1", Email: "alice@example.com", EmailVerified: true,
		Groups: []string{"dev"}, CreatedAt: time.Now(), ExpiresAt: exp}
	if err := mem.Save(ctx, sess); err != nil {
		return err
	}
	v, err := codec.SealID(cookieName, id, exp)
	if err != nil {
		return err
	}
	cookie = cookieName + "=" + v
	u, err := serve(gatehouse(mem, codec))
	if err != nil {
		return err
	}
	targets = append(targets, target{"forward-auth, memory store", u, "no-op HTTP server"})

	if redisAddr != "" {
		prefix := fmt.Sprintf("gatehouse-bench:%d:", time.Now().UnixNano())
		rc := redis.NewClient(&redis.Options{Addr: redisAddr})
		defer func() {
			keys, _ := rc.Keys(ctx, prefix+"*").Result()
			if len(keys) > 0 {
				rc.Del(ctx, keys...)
			}
			rc.Close()
		}()
		if err := rc.Set(ctx, prefix+"noop", "x", time.Hour).Err(); err != nil {
			return fmt.Errorf("redis %s: %w", redisAddr, err)
		}
		noopRedis, err := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := rc.Get(r.Context(), prefix+"noop").Err(); err != nil {
				w.WriteHeader(503)
				return
			}
			w.WriteHeader(200)
		}))
		if err != nil {
			return err
		}
		targets = append(targets, target{"no-op + one Redis GET", noopRedis, ""})
		rs, err := redisstore.New(redisstore.Options{Addrs: []string{redisAddr}, KeyPrefix: prefix})
		if err != nil {
			return err
		}
		defer rs.Close()
		if err := rs.Save(ctx, sess); err != nil {
			return err
		}
		cached, err := cache.New(rs, cache.Options{})
		if err != nil {
			return err
		}
		runCtx, stopRun := context.WithCancel(context.Background())
		ran := make(chan error, 1)
		go func() { ran <- cached.Run(runCtx) }()
		defer func() { stopRun(); <-ran }()
		for deadline := time.Now().Add(5 * time.Second); !cached.Subscribed() && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		uc, err := serve(gatehouse(cached, codec))
		if err != nil {
			return err
		}
		ur, err := serve(gatehouse(rs, codec))
		if err != nil {
			return err
		}
		targets = append(targets,
			target{"forward-auth, Redis + local cache", uc, "no-op HTTP server"},
			target{"forward-auth, Redis every lookup", ur, "no-op + one Redis GET"})
	}

	fmt.Printf("wrk -t%d, %v per run, GOMAXPROCS=%d, all on loopback\n\n", threads, dur, runtimeProcs())
	for _, c := range strings.Split(connList, ",") {
		c = strings.TrimSpace(c)
		results := map[string]result{}
		fmt.Printf("connections: %s\n", c)
		fmt.Printf("  %-36s %10s %10s %10s   %s\n", "target", "req/s", "p50", "p99", "vs floor (rps, p99)")
		for _, t := range targets {
			r, err := wrk(t.url, c, threads, dur, cookie)
			if err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			results[t.name] = r
			ratio := ""
			if f, ok := results[t.floor]; ok {
				ratio = fmt.Sprintf("%.2fx, %.2fx", r.rps/f.rps, r.p99.Seconds()/f.p99.Seconds())
			}
			fmt.Printf("  %-36s %10.0f %10v %10v   %s\n", t.name, r.rps, r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), ratio)
			if r.non2xx > 0 {
				return fmt.Errorf("%s: %d non-2xx answers: the benchmark is not measuring allowed checks", t.name, r.non2xx)
			}
		}
		fmt.Println()
	}
	return nil
}

// gatehouse is the forward-auth handler over store, as serve wires it.
func gatehouse(store session.Store, codec *cookie.Codec) http.Handler {
	p := &authz.Policy{LoginURL: "/oauth2/start", EmailDomains: []string{"example.com"}, Headers: authz.DefaultHeaderNames()}
	chk := check.New(store, codec, cookie.Settings{Name: cookieName, Secure: true}, p,
		check.Options{Logger: slog.New(slog.DiscardHandler)})
	return forwardauth.NewHandler(chk, forwardauth.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
}

func serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	go (&http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}).Serve(ln)
	return "http://" + ln.Addr().String() + forwardauth.ForwardAuthPath, nil
}

type result struct {
	rps      float64
	p50, p99 time.Duration
	non2xx   int
}

var (
	reRPS    = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	reLat    = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$`)
	reNon2xx = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
)

func wrk(url, conns string, threads int, dur time.Duration, cookie string) (result, error) {
	secs := strconv.Itoa(max(1, int(dur.Seconds())))
	cmd := exec.Command("wrk", "-t", strconv.Itoa(threads), "-c", conns, "-d", secs+"s", "--latency", "--timeout", "5s",
		"-H", "Cookie: "+cookie,
		"-H", "X-Forwarded-Method: GET", "-H", "X-Forwarded-Proto: https",
		"-H", "X-Forwarded-Host: app.example.com", "-H", "X-Forwarded-Uri: /dashboard?tab=runs",
		"-H", "X-Forwarded-For: 203.0.113.7", "-H", "Accept: text/html", url)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("wrk: %v: %s", err, out)
	}
	var r result
	m := reRPS.FindSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("no Requests/sec in wrk output: %s", out)
	}
	r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	for _, l := range reLat.FindAllSubmatch(out, -1) {
		f, _ := strconv.ParseFloat(string(l[2]), 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[string(l[3])]
		d := time.Duration(f * float64(unit))
		if string(l[1]) == "50" {
			r.p50 = d
		} else {
			r.p99 = d
		}
	}
	if m := reNon2xx.FindSubmatch(out); m != nil {
		r.non2xx, _ = strconv.Atoi(string(m[1]))
	}
	return r, nil
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }
