//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The fault test's gatehouse replicas. Replica A has no local session
// cache, so every check asks Redis; replica B keeps the default cache with
// a short TTL, so the test also shows how long a cache may serve after
// Redis goes away. Both use a store deadline above the default 250 ms so a
// busy shared machine does not turn a healthy lookup into a 503.
const (
	faultCacheTTL     = 500 * time.Millisecond
	faultStoreTimeout = 500 * time.Millisecond
	// faultClockSlack covers reading the clock in two processes: a cached
	// entry's lifetime starts before its Redis lookup, so TTL alone would
	// be exact.
	faultClockSlack = 100 * time.Millisecond
)

// TestFaults runs two gatehouse replicas on a private Redis under a bounded
// load of forward-auth checks carrying valid session cookies, then
//
//  1. stops Redis (SIGSTOP) and resumes it (SIGCONT);
//  2. kills Redis (SIGKILL) and restarts it on the same port and data
//     directory (append-only file, fsync on every write, so the sessions
//     survive);
//  3. kills replica A (SIGKILL).
//
// Wrong answers, which must not occur: a 200 for a check that started
// after Redis stopped answering (after the cache TTL on replica B) and
// ended before Redis could answer again; any answer other than 200 or 503
// (a 302 or 401 would be a login loop for a signed-in user); a 200 with
// another identity; a transport error from a live replica; anything but
// 200 from the surviving replica. Service must resume by itself after
// Redis is back (bound: 10 s; the time is logged). Through the shipped
// nginx config, a signed-in client gets 503 while Redis is stopped, never
// a 500 or a login redirect.
func TestFaults(t *testing.T) {
	s := newSuite(t)
	ctx := t.Context()
	redisBin, err := lookTool("GATEHOUSE_E2E_REDIS_SERVER", "redis-server", "/usr/sbin/redis-server", "/usr/bin/redis-server")
	if err != nil {
		t.Fatal(err)
	}
	ps := s.setups["nginx"]
	rs := &privateRedis{bin: redisBin, dir: filepath.Join(ps.Dir, "redis"), port: freePort(t)}
	if err := os.MkdirAll(rs.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := rs.start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rs.stop)

	addrA := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	addrB := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	ps.GatehouseAddr, ps.AppAddr = addrA, s.echoAddr
	base := gatehouseConfig{
		Issuer: s.op.issuer, RedirectURL: ps.origin() + "/oauth2/callback",
		CookieKey: newCookieKey(), RedisAddr: rs.addr(), KeyPrefix: "gatehouse-e2e-faults:", LogLevel: "info",
	}
	var procs []*proc
	replicas := []struct {
		name, addr, session string
		ttl                 time.Duration // how long a check may be served without Redis
	}{
		{"gatehouse-a", addrA, fmt.Sprintf("  timeout: %s\n  cache_size: 0\n", faultStoreTimeout), 0},
		{"gatehouse-b", addrB, fmt.Sprintf("  timeout: %s\n  cache_ttl: %s\n", faultStoreTimeout, faultCacheTTL), faultCacheTTL + faultClockSlack},
	}
	for _, r := range replicas {
		c := base
		c.Addr, c.Session = r.addr, r.session
		p, err := startGatehouse(ctx, ps.Dir, r.name, s.tools["gatehouse"], c)
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
			for _, p := range append(procs, rs.p) {
				t.Logf("---- %s log (tail) ----\n%s", p.name, p.tail(3000))
			}
		}
	})
	if err := s.waitRoute(ctx, px, ps); err != nil {
		t.Fatal(err)
	}

	// Three sessions of alice, each from a real login through nginx.
	cookies := aliceSessions(ctx, t, ps, 3, "fault-login")

	tl := &timeline{}
	ld := startLoad(ps, []string{addrA, addrB}, cookies, 3)
	stopped := false
	defer func() {
		if !stopped {
			ld.stop()
		}
	}()
	sleepCtx(ctx, time.Second)

	// 1. Redis stopped, then resumed.
	if err := rs.pause(); err != nil {
		t.Fatal(err)
	}
	tl.mark("redis SIGSTOP")
	outages := []outage{{from: time.Now()}}
	nginxDuringOutage(t, s, ps, addrA, cookies[0])
	sleepCtx(ctx, time.Until(outages[0].from.Add(2500*time.Millisecond)))
	outages[0].to = time.Now()
	if err := rs.resume(); err != nil {
		t.Fatal(err)
	}
	tl.mark("redis SIGCONT")
	resumedStop := ld.waitResumed(ctx, outages[0].to, 2, 10*time.Second)
	sleepCtx(ctx, 500*time.Millisecond)

	// 2. Redis killed, then restarted with its data.
	if err := rs.kill(); err != nil {
		t.Fatal(err)
	}
	tl.mark("redis SIGKILL")
	outages = append(outages, outage{from: time.Now()})
	sleepCtx(ctx, 2500*time.Millisecond)
	outages[1].to = time.Now()
	tl.mark("redis restart")
	if err := rs.start(ctx); err != nil {
		t.Fatal(err)
	}
	redisReady := time.Since(outages[1].to)
	resumedKill := ld.waitResumed(ctx, outages[1].to, 2, 10*time.Second)
	sleepCtx(ctx, 500*time.Millisecond)
	nginxAfterOutage(t, s, ps, cookies[0])

	// 3. Replica A killed; B must answer every session.
	tl.mark("replica A SIGKILL")
	replicaKill := time.Now()
	if err := procs[0].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-procs[0].done
	sleepCtx(ctx, 1500*time.Millisecond)
	ld.stop()
	stopped = true
	tl.mark("end")

	// Judge every answer.
	ttl := []time.Duration{replicas[0].ttl, replicas[1].ttl}
	var wrong []string
	survivorOK := map[int]int{} // session → 200s from B after the replica kill
	for _, sm := range ld.samples {
		why := ""
		switch {
		case sm.status == 0 && !(sm.replica == 0 && !sm.end.Before(replicaKill)):
			why = "transport error from a live replica: " + sm.err
		case sm.status != 0 && sm.status != http.StatusOK && sm.status != http.StatusServiceUnavailable:
			why = fmt.Sprintf("status %d (location %q)", sm.status, sm.location)
		case sm.status == http.StatusOK && sm.email != userAlice.Email:
			why = fmt.Sprintf("200 with identity %q", sm.email)
		case sm.status == http.StatusOK && inOutage(sm, outages, ttl[sm.replica]):
			why = "200 while Redis could not answer and no cache could serve"
		case sm.replica == 1 && !sm.start.Before(replicaKill) && sm.status != http.StatusOK:
			why = fmt.Sprintf("survivor answered %d (%s)", sm.status, sm.err)
		}
		if why != "" {
			wrong = append(wrong, fmt.Sprintf("replica %c session %d at +%v..+%v: %s",
				'A'+sm.replica, sm.session, sm.start.Sub(ld.began).Round(time.Millisecond), sm.end.Sub(ld.began).Round(time.Millisecond), why))
		}
		if sm.replica == 1 && !sm.start.Before(replicaKill) && sm.status == http.StatusOK {
			survivorOK[sm.session]++
		}
	}

	t.Logf("timeline: %s", tl.String(ld.began))
	t.Logf("answers by phase (phase starts at the check's start; err = transport error):\n%s", ld.table(tl))
	t.Logf("answers to checks wholly inside an outage: %s", ld.outageCounts(outages, ttl))
	t.Logf("resumed after SIGCONT: replica A %v, replica B %v (first 200 after Redis was back)", resumedStop[0], resumedStop[1])
	t.Logf("resumed after restart: replica A %v, replica B %v (Redis answered PING after %v)", resumedKill[0], resumedKill[1], redisReady.Round(time.Millisecond))
	t.Logf("requests: %d; wrong answers: %d", len(ld.samples), len(wrong))
	for i, w := range wrong {
		if i == 20 {
			t.Errorf("... and %d more wrong answers", len(wrong)-20)
			break
		}
		t.Errorf("wrong answer: %s", w)
	}

	// The test must have tested something.
	for r := range 2 {
		for i, o := range outages {
			if n := ld.count(r, o.from.Add(ttl[r]), o.to, http.StatusServiceUnavailable); n == 0 {
				t.Errorf("replica %c: no 503 for a check wholly inside outage %d (past the cache TTL): the outage was not observed", 'A'+r, i+1)
			}
		}
	}
	for i := range cookies {
		if survivorOK[i] == 0 {
			t.Errorf("session %d: no 200 from the surviving replica after replica A was killed", i)
		}
	}
	for i, d := range append(resumedStop, resumedKill...) {
		if d < 0 {
			t.Errorf("replica %c did not resume within 10s after Redis came back (outage %d)", 'A'+i%2, i/2+1)
		}
	}
}

