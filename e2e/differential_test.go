//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// differentialAccess is the policy of the differential test: a
// host-scoped skip route, a path skip route, an allow rule, a rule that
// requires a group alice does not have, a deny rule, a method-scoped deny
// and a method-scoped allow (for method-override headers), an allow for a
// client network the test client is not in (for spoofed client
// addresses), and alice's
// domain for everything else. Every class of bypass has something to
// escape.
func differentialAccess(statusHost string) string {
	return fmt.Sprintf(`access:
  email_domains: ["allowed.test"]
  skip:
    - host: %s
    - path: /healthz
  rules:
    - name: public-write
      paths: [/public]
      methods: [DELETE, PUT, PATCH]
      action: deny
    - name: public
      paths: [/public]
      action: allow
    - name: read-only
      paths: [/ro]
      methods: [GET, HEAD]
      action: allow
    - name: lan
      paths: [/lan]
      client_cidrs: [10.9.8.0/24]
      action: allow
    - name: admin
      paths: [/admin]
      action: require
      require:
        groups: [admins]
    - name: internal
      paths: [/internal]
      action: deny
`, statusHost)
}

// diffStack is one proxy's differential run: what the Envoy simulation
// reuses from the nginx run (its replica's configuration and alice's
// session cookie).
type diffStack struct {
	cfg        gatehouseConfig
	dir        string
	cookie     string // alice's cookies, "name=value; ..."
	cookieName string // the session cookie's effective name
}

// sent is one request of the corpus as sent, and what the client got.
type sent struct {
	probe   probe
	variant string
	raw     []byte
	status  int
}

// TestDifferential sends a corpus of raw requests through nginx, Caddy and
// Traefik running the shipped deploy/ files, and through the Envoy
// ext_authz adapter over gRPC as Envoy would call it; the app records every
// request it receives, and each must be one the policy admits for every
// host and path a lenient server could act on, with no client-chosen
// identity and no gatehouse cookie.
func TestDifferential(t *testing.T) {
	s := newSuite(t)
	var nginx *diffStack
	for _, k := range suiteKinds() {
		t.Run(k.name, func(t *testing.T) {
			ds := s.differential(t, k)
			if k.name == "nginx" {
				nginx = ds
			}
		})
	}
	t.Run("envoy-ext_authz", func(t *testing.T) {
		if nginx == nil || nginx.cookie == "" {
			t.Fatal("the nginx run made no session for alice; the Envoy run reuses it")
		}
		s.differentialEnvoy(t, nginx)
	})
}

