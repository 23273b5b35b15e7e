//go:build e2e

package e2e

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkTraefik measures the echo app through Traefik (the shipped
// deploy/traefik files) with and without the ForwardAuth middleware, using
// wrk with a real session cookie, and reports requests per second, p50,
// p99 and the ratios. It never fails on timing; it fails only if a request
// is not answered 200 (then it would not be measuring allowed requests).
//
// The two routes differ only in the gatehouse-auth middleware: the shipped
// "app" router (strip-identity, gatehouse-auth) on the app's host, and a
// router added for the benchmark (strip-identity only) on noauth.<host>.
// Traefik's access log is turned off for both (it would be the same cost
// on both sides). gatehouse runs one replica on the real Redis with the
// default local session cache, log level info.
//
// Run it with scripts/bench-traefik.sh, or
//
//	go test -tags e2e -run '^$' -bench '^BenchmarkTraefik$' -benchtime 1x -v ./e2e/
//
// Environment: GATEHOUSE_BENCH_CONNS (wrk connections, default 64),
// GATEHOUSE_BENCH_DURATION (per run, default 10s), GATEHOUSE_BENCH_ROUNDS
// (alternating no-auth/auth pairs, default 2).
func BenchmarkTraefik(b *testing.B) {
	conns, err1 := envInt("GATEHOUSE_BENCH_CONNS", 64)
	rounds, err2 := envInt("GATEHOUSE_BENCH_ROUNDS", 2)
	if err := errors.Join(err1, err2); err != nil {
		b.Fatal(err)
	}
	dur, err := time.ParseDuration(envOr("GATEHOUSE_BENCH_DURATION", "10s"))
	if err != nil || dur < time.Second {
		b.Fatalf("GATEHOUSE_BENCH_DURATION: want a duration of at least 1s (%v)", err)
	}
	wrkBin, err := lookTool("GATEHOUSE_E2E_WRK", "wrk")
	if err != nil {
		b.Fatal(err)
	}

	s := newSuite(b)
	ctx := b.Context()
	ps := s.setups["traefik"]
	ps.GatehouseAddr = fmt.Sprintf("127.0.0.1:%d", freePort(b))
	ps.AppAddr = s.echoAddr
	cfg := gatehouseConfig{
		Addr: ps.GatehouseAddr, Issuer: s.op.issuer, RedirectURL: ps.origin() + "/oauth2/callback",
		CookieKey: newCookieKey(), RedisAddr: s.redisAddr, KeyPrefix: s.prefix + "bench:", LogLevel: "info",
	}
	gh, err := startGatehouse(ctx, ps.Dir, "gatehouse", s.tools["gatehouse"], cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(gh.stop)

	noauthHost := "noauth." + ps.Host
	px, err := startTraefikWith(ctx, ps, s.tools["traefik"],
		[]string{"  routers:\n", "  routers:\n" +
			"    bench-noauth:\n" +
			"      rule: \"Host(`" + noauthHost + "`)\"\n" +
			"      entryPoints: [websecure]\n" +
			"      middlewares: [strip-identity]\n" +
			"      service: app\n" +
			"      tls: {}\n"},
		[]string{"accessLog: {}", "# accessLog: off for the benchmark"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(px.stop)
	if err := s.waitRoute(ctx, px, ps); err != nil {
		b.Fatal(err)
	}

	c := newClient(true)
	res, err := goLogin(ctx, c, ps.origin()+"/dashboard", userAlice)
	if err != nil {
		b.Fatal(err)
	}
	cookie := res.cookieHeader()

	// The URL wrk asks for, and the Host header that picks the route.
	target := fmt.Sprintf("https://127.0.0.1:%d/projects/7/experiments?tab=runs", ps.HTTPSPort)
	auth := fmt.Sprintf("%s:%d", ps.Host, ps.HTTPSPort)
	noauth := fmt.Sprintf("%s:%d", noauthHost, ps.HTTPSPort)

	// Both routes answer 200 with the cookie; only the middleware route
	// carries alice's identity, and without the cookie it refuses.
	plain := newClient(false)
	for _, c := range []struct {
		host, cookie string
		status       int
		email        string
	}{{auth, cookie, http.StatusOK, userAlice.Email}, {noauth, cookie, http.StatusOK, ""}, {auth, "", http.StatusUnauthorized, ""}} {
		hdr := [][2]string{{"Host", c.host}, {"Accept", "application/json"}}
		if c.cookie != "" {
			hdr = append(hdr, [2]string{"Cookie", c.cookie})
		}
		r, err := get(ctx, plain, target, hdr)
		if err != nil {
			b.Fatal(err)
		}
		email := ""
		if r.status == http.StatusOK {
			if e, err := decodeEcho(r.body); err == nil {
				if v := e.headerValues("X-Auth-Request-Email"); len(v) > 0 {
					email = v[0]
				}
			}
		}
		if r.status != c.status || email != c.email {
			b.Fatalf("Host %s (cookie %t): %d, identity %q; want %d, %q: %.200s", c.host, c.cookie != "", r.status, email, c.status, c.email, r.body)
		}
	}

	run := func(host string, d time.Duration) wrkResult {
		r, err := runWrk(wrkBin, target, conns, d, "Host: "+host, "Cookie: "+cookie, "Accept: application/json")
		if err != nil {
			b.Fatal(err)
		}
		if r.non2xx > 0 || r.errors > 0 {
			b.Fatalf("Host %s: %d non-2xx answers, %d socket errors: not measuring allowed requests", host, r.non2xx, r.errors)
		}
		return r
	}
	_, ghPort, _ := strings.Cut(ps.GatehouseAddr, ":")
	gatehousePort, _ := strconv.Atoi(ghPort)
	b.ResetTimer()
	run(noauth, 2*time.Second) // warm-up: connections, caches
	run(auth, 2*time.Second)
	var without, with []wrkResult
	var churn []string
	for range rounds {
		without = append(without, run(noauth, dur))
		before := timeWaitTo(gatehousePort)
		r := run(auth, dur)
		with = append(with, r)
		// Connections Traefik closed towards gatehouse during the run: each
		// one was opened for a check (TIME-WAIT lasts 60 s, so none of the
		// run's expires before it is counted).
		n := timeWaitTo(gatehousePort) - before
		churn = append(churn, fmt.Sprintf("%d (%.2f per check)", n, float64(n)/(r.rps*dur.Seconds())))
	}
	b.StopTimer()

	b.Logf("Traefik %s, wrk -t2 -c%d, %v per run, %d rounds (no-auth then auth), HTTPS on loopback, gatehouse on Redis with its local cache",
		"v3.6.12", conns, dur, rounds)
	b.Logf("  %-28s %10s %10s %10s", "route", "req/s", "p50", "p99")
	for i := range rounds {
		w, a := without[i], with[i]
		b.Logf("  round %d %-20s %10.0f %10v %10v", i+1, "without ForwardAuth", w.rps, w.p50, w.p99)
		b.Logf("  round %d %-20s %10.0f %10v %10v   %.2fx rps, %.2fx p99", i+1, "with ForwardAuth", a.rps, a.p50, a.p99,
			a.rps/w.rps, a.p99.Seconds()/w.p99.Seconds())
	}
	mw, ma := medianResult(without), medianResult(with)
	b.Logf("  median: without %.0f req/s p50 %v p99 %v; with %.0f req/s p50 %v p99 %v; ratio %.2fx rps, %.2fx p99",
		mw.rps, mw.p50, mw.p99, ma.rps, ma.p50, ma.p99, ma.rps/mw.rps, ma.p99.Seconds()/mw.p99.Seconds())
	b.Logf("  connections Traefik opened and closed towards gatehouse per run with ForwardAuth: %s", strings.Join(churn, ", "))
	b.ReportMetric(mw.rps, "rps-without")
	b.ReportMetric(ma.rps, "rps-with")
	b.ReportMetric(ma.rps/mw.rps, "rps-ratio")
	b.ReportMetric(float64(ma.p99.Microseconds())/1000, "p99-ms-with")
	b.ReportMetric(float64(mw.p99.Microseconds())/1000, "p99-ms-without")
}

// wrkResult is what the benchmark reads from wrk's report.
type wrkResult struct {
	rps            float64
	p50, p99       time.Duration
	non2xx, errors int
}

var (
	wrkRPS    = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	wrkLat    = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$`)
	wrkNon2xx = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
	wrkErrs   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// runWrk runs wrk with two threads against url for d and parses its
// report.
func runWrk(bin, url string, conns int, d time.Duration, headers ...string) (wrkResult, error) {
	args := []string{"-t", "2", "-c", strconv.Itoa(conns), "-d", strconv.Itoa(int(d.Seconds())) + "s", "--latency", "--timeout", "5s"}
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	out, err := exec.Command(bin, append(args, url)...).CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %v: %s", err, out)
	}
	var r wrkResult
	m := wrkRPS.FindSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("no Requests/sec in wrk's report: %s", out)
	}
	r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	units := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}
	for _, l := range wrkLat.FindAllSubmatch(out, -1) {
		f, _ := strconv.ParseFloat(string(l[2]), 64)
		v := time.Duration(f * float64(units[string(l[3])])).Round(time.Microsecond)
		if string(l[1]) == "50" {
			r.p50 = v
		} else {
			r.p99 = v
		}
	}
	if r.p50 == 0 || r.p99 == 0 {
		return r, fmt.Errorf("no latency distribution in wrk's report: %s", out)
	}
	if m := wrkNon2xx.FindSubmatch(out); m != nil {
		r.non2xx, _ = strconv.Atoi(string(m[1]))
	}
	if m := wrkErrs.FindSubmatch(out); m != nil {
		for _, g := range m[1:] {
			n, _ := strconv.Atoi(string(g))
			r.errors += n
		}
	}
	return r, nil
}

// timeWaitTo counts IPv4 sockets in TIME-WAIT whose remote port is port,
// from /proc/net/tcp: the connections a client opened to that port and
// closed (-1 if the table cannot be read).
func timeWaitTo(port int) int {
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return -1
	}
	want := fmt.Sprintf(":%04X", port)
	n := 0
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		// sl local_address rem_address st ...; st 06 is TIME_WAIT.
		if len(f) > 3 && strings.HasSuffix(f[2], want) && f[3] == "06" {
			n++
		}
	}
	return n
}

// medianResult takes the median of each figure separately.
func medianResult(rs []wrkResult) wrkResult {
	med := func(f func(wrkResult) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return wrkResult{
		rps: med(func(r wrkResult) float64 { return r.rps }),
		p50: time.Duration(med(func(r wrkResult) float64 { return float64(r.p50) })),
		p99: time.Duration(med(func(r wrkResult) float64 { return float64(r.p99) })),
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envInt(name string, def int) (int, error) {
	n, err := strconv.Atoi(envOr(name, strconv.Itoa(def)))
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s: want a positive integer, got %q", name, os.Getenv(name))
	}
	return n, nil
}