// nginxDuringOutage: with Redis stopped, a signed-in client gets 503
// through the shipped nginx config, browser or API, and the app is never
// reached; gatehouse's own answer to nginx is 403 with the reason header.
func nginxDuringOutage(t *testing.T, s *suite, ps proxySetup, replicaA, cookie string) {
	ctx := t.Context()
	for _, accept := range []string{"text/html,application/xhtml+xml", "application/json"} {
		probe := "outage-" + randHex(4)
		r, err := get(ctx, newClient(false), ps.origin()+"/projects?probe="+probe, [][2]string{{"Accept", accept}, {"Cookie", cookie}})
		if err != nil {
			t.Errorf("nginx during the outage (Accept %s): %v", accept, err)
			continue
		}
		t.Logf("nginx, Redis stopped, Accept %s: %d Retry-After=%q %q", accept, r.status, r.header.Get("Retry-After"), strings.TrimSpace(string(r.body)))
		// A browser gets the try-again page, an API client JSON.
		want := "session store unavailable"
		if strings.HasPrefix(accept, "text/html") {
			want = "<code>store_unavailable</code>"
		}
		if r.status != http.StatusServiceUnavailable || !strings.Contains(string(r.body), want) || r.header.Get("Location") != "" {
			t.Errorf("nginx during the outage (Accept %s): %d Location %q body %.200s; want 503 session store unavailable", accept, r.status, r.header.Get("Location"), r.body)
		}
		if n := s.echo.seen(probe); n != 0 {
			t.Errorf("nginx during the outage: the app was reached %d times", n)
		}
	}
	r, err := get(ctx, newClient(false), "http://"+replicaA+"/authz/auth-request", [][2]string{
		{"X-Original-URL", ps.origin() + "/projects"}, {"X-Forwarded-For", "127.0.0.1"}, {"Cookie", cookie}, {"Accept", "text/html"},
	})
	if err != nil {
		t.Errorf("auth-request during the outage: %v", err)
		return
	}
	if r.status != http.StatusForbidden || r.header.Get("X-Gatehouse-Reason") != "store_unavailable" {
		t.Errorf("auth-request during the outage: %d reason %q; want 403 store_unavailable", r.status, r.header.Get("X-Gatehouse-Reason"))
	}
}