// differential runs the corpus through one real proxy, over HTTP/1.1
// and HTTP/2, and judges what reached the app.
func (s *suite) differential(t *testing.T, k proxyKind) *diffStack {
	ctx := t.Context()
	ps, ds, rec := s.startDiffStack(t, k)
	orc, err := newOracle(filepath.Join(ps.Dir, "gatehouse-a.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ds.cookie = aliceSignsIn(t, ps, orc)
	ds.cookieName = orc.cookieName

	addr := fmt.Sprintf("127.0.0.1:%d", ps.HTTPSPort)
	vars := corpusVars{host: ps.Host, port: strconv.Itoa(ps.HTTPSPort), status: "status." + ps.Host, cookieName: orc.cookieName}
	send := func(raw []byte) (int, error) {
		st, _, err := sendRaw(ctx, addr, ps.Host, raw)
		return st, err
	}
	s.checkAppCookies(t, orc, rec, vars, ds.cookie, send)
	results := runCorpus(t, "", vars, ds.cookie, send)
	// The same corpus over HTTP/2, as browsers reach these proxies.
	sendH2Raw := func(raw []byte) (int, error) {
		r, err := readHead(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return -1, nil
		}
		fields, ok := h2Fields(r)
		if !ok {
			return -1, nil // HTTP/2 cannot carry it
		}
		return sendH2(ctx, addr, ps.Host, fields)
	}
	maps.Copy(results, runCorpus(t, "h2-", vars, ds.cookie, sendH2Raw))
	checkRefusals(t, k.name, results)
	got := rec.take()
	judgeRecorded(t, k.name, orc, got, results, filepath.Join(s.dir, "differential-"+k.name+".txt"))
	checkWebsocket(t, k.name, got, results)
	return ds
}

// startDiffStack starts the recorder, one gatehouse replica with the
// differential policy and the proxy from its shipped configuration, and
// waits until a request travels through all three.
func (s *suite) startDiffStack(t *testing.T, k proxyKind) (proxySetup, *diffStack, *recorder) {
	ctx := t.Context()
	ps := s.setups[k.name]
	ps.Dir = filepath.Join(ps.Dir, "differential")
	if err := os.MkdirAll(ps.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	rec, err := startRecorder(fmt.Sprintf("127.0.0.1:%d", freePort(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rec.stop)
	ps.AppAddr = rec.l.Addr().String()
	ps.GatehouseAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := gatehouseConfig{
		Addr: ps.GatehouseAddr, Issuer: s.op.issuer, RedirectURL: ps.origin() + "/oauth2/callback",
		CookieKey: newCookieKey(), RedisAddr: s.redisAddr, KeyPrefix: s.prefix + "diff-" + k.name + ":",
		Access: differentialAccess("status." + ps.Host), LogLevel: "info", SPOEAddr: ps.SPOEAddr,
	}
	if k.upstreams != nil {
		cfg.Upstreams = k.upstreams(ps.AppAddr)
	}
	gh, err := startGatehouse(ctx, ps.Dir, "gatehouse-a", s.tools["gatehouse"], cfg)
	if err != nil {
		t.Fatalf("gatehouse: %v", err)
	}
	t.Cleanup(gh.stop)
	px, err := k.start(ctx, ps, s.tools[k.name])
	if err != nil {
		t.Fatalf("start %s: %v", k.name, err)
	}
	t.Cleanup(px.stop)
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range []*proc{gh, px} {
				t.Logf("---- %s log (tail) ----\n%s", p.name, p.tail(3000))
			}
		}
	})
	if err := waitRecorded(ctx, px, ps); err != nil {
		t.Fatal(err)
	}
	return ps, &diffStack{cfg: cfg, dir: ps.Dir}, rec
}

// aliceSignsIn logs alice in through the proxy, as a browser would, tells
// the oracle the session cookie's effective name, and returns her cookies
// as a Cookie header value.
func aliceSignsIn(t *testing.T, ps proxySetup, orc *oracle) string {
	t.Helper()
	res, err := goLogin(t.Context(), newClient(true), ps.origin()+"/dashboard", userAlice)
	if err != nil {
		t.Fatalf("alice's login: %v", err)
	}
	if res.Status != http.StatusOK {
		t.Fatalf("alice's login ended with %d at %s: %.200s", res.Status, res.FinalURL, res.Body)
	}
	cookie := cookieHeader(res.Cookies)
	if !orc.learnCookieName(res.Cookies) {
		t.Fatalf("no session cookie named after %q among alice's cookies %q", orc.cookieName, cookie)
	}
	return cookie
}

// checkRefusals: a host the proxy does not serve is refused (no 2xx,
// whether it is the Host header or an absolute-form target that names
// it), and, through nginx, a request gatehouse refuses as malformed is
// answered 400, not the 403 auth_request carries it as.
func checkRefusals(t *testing.T, proxy string, results map[string]*sent) {
	t.Helper()
	otherHost := map[string]bool{"Host: status host": true, "Host: status host:port": true,
		"absolute status, Host app": true, "absolute status with dots, Host app": true}
	for id, s := range results {
		if otherHost[s.probe.name] && s.status >= 200 && s.status < 300 {
			t.Errorf("%s: %q (%s) answered %d: a host the proxy does not serve must be refused", proxy, s.probe.name, id, s.status)
		}
		if proxy == "nginx" && s.probe.name == "GET /public/%2e%2e/admin" && s.status != 400 {
			t.Errorf("nginx: %q (%s) answered %d, want 400 (gatehouse's bad_request)", s.probe.name, id, s.status)
		}
		// Large app cookies are legitimate: gatehouse hands the Cookie
		// header back, and the proxy must have room for that answer.
		if s.probe.name == "7 KB of app cookies" && s.variant == "alice" && s.status != http.StatusOK {
			t.Errorf("%s: %q (%s) answered %d, want 200", proxy, s.probe.name, id, s.status)
		}
	}
}

// checkWebsocket: refusing other upgrades must not break websockets; the
// anonymous websocket upgrade of /public reaches the app with its Upgrade
// header.
func checkWebsocket(t *testing.T, proxy string, got []*rawRequest, results map[string]*sent) {
	t.Helper()
	for _, r := range got {
		s, ok := results[r.first("X-Diff-Id")]
		if ok && s.variant == "anonymous" && s.probe.name == "websocket upgrade" {
			if !strings.EqualFold(r.first("Upgrade"), "websocket") {
				t.Errorf("%s: the websocket upgrade reached the app without Upgrade: websocket: %s", proxy, r)
			}
			return
		}
	}
	t.Errorf("%s: the anonymous websocket upgrade of /public did not reach the app", proxy)
}

// waitRecorded waits until GET /public travels through the proxy and
// gatehouse to the recorder.
func waitRecorded(ctx context.Context, px *proc, ps proxySetup) error {
	plain := newClient(false)
	return px.waitReady(ctx, "route to the recorder", func(ctx context.Context) error {
		resp, err := get(ctx, plain, ps.origin()+"/public", nil)
		if err != nil {
			return err
		}
		if resp.status != http.StatusOK || string(resp.body) != "recorded\n" {
			return fmt.Errorf("GET /public: %d %.200s", resp.status, resp.body)
		}
		return nil
	})
}

// cookieHeader joins cookies as a Cookie header value.
func cookieHeader(cs []*http.Cookie) string {
	var parts []string
	for _, c := range cs {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

// checkAppCookies: a signed-in and an anonymous request that the policy
// admits reach the app with the app's own cookie, without gatehouse's.
func (s *suite) checkAppCookies(t *testing.T, orc *oracle, rec *recorder, v corpusVars, alice string, send func([]byte) (int, error)) {
	t.Helper()
	rec.take()
	for _, c := range []struct{ who, cookie, path string }{
		{"alice", alice + "; app_pref=kept", "/dashboard"},
		{"anonymous", v.cookieName + "=forged; " + v.cookieName + "_login=x; app_pref=kept", "/public"},
	} {
		v := v
		v.cookie = c.cookie
		id := "cookie-" + c.who
		st, err := send(probe{head: "GET " + c.path + " HTTP/1.1"}.build(v, id))
		if err != nil || st != http.StatusOK {
			t.Errorf("%s GET %s: %d, %v; want 200", c.who, c.path, st, err)
			continue
		}
		var got *rawRequest
		for _, r := range rec.take() {
			if r.first("X-Diff-Id") == id {
				got = r
			}
		}
		if got == nil {
			t.Errorf("%s GET %s: the app saw nothing", c.who, c.path)
			continue
		}
		cookies := strings.Join(got.values("Cookie"), "; ")
		if !strings.Contains(cookies, "app_pref=kept") {
			t.Errorf("%s GET %s: the app lost its own cookie: Cookie %q", c.who, c.path, got.values("Cookie"))
		}
		if len(orc.ownCookies(got)) > 0 {
			t.Errorf("%s GET %s: the app received gatehouse's cookie: Cookie %q", c.who, c.path, got.values("Cookie"))
		}
	}
}

// runCorpus sends every probe as every variant (four at a time) and
// returns what was sent by id (prefix, variant, index). A status of -1
// means send did not send it.
func runCorpus(t *testing.T, prefix string, v corpusVars, alice string, send func([]byte) (int, error)) map[string]*sent {
	t.Helper()
	variants := []variant{
		{"anonymous", v.cookieName + "=forged; " + v.cookieName + "_login=forged; app_pref=kept"},
		{"alice", alice + "; app_pref=kept"},
	}
	results := map[string]*sent{}
	var jobs []string
	for _, va := range variants {
		for i, p := range corpus() {
			vv := v
			vv.cookie = va.cookie
			id := fmt.Sprintf("%s%s-%d", prefix, va.name, i)
			results[id] = &sent{probe: p, variant: prefix + va.name, raw: p.build(vv, id)}
			jobs = append(jobs, id)
		}
	}
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := make(chan string)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range next {
				st, err := send(results[id].raw)
				if err != nil {
					t.Errorf("%s (%s): %v", results[id].probe.name, id, err)
				}
				mu.Lock()
				results[id].status = st
				mu.Unlock()
			}
		}()
	}
	for _, id := range jobs {
		next <- id
	}
	close(next)
	wg.Wait()
	proto := "HTTP/1.1"
	if prefix != "" {
		proto = strings.TrimSuffix(prefix, "-")
	}
	t.Logf("sent %d requests (%s) in %v", len(jobs), proto, time.Since(start).Round(time.Millisecond))
	return results
}

// judgeRecorded runs the oracle on every request the app received and
// reports each violation with the request sent and what the app got. The
// full table (every probe, its status, whether it reached the app) goes to
// file.
func judgeRecorded(t *testing.T, name string, orc *oracle, got []*rawRequest, results map[string]*sent, file string) {
	t.Helper()
	reached := map[string]int{}
	var report strings.Builder
	violations := 0
	for _, r := range got {
		id := r.first("X-Diff-Id")
		reached[id]++
		bad := orc.judge(r)
		if len(bad) == 0 {
			continue
		}
		violations++
		what := "a request the corpus did not send (smuggled or split by the proxy)"
		if s, ok := results[id]; ok {
			what = fmt.Sprintf("%q as %s, client got %d\n      sent: %q", s.probe.name, s.variant, s.status, s.raw)
		}
		msg := fmt.Sprintf("%s: %s\n      app received: %s\n      %s", name, what, r, strings.Join(bad, "\n      "))
		fmt.Fprintln(&report, "VIOLATION "+msg)
		if violations <= 40 {
			t.Error(msg)
		}
	}
	if violations > 40 {
		t.Errorf("%s: %d violations in all (the first 40 are above; every one is in %s)", name, violations, file)
	}
	n := 0
	for id, s := range results {
		if reached[id] > 0 {
			n++
		}
		fmt.Fprintf(&report, "%-10s %-60q status=%d reached_app=%d\n", s.variant, s.probe.name, s.status, reached[id])
	}
	if err := os.WriteFile(file, []byte(report.String()), 0o644); err != nil {
		t.Error(err)
	}
	t.Logf("%s: %d of %d requests reached the app, %d violations (table: %s)", name, n, len(results), violations, file)
	// The oracle judged something: the corpus has requests the policy
	// admits, and they must arrive.
	if n < 20 {
		t.Errorf("%s: only %d corpus requests reached the app; the harness is not exercising the proxy", name, n)
	}
}

// differentialEnvoy runs the corpus through the Envoy simulation against a
// gatehouse replica with gRPC, sharing the nginx run's sessions.
func (s *suite) differentialEnvoy(t *testing.T, ns *diffStack) {
	ctx := t.Context()
	cfg := ns.cfg
	cfg.Addr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg.GRPCAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	gh, err := startGatehouse(ctx, ns.dir, "gatehouse-envoy", s.tools["gatehouse"], cfg)
	if err != nil {
		t.Fatalf("gatehouse: %v", err)
	}
	t.Cleanup(gh.stop)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("---- %s log (tail) ----\n%s", gh.name, gh.tail(3000))
		}
	})
	conn, err := grpc.NewClient(cfg.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rd, _ := url.Parse(cfg.RedirectURL)
	host := rd.Hostname()
	sim, err := newEnvoySim(host, authv3.NewAuthorizationClient(conn))
	if err != nil {
		t.Fatal(err)
	}
	orc, err := newOracle(filepath.Join(ns.dir, "gatehouse-envoy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	orc.cookieName = ns.cookieName
	var mu sync.Mutex
	var got []*rawRequest
	send := func(raw []byte) (int, error) {
		out, err := sim.handle(ctx, raw)
		if err != nil {
			return 0, err
		}
		if out.upstream != nil {
			mu.Lock()
			got = append(got, out.upstream)
			mu.Unlock()
		}
		return out.status, nil
	}
	// The listener's port as envoy.yaml names it in the app's domains.
	vars := corpusVars{host: host, port: "8080", status: "status." + host, cookieName: orc.cookieName}
	results := runCorpus(t, "", vars, ns.cookie, send)
	mu.Lock()
	defer mu.Unlock()
	judgeRecorded(t, "envoy-ext_authz", orc, got, results, filepath.Join(s.dir, "differential-envoy.txt"))
	checkWebsocket(t, "envoy-ext_authz", got, results)
	checkEnvoyCookies(t, orc, got, results)
}

// checkEnvoyCookies: alice's plain GET /dashboard reached the app with the
// app's cookie and without gatehouse's.
func checkEnvoyCookies(t *testing.T, orc *oracle, got []*rawRequest, results map[string]*sent) {
	t.Helper()
	for _, r := range got {
		s, ok := results[r.first("X-Diff-Id")]
		if !ok || s.variant != "alice" || s.probe.name != "GET /dashboard" {
			continue
		}
		cookies := strings.Join(r.values("cookie"), "; ")
		if !strings.Contains(cookies, "app_pref=kept") || len(orc.ownCookies(r)) > 0 {
			t.Errorf("alice GET /dashboard through ext_authz: the app got Cookie %q; want app_pref=kept and no gatehouse cookie", r.values("cookie"))
		}
		return
	}
	t.Error("alice's GET /dashboard did not reach the app through ext_authz")
}