// nginxAfterOutage: after Redis was killed and restarted, the session
// still opens the app through nginx.
func nginxAfterOutage(t *testing.T, s *suite, ps proxySetup, cookie string) {
	r, err := get(t.Context(), newClient(false), ps.origin()+"/projects?probe=after-"+randHex(4), [][2]string{{"Accept", "application/json"}, {"Cookie", cookie}})
	if err != nil {
		t.Errorf("nginx after the outage: %v", err)
		return
	}
	e, err := decodeEcho(r.body)
	if r.status != http.StatusOK || err != nil || !slices.Equal(e.headerValues("X-Auth-Request-Email"), []string{userAlice.Email}) {
		t.Errorf("nginx after Redis restarted: %d %.200s; want 200 with alice's identity", r.status, r.body)
	}
}

// privateRedis is a redis-server of the test's own on a loopback port,
// with an append-only file synced on every write, so that a killed and
// restarted server keeps its sessions.
type privateRedis struct {
	bin, dir string
	port     int
	p        *proc
	starts   int
}

func (r *privateRedis) addr() string { return fmt.Sprintf("127.0.0.1:%d", r.port) }

func (r *privateRedis) start(ctx context.Context) error {
	r.starts++
	p, err := startProc(r.dir, "redis-"+strconv.Itoa(r.starts), nil, r.bin,
		"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--protected-mode", "yes",
		"--save", "", "--appendonly", "yes", "--appendfsync", "always", "--dir", r.dir, "--daemonize", "no")
	if err != nil {
		return err
	}
	r.p = p
	c := redis.NewClient(&redis.Options{Addr: r.addr(), DialTimeout: time.Second, ReadTimeout: time.Second, MaxRetries: -1})
	defer c.Close()
	// PING answers only once the append-only file is loaded.
	return p.waitReady(ctx, "PING", func(ctx context.Context) error { return c.Ping(ctx).Err() })
}

// pause stops the server with SIGSTOP and returns once the kernel reports
// it stopped: from then on it cannot answer.
func (r *privateRedis) pause() error {
	if err := r.p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		return fmt.Errorf("redis SIGSTOP: %w", err)
	}
	stat := fmt.Sprintf("/proc/%d/stat", r.p.cmd.Process.Pid)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		b, err := os.ReadFile(stat)
		if err != nil {
			return fmt.Errorf("redis SIGSTOP: %w", err)
		}
		// The state follows the command name in parentheses.
		if i := strings.LastIndexByte(string(b), ')'); i > 0 && strings.HasPrefix(string(b[i+1:]), " T") {
			return nil
		}
	}
	return fmt.Errorf("redis did not stop after SIGSTOP")
}

func (r *privateRedis) resume() error {
	if err := r.p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		return fmt.Errorf("redis SIGCONT: %w", err)
	}
	return nil
}

// kill ends the server with SIGKILL and returns once it has exited.
func (r *privateRedis) kill() error {
	if err := r.p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("redis SIGKILL: %w", err)
	}
	<-r.p.done
	return nil
}

func (r *privateRedis) stop() {
	if r.p != nil && !r.p.exited() {
		_ = r.p.cmd.Process.Signal(syscall.SIGCONT)
		r.p.stop()
	}
}

// outage is a span in which Redis could not answer: from once it was
// stopped or dead to just before it was resumed or restarted.
type outage struct{ from, to time.Time }

// inOutage reports whether a check started after an outage began (plus
// the replica's cache TTL) and ended before it was over: no answer from
// Redis, nor a cached one, could have allowed it.
func inOutage(sm sample, outages []outage, ttl time.Duration) bool {
	for _, o := range outages {
		if !sm.start.Before(o.from.Add(ttl)) && sm.end.Before(o.to) {
			return true
		}
	}
	return false
}

// timeline names the moments of the test, for the log.
type timeline struct {
	names []string
	at    []time.Time
}

func (tl *timeline) mark(name string) {
	tl.names = append(tl.names, name)
	tl.at = append(tl.at, time.Now())
}

func (tl *timeline) String(began time.Time) string {
	var b strings.Builder
	for i, n := range tl.names {
		fmt.Fprintf(&b, "%s +%v; ", n, tl.at[i].Sub(began).Round(time.Millisecond))
	}
	return strings.TrimSuffix(b.String(), "; ")
}

// sample is one forward-auth check of the load.
type sample struct {
	replica, session int
	start, end       time.Time
	status           int // 0: transport error
	email, location  string
	err              string
}

// load sends forward-auth checks, as Traefik would for a browser, to each
// replica from a few goroutines, each with its own keep-alive connection,
// until stopped.
type load struct {
	began   time.Time
	mu      sync.Mutex
	samples []sample
	quit    chan struct{}
	wg      sync.WaitGroup
}

func startLoad(ps proxySetup, addrs, cookies []string, perReplica int) *load {
	l := &load{began: time.Now(), quit: make(chan struct{})}
	for r, addr := range addrs {
		for g := range perReplica {
			l.wg.Add(1)
			go l.worker(ps, r, addr, g%len(cookies), cookies[g%len(cookies)])
		}
	}
	return l
}

func (l *load) worker(ps proxySetup, replica int, addr string, session int, cookie string) {
	defer l.wg.Done()
	c := &http.Client{
		Transport:     &http.Transport{MaxIdleConnsPerHost: 1},
		Timeout:       3 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer c.CloseIdleConnections()
	u := "http://" + addr + "/authz/forward-auth"
	for {
		select {
		case <-l.quit:
			return
		default:
		}
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("X-Forwarded-Method", "GET")
		req.Header.Set("X-Forwarded-Proto", "https")
		req.Header.Set("X-Forwarded-Host", fmt.Sprintf("%s:%d", ps.Host, ps.HTTPSPort))
		req.Header.Set("X-Forwarded-Uri", "/projects/7?tab=runs")
		req.Header.Set("X-Forwarded-For", "127.0.0.1")
		req.Header.Set("Accept", "text/html,application/xhtml+xml") // a browser: a lost session would show as a 302
		req.Header.Set("Cookie", cookie)
		sm := sample{replica: replica, session: session, start: time.Now()}
		resp, err := c.Do(req)
		pause := 2 * time.Millisecond
		if err != nil {
			sm.err = err.Error()
			pause = 20 * time.Millisecond
		} else {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			sm.status = resp.StatusCode
			sm.email = resp.Header.Get("X-Auth-Request-Email")
			sm.location = resp.Header.Get("Location")
		}
		sm.end = time.Now()
		l.mu.Lock()
		l.samples = append(l.samples, sm)
		l.mu.Unlock()
		time.Sleep(pause)
	}
}

func (l *load) stop() {
	close(l.quit)
	l.wg.Wait()
}

// waitResumed waits until each of the first n replicas has answered a
// check with 200 after since, and returns how long after since each did
// (-1 if not within limit).
func (l *load) waitResumed(ctx context.Context, since time.Time, n int, limit time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = -1
	}
	for deadline := since.Add(limit); ; {
		l.mu.Lock()
		for _, sm := range l.samples {
			if sm.status == http.StatusOK && sm.end.After(since) {
				if d := sm.end.Sub(since); out[sm.replica] < 0 || d < out[sm.replica] {
					out[sm.replica] = d
				}
			}
		}
		l.mu.Unlock()
		if !slices.Contains(out, -1) || time.Now().After(deadline) || ctx.Err() != nil {
			for i := range out {
				if out[i] > 0 {
					out[i] = out[i].Round(time.Millisecond)
				}
			}
			return out
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// count returns how many checks to replica started at or after from, ended
// before to and got status.
func (l *load) count(replica int, from, to time.Time, status int) int {
	n := 0
	for _, sm := range l.samples {
		if sm.replica == replica && !sm.start.Before(from) && sm.end.Before(to) && sm.status == status {
			n++
		}
	}
	return n
}

// statusLine renders counts by status, "err" for transport errors.
func statusLine(m map[int]int) string {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		name := strconv.Itoa(k)
		if k == 0 {
			name = "err"
		}
		parts = append(parts, fmt.Sprintf("%s=%d", name, m[k]))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

// table counts answers by phase of the timeline (a check belongs to the
// phase in which it started) and replica.
func (l *load) table(tl *timeline) string {
	type key struct{ phase, replica int }
	counts := map[key]map[int]int{}
	for _, sm := range l.samples {
		ph := 0
		for i, at := range tl.at {
			if !sm.start.Before(at) {
				ph = i + 1
			}
		}
		k := key{ph, sm.replica}
		if counts[k] == nil {
			counts[k] = map[int]int{}
		}
		counts[k][sm.status]++
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  %-22s %-28s %s\n", "phase", "replica A (no cache)", "replica B (cache, TTL "+faultCacheTTL.String()+")")
	for ph := 0; ph < len(tl.names); ph++ {
		name := "redis up"
		if ph > 0 {
			name = "after " + tl.names[ph-1]
		}
		fmt.Fprintf(&b, "  %-22s %-28s %s\n", name, statusLine(counts[key{ph, 0}]), statusLine(counts[key{ph, 1}]))
	}
	return b.String()
}

// outageCounts counts, per replica, the answers to checks wholly inside an
// outage (past the replica's cache TTL).
func (l *load) outageCounts(outages []outage, ttl []time.Duration) string {
	var parts []string
	for r := range ttl {
		m := map[int]int{}
		for _, sm := range l.samples {
			if sm.replica == r && inOutage(sm, outages, ttl[r]) {
				m[sm.status]++
			}
		}
		parts = append(parts, fmt.Sprintf("replica %c: %s", 'A'+r, statusLine(m)))
	}
	return strings.Join(parts, "; ")
}

// sleepCtx sleeps for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
