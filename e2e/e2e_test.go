//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// suite is what every proxy's tests share: tools, the provider, the echo
// app, Redis.
type suite struct {
	dir       string
	tools     map[string]string
	echo      *echoApp
	echoAddr  string
	op        *provider
	rdb       *redis.Client
	redisAddr string
	prefix    string // unique per run; every key the run makes starts with it
	ipv6      bool
	setups    map[string]proxySetup
}

func redisAddr() string {
	if a := os.Getenv("GATEHOUSE_TEST_REDIS"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// newSuite finds the tools, builds gatehouse, and starts the provider and
// the echo app. Everything it starts is stopped by t.Cleanup.
func newSuite(t testing.TB) *suite {
	ctx := t.Context()
	s := &suite{dir: t.TempDir(), tools: map[string]string{}, setups: map[string]proxySetup{}}
	if d := os.Getenv("GATEHOUSE_E2E_KEEP"); d != "" { // keep logs for a post-mortem
		s.dir = d
		os.MkdirAll(d, 0o755)
	}
	cache := os.Getenv("GATEHOUSE_E2E_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "gatehouse-e2e")
	}
	for _, tool := range []struct {
		key, env string
		cands    []string
	}{
		{"nginx", "GATEHOUSE_E2E_NGINX", []string{"nginx", "/usr/sbin/nginx"}},
		{"caddy", "GATEHOUSE_E2E_CADDY", []string{"caddy"}},
		{"haproxy", "GATEHOUSE_E2E_HAPROXY", []string{"haproxy", "/usr/sbin/haproxy"}},
		{"traefik", "GATEHOUSE_E2E_TRAEFIK", []string{filepath.Join(cache, "bin", "traefik-v3.6.12")}},
		{"op", "GATEHOUSE_E2E_OP", []string{filepath.Join(cache, "bin", "zitadel-oidc-example-v3.52.0")}},
		{"socat", "GATEHOUSE_E2E_SOCAT", []string{"socat"}},
		{"node", "GATEHOUSE_E2E_NODE", []string{"node"}},
		{"chromium", "GATEHOUSE_E2E_CHROMIUM", []string{"/usr/bin/chromium"}},
		{"unshare", "GATEHOUSE_E2E_UNSHARE", []string{"unshare"}},
	} {
		p, err := lookTool(tool.env, tool.cands...)
		if err != nil {
			t.Fatalf("%s: %v", tool.key, err)
		}
		s.tools[tool.key] = p
	}
	if _, err := os.Stat("browser/node_modules/playwright-core"); err != nil {
		t.Fatalf("playwright-core is not installed: run scripts/e2e.sh (or npm ci in e2e/browser): %v", err)
	}

	// gatehouse itself, built from this checkout.
	if b := os.Getenv("GATEHOUSE_E2E_BIN"); b != "" {
		s.tools["gatehouse"] = b
	} else {
		bin := filepath.Join(s.dir, "gatehouse")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/gatehouse")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build ./cmd/gatehouse: %v\n%s", err, out)
		}
		s.tools["gatehouse"] = bin
	}

	// Redis: the real one, with a key prefix of our own.
	s.redisAddr = redisAddr()
	s.rdb = redis.NewClient(&redis.Options{Addr: s.redisAddr, DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second})
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := s.rdb.Ping(pctx).Err(); err != nil {
		t.Fatalf("Redis at %s (GATEHOUSE_TEST_REDIS): %v", s.redisAddr, err)
	}
	s.prefix = "gatehouse-e2e-" + randHex(6) + ":"
	t.Cleanup(func() {
		n, err := s.deleteKeys(context.Background())
		if err != nil {
			t.Errorf("cleaning Redis keys %s*: %v", s.prefix, err)
		}
		t.Logf("removed %d Redis keys under %s", n, s.prefix)
		s.rdb.Close()
	})

	if l, err := net.Listen("tcp", "[::1]:0"); err == nil {
		s.ipv6 = true
		l.Close()
	}

	// Ports for every proxy first: the provider must know all redirect URIs.
	var redirectURIs []string
	for _, k := range suiteKinds() {
		dir := filepath.Join(s.dir, k.name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		ps := proxySetup{
			Dir: dir, Host: "app." + k.name + ".localhost",
			HTTPPort: freePort(t), HTTPSPort: freePort(t), AdminPort: freePort(t), IPv6: s.ipv6,
			SPOEAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		}
		s.setups[k.name] = ps
		redirectURIs = append(redirectURIs, ps.origin()+"/oauth2/callback")
	}

	s.echoAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	echo, err := startEcho(s.echoAddr)
	if err != nil {
		t.Fatal(err)
	}
	s.echo = echo
	t.Cleanup(echo.stop)

	op, err := startProvider(ctx, s.dir, s.tools["op"], s.tools["socat"], freePort(t), redirectURIs)
	if err != nil {
		t.Fatalf("OIDC provider: %v", err)
	}
	s.op = op
	t.Cleanup(op.stop)
	return s
}

func (ps proxySetup) origin() string {
	return fmt.Sprintf("https://%s:%d", ps.Host, ps.HTTPSPort)
}

// deleteKeys removes every key of this run.
func (s *suite) deleteKeys(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	n := 0
	iter := s.rdb.Scan(ctx, 0, s.prefix+"*", 500).Iterator()
	for iter.Next(ctx) {
		if err := s.rdb.Del(ctx, iter.Val()).Err(); err != nil {
			return n, err
		}
		n++
	}
	return n, iter.Err()
}

func (s *suite) countKeys(ctx context.Context, prefix string) (int, error) {
	n := 0
	iter := s.rdb.Scan(ctx, 0, prefix+"*", 500).Iterator()
	for iter.Next(ctx) {
		n++
	}
	return n, iter.Err()
}

// TestEndToEnd runs every scenario through nginx, Caddy and Traefik.
func TestEndToEnd(t *testing.T) {
	s := newSuite(t)
	for _, k := range proxyKinds {
		t.Run(k.name, func(t *testing.T) { s.runProxy(t, k) })
	}
}

// stack is one proxy with its two gatehouse replicas.
type stack struct {
	ps        proxySetup
	replicaA  string // the proxy asks this one
	replicaB  string // only reached directly, to show sessions are shared
	keyPrefix string
	aliceJar  *http.Client // signed in as alice (set by the login test)
	bobJar    *http.Client // signed in as bob
	procs     []*proc
}

func (s *suite) runProxy(t *testing.T, k proxyKind) {
	ctx := t.Context()
	ps := s.setups[k.name]
	st := &stack{ps: ps, keyPrefix: s.prefix + k.name + ":"}
	st.replicaA = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	st.replicaB = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	ps.GatehouseAddr, ps.AppAddr = st.replicaA, s.echoAddr

	cfg := gatehouseConfig{
		Issuer: s.op.issuer, RedirectURL: ps.origin() + "/oauth2/callback",
		CookieKey: newCookieKey(), RedisAddr: s.redisAddr, KeyPrefix: st.keyPrefix,
	}
	for _, r := range []struct{ name, addr string }{{"gatehouse-a", st.replicaA}, {"gatehouse-b", st.replicaB}} {
		c := cfg
		c.Addr = r.addr
		if r.name == "gatehouse-a" {
			c.SPOEAddr = ps.SPOEAddr // HAProxy asks replica A too
		}
		p, err := startGatehouse(ctx, ps.Dir, r.name, s.tools["gatehouse"], c)
		if err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		t.Cleanup(p.stop)
		st.procs = append(st.procs, p)
	}

	px, err := k.start(ctx, ps, s.tools[k.name])
	if err != nil {
		t.Fatalf("start %s: %v", k.name, err)
	}
	t.Cleanup(px.stop)
	st.procs = append(st.procs, px)
	if err := s.waitRoute(ctx, px, ps); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range st.procs {
				t.Logf("---- %s log (tail) ----\n%s", p.name, p.tail(4000))
			}
		}
	})

	t.Run("browser", func(t *testing.T) { s.browserFlow(t, st) })
	t.Run("login", func(t *testing.T) { s.goLogins(t, st) })
	if st.aliceJar == nil {
		t.Fatal("no session for alice; the remaining scenarios need one")
	}
	t.Run("spoofed-identity", func(t *testing.T) { s.spoofIdentity(t, st) })
	t.Run("spoofed-forwarded", func(t *testing.T) { s.spoofForwarded(t, st) })
	t.Run("spoofed-host", func(t *testing.T) { s.spoofHost(t, st) })
	t.Run("replicas", func(t *testing.T) { s.replicas(t, st) })
	t.Run("http-to-https", func(t *testing.T) { s.httpRedirect(t, st) })
	t.Run("no-secrets-in-logs", func(t *testing.T) {
		for _, p := range st.procs[:2] {
			if logHas(p, cfg.CookieKey) || logHas(p, "client_secret: secret") {
				t.Errorf("%s logged a secret", p.name)
			}
		}
	})
}

// waitRoute waits until a public (skip-route) request travels from the
// proxy px through gatehouse to the app.
func (s *suite) waitRoute(ctx context.Context, px *proc, ps proxySetup) error {
	probe := "ready-" + randHex(4)
	plain := newClient(false)
	return px.waitReady(ctx, "route to the app", func(ctx context.Context) error {
		resp, err := get(ctx, plain, ps.origin()+"/public?probe="+probe, nil)
		if err != nil {
			return err
		}
		if resp.status != http.StatusOK || s.echo.seen(probe) == 0 {
			return fmt.Errorf("GET /public: %d %.200s", resp.status, resp.body)
		}
		return nil
	})
}

// reply is a response read in full.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// get sends GET url with the headers given as name/value pairs, each name
// sent exactly as spelled (no canonicalization), repeated names allowed.
func get(ctx context.Context, c *http.Client, u string, hdr [][2]string) (*reply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	for _, h := range hdr {
		if strings.EqualFold(h[0], "Host") {
			req.Host = h[1]
			continue
		}
		req.Header[h[0]] = append(req.Header[h[0]], h[1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return &reply{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// browserFlow runs e2e/browser/login-flow.mjs in headless Chromium.
func (s *suite) browserFlow(t *testing.T, st *stack) {
	appURL := st.ps.origin() + "/projects/42/experiments?view=table&q=a%20b&x=1"
	cfg, _ := json.Marshal(map[string]string{
		"appURL": appURL, "user": userAlice.Username, "password": userAlice.Password, "email": userAlice.Email,
		"forbiddenUser": userBob.Username, "forbiddenPassword": userBob.Password,
	})
	ctx, cancel := context.WithTimeout(t.Context(), 150*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.tools["node"], "browser/login-flow.mjs")
	cmd.Env = append(os.Environ(), "E2E_BROWSER_CONFIG="+string(cfg), "E2E_CHROMIUM="+s.tools["chromium"], "TMPDIR="+st.ps.Dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var res struct {
		OK             bool     `json:"ok"`
		Steps          []string `json:"steps"`
		Error          string   `json:"error"`
		SessionCookies []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"sessionCookies"`
	}
	if jerr := json.Unmarshal(lastLine(out), &res); jerr != nil {
		t.Fatalf("browser flow: %v (%v)\nstdout: %s\nstderr: %s", err, jerr, out, stderr.String())
	}
	for _, step := range res.Steps {
		t.Log("browser: " + step)
	}
	if !res.OK || err != nil {
		t.Fatalf("browser flow failed: %s (exit: %v)\nstderr: %.2000s", res.Error, err, stderr.String())
	}
	// The cookies the browser held before signing out must no longer open
	// a session, on either replica: sign-out revoked it in Redis.
	var cookie []string
	for _, c := range res.SessionCookies {
		cookie = append(cookie, c.Name+"="+c.Value)
	}
	for _, addr := range []string{st.replicaA, st.replicaB} {
		r, err := forwardAuth(t.Context(), addr, st.ps, "/after-sign-out", strings.Join(cookie, "; "))
		if err != nil {
			t.Fatal(err)
		}
		if r.status == http.StatusOK {
			t.Errorf("replica %s still accepts the session cookie after sign-out (identity %q)", addr, r.header.Get("X-Auth-Request-Email"))
		}
	}
}

func lastLine(b []byte) []byte {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return lines[len(lines)-1]
}

// forwardAuth asks a replica directly, as Traefik would, about a GET of
// path on the stack's host.
func forwardAuth(ctx context.Context, addr string, ps proxySetup, path, cookie string) (*reply, error) {
	hdr := [][2]string{
		{"X-Forwarded-Method", "GET"}, {"X-Forwarded-Proto", "https"},
		{"X-Forwarded-Host", fmt.Sprintf("%s:%d", ps.Host, ps.HTTPSPort)},
		{"X-Forwarded-Uri", path}, {"X-Forwarded-For", "127.0.0.1"}, {"Accept", "application/json"},
	}
	if cookie != "" {
		hdr = append(hdr, [2]string{"Cookie", cookie})
	}
	return get(ctx, newClient(false), "http://"+addr+"/authz/forward-auth", hdr)
}

// goLogins signs alice and bob in with a Go client, through the proxy.
func (s *suite) goLogins(t *testing.T, st *stack) {
	ctx := t.Context()
	appURL := st.ps.origin() + "/dashboard?tab=1&probe=login-" + randHex(4)
	alice := newClient(true)
	res, err := goLogin(ctx, alice, appURL, userAlice)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != http.StatusOK || res.FinalURL != appURL {
		t.Fatalf("alice: got %d at %s, want 200 at %s: %.300s", res.Status, res.FinalURL, appURL, res.Body)
	}
	e, err := decodeEcho(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.headerValues("X-Auth-Request-Email"); !slices.Equal(got, []string{userAlice.Email}) {
		t.Fatalf("alice: app saw X-Auth-Request-Email %q", got)
	}
	st.aliceJar = alice
	n, err := s.countKeys(ctx, st.keyPrefix)
	if err != nil || n == 0 {
		t.Errorf("no session keys under %s in Redis after login (n=%d, err=%v)", st.keyPrefix, n, err)
	}

	bob := newClient(true)
	res, err = goLogin(ctx, bob, appURL, userBob)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != http.StatusForbidden || bytes.Contains(res.Body, []byte(`"headers"`)) {
		t.Fatalf("bob (forbidden domain): got %d at %s, want 403: %.300s", res.Status, res.FinalURL, res.Body)
	}
	st.bobJar = bob
}

// noFollow returns a client with c's cookies that does not follow redirects.
func noFollow(c *http.Client) *http.Client {
	n := *c
	n.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &n
}

// identityNames are the headers gatehouse sets; otherNames carry identity in
// other products and must never reach the app.
var (
	identityNames = []string{"X-Auth-Request-User", "X-Auth-Request-Email", "X-Auth-Request-Groups", "X-Auth-Request-Preferred-Username"}
	otherNames    = []string{"Remote-User", "X-Remote-User", "X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Groups", "X-Forwarded-Preferred-Username"}
)

// spoofHeaders claims a different identity in every spelling a proxy or a
// WSGI app might confuse with the real headers.
func spoofHeaders() [][2]string {
	return [][2]string{
		{"X-Auth-Request-Email", "mallory@allowed.test"},
		{"x-auth-request-email", "mallory2@allowed.test"},
		{"X_Auth_Request_Email", "mallory3@allowed.test"},
		{"x_auth_request_email", "mallory4@allowed.test"},
		{"X-AUTH-REQUEST-USER", "root"},
		{"X_Auth_Request_User", "root"},
		{"X-Auth-Request-Groups", "admins"},
		{"X_Auth_Request_Groups", "admins"},
		{"X-Auth-Request-Preferred-Username", "root"},
		{"X_Auth_Request_Preferred_Username", "root"},
		{"X-Forwarded-User", "root"},
		{"x-forwarded-user", "root"},
		{"X_Forwarded_User", "root"},
		{"X-Forwarded-Email", "mallory@allowed.test"},
		{"X_Forwarded_Email", "mallory@allowed.test"},
		{"Remote-User", "root"},
		{"remote-user", "root"},
		{"Remote_User", "root"},
		{"REMOTE_USER", "root"},
		{"X-Remote-User", "root"},
	}
}

// identityOf is what the app was told about the user, with every spelling
// of each identity header folded together; an absent header and an empty
// one are the same (no identity).
func identityOf(e *echoReply) map[string][]string {
	out := map[string][]string{}
	for _, n := range identityNames {
		var vals []string
		for _, v := range e.headerValues(n) {
			if v != "" {
				vals = append(vals, v)
			}
		}
		out[n] = vals
	}
	return out
}

func (s *suite) spoofIdentity(t *testing.T, st *stack) {
	ctx := t.Context()
	alice := noFollow(st.aliceJar)
	base := st.ps.origin() + "/private?probe="

	// The baseline: alice, no spoofing.
	r, err := get(ctx, alice, base+"base-"+randHex(4), [][2]string{{"Accept", "application/json"}})
	if err != nil {
		t.Fatal(err)
	}
	e, err := decodeEcho(r.body)
	if err != nil {
		t.Fatalf("baseline: %d: %v", r.status, err)
	}
	want := identityOf(e)
	if !slices.Equal(want["X-Auth-Request-Email"], []string{userAlice.Email}) {
		t.Fatalf("baseline identity: %v", want)
	}

	t.Run("signed-in", func(t *testing.T) {
		for _, accept := range []string{"application/json", "text/html"} {
			r, err := get(ctx, alice, base+"spoof-"+randHex(4), append(spoofHeaders(), [2]string{"Accept", accept}))
			if err != nil {
				t.Fatal(err)
			}
			e, err := decodeEcho(r.body)
			if err != nil {
				t.Fatalf("%d: %v", r.status, err)
			}
			if got := identityOf(e); !mapsEqual(got, want) {
				t.Errorf("Accept %s: app saw identity %v, want %v (all headers: %v)", accept, got, want, e.Headers)
			}
			for _, n := range otherNames {
				if v := e.headerValues(n); len(v) > 0 {
					t.Errorf("app received %s: %q", n, v)
				}
			}
		}
	})

	t.Run("anonymous", func(t *testing.T) {
		anon := newClient(false)
		for _, c := range []struct {
			accept string
			status int
		}{{"application/json", 401}, {"text/html", 302}} {
			probe := "anon-" + randHex(4)
			r, err := get(ctx, anon, base+probe, append(spoofHeaders(), [2]string{"Accept", c.accept}))
			if err != nil {
				t.Fatal(err)
			}
			if r.status != c.status || s.echo.seen(probe) != 0 {
				t.Errorf("Accept %s: %d (app reached %d times), want %d and never reached", c.accept, r.status, s.echo.seen(probe), c.status)
			}
		}
		// A public (skip) route passes, but with no identity at all.
		r, err := get(ctx, anon, st.ps.origin()+"/public?probe=pub-"+randHex(4), spoofHeaders())
		if err != nil {
			t.Fatal(err)
		}
		e, err := decodeEcho(r.body)
		if err != nil {
			t.Fatalf("public route: %d: %v", r.status, err)
		}
		for n, v := range identityOf(e) {
			if len(v) > 0 {
				t.Errorf("public route: app saw %s %q from an anonymous client", n, v)
			}
		}
		for _, n := range otherNames {
			if v := e.headerValues(n); len(v) > 0 {
				t.Errorf("public route: app received %s: %q", n, v)
			}
		}
	})

	t.Run("forbidden-user", func(t *testing.T) {
		probe := "bob-" + randHex(4)
		r, err := get(ctx, noFollow(st.bobJar), base+probe, append(spoofHeaders(),
			[2]string{"X-Auth-Request-Email", userAlice.Email}, [2]string{"Accept", "application/json"}))
		if err != nil {
			t.Fatal(err)
		}
		if r.status != http.StatusForbidden || s.echo.seen(probe) != 0 {
			t.Errorf("bob claiming alice's email: %d (app reached %d times), want 403", r.status, s.echo.seen(probe))
		}
	})
}

func mapsEqual(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// forwardedSpoof claims a different URL, host, method and client address.
func forwardedSpoof(ps proxySetup) [][2]string {
	pub := ps.origin() + "/public"
	return [][2]string{
		{"X-Forwarded-Uri", "/public"},
		{"X_Forwarded_Uri", "/public"},
		{"X-Original-URL", pub},
		{"X-Original-URI", "/public"},
		{"X-Rewrite-URL", "/public"},
		{"X-Forwarded-Host", "evil.localhost"},
		{"X-Forwarded-Proto", "http"},
		{"X-Forwarded-Method", "OPTIONS"},
		{"X-Forwarded-Prefix", "/public"},
		{"X-Forwarded-For", "10.1.2.3"},
		{"X-Real-IP", "10.1.2.3"},
		{"Forwarded", "for=10.1.2.3;host=evil.localhost;proto=http"},
	}
}

func (s *suite) spoofForwarded(t *testing.T, st *stack) {
	ctx := t.Context()
	anon := newClient(false)
	path := "/private/data?probe="

	// An API client claiming the public route gets 401; the app never sees it.
	probe := "fwd-" + randHex(4)
	r, err := get(ctx, anon, st.ps.origin()+path+probe, append(forwardedSpoof(st.ps), [2]string{"Accept", "application/json"}))
	if err != nil {
		t.Fatal(err)
	}
	if r.status != http.StatusUnauthorized || s.echo.seen(probe) != 0 {
		t.Errorf("spoofed X-Forwarded-Uri/X-Original-URL: %d (app reached %d times), want 401, never reached", r.status, s.echo.seen(probe))
	}

	// A browser is sent to sign in on the real host, to come back to the
	// real URL, whatever host the client claimed.
	probe = "fwd-" + randHex(4)
	r, err = get(ctx, anon, st.ps.origin()+path+probe, append(forwardedSpoof(st.ps), [2]string{"Accept", "text/html"}))
	if err != nil {
		t.Fatal(err)
	}
	if r.status != http.StatusFound || s.echo.seen(probe) != 0 {
		t.Fatalf("browser with spoofed forwarded headers: %d (app reached %d times), want 302", r.status, s.echo.seen(probe))
	}
	origin, _ := url.Parse(st.ps.origin() + "/")
	loc, err := origin.Parse(r.header.Get("Location"))
	if err != nil {
		t.Fatalf("Location %q: %v", r.header.Get("Location"), err)
	}
	if loc.Host != origin.Host || loc.Scheme != "https" || loc.Path != "/oauth2/start" {
		t.Errorf("login redirect %s, want https://%s/oauth2/start", loc, origin.Host)
	}
	rd, err := url.Parse(loc.Query().Get("rd"))
	if err != nil || rd.Scheme != "https" || rd.Host != origin.Host || rd.Path != "/private/data" || rd.Query().Get("probe") != probe {
		t.Errorf("return URL %q, want %s%s%s", loc.Query().Get("rd"), st.ps.origin(), path, probe)
	}

	// Signed in: the app sees the real request and the real identity.
	probe = "fwd-" + randHex(4)
	r, err = get(ctx, noFollow(st.aliceJar), st.ps.origin()+path+probe, append(forwardedSpoof(st.ps), [2]string{"Accept", "application/json"}))
	if err != nil {
		t.Fatal(err)
	}
	e, err := decodeEcho(r.body)
	if err != nil {
		t.Fatalf("%d: %v", r.status, err)
	}
	if got := e.headerValues("X-Auth-Request-Email"); !slices.Equal(got, []string{userAlice.Email}) {
		t.Errorf("app saw X-Auth-Request-Email %q", got)
	}
	if e.URI != path+probe {
		t.Errorf("app saw URI %q, want %q", e.URI, path+probe)
	}
	for _, v := range e.headerValues("X-Forwarded-Host") {
		if strings.Contains(v, "evil") {
			t.Errorf("app received the client's X-Forwarded-Host %q", v)
		}
	}
}

func (s *suite) spoofHost(t *testing.T, st *stack) {
	ctx := t.Context()
	// A signed-in client naming another host in Host (TLS SNI is still the
	// app's name): the request must not reach the app.
	for _, host := range []string{"evil.localhost", fmt.Sprintf("evil.localhost:%d", st.ps.HTTPSPort)} {
		probe := "host-" + randHex(4)
		r, err := get(ctx, noFollow(st.aliceJar), st.ps.origin()+"/private?probe="+probe, [][2]string{{"Host", host}, {"Accept", "application/json"}})
		if s.echo.seen(probe) != 0 {
			status := 0
			if r != nil {
				status = r.status
			}
			t.Errorf("Host %s reached the app (status %d, err %v)", host, status, err)
		}
	}
}

// replicas shows a session made through replica A (via the proxy) is
// accepted by replica B, which never saw the login.
func (s *suite) replicas(t *testing.T, st *stack) {
	ctx := t.Context()
	au, _ := url.Parse(st.ps.origin() + "/")
	var cookie []string
	for _, c := range st.aliceJar.Jar.Cookies(au) {
		cookie = append(cookie, c.Name+"="+c.Value)
	}
	for _, addr := range []string{st.replicaA, st.replicaB} {
		r, err := forwardAuth(ctx, addr, st.ps, "/experiments?id=7", strings.Join(cookie, "; "))
		if err != nil {
			t.Fatal(err)
		}
		if r.status != http.StatusOK || r.header.Get("X-Auth-Request-Email") != userAlice.Email {
			t.Errorf("replica %s: %d, email %q; want 200 and %s", addr, r.status, r.header.Get("X-Auth-Request-Email"), userAlice.Email)
		}
		// nginx's endpoint too.
		r, err = get(ctx, newClient(false), "http://"+addr+"/authz/auth-request", [][2]string{
			{"X-Original-URL", st.ps.origin() + "/experiments?id=7"}, {"X-Forwarded-For", "127.0.0.1"}, {"Cookie", strings.Join(cookie, "; ")},
		})
		if err != nil {
			t.Fatal(err)
		}
		if r.status != http.StatusOK || r.header.Get("X-Auth-Request-Email") != userAlice.Email {
			t.Errorf("replica %s auth-request: %d, email %q", addr, r.status, r.header.Get("X-Auth-Request-Email"))
		}
	}
	// Control: without the cookie replica B does not allow.
	r, err := forwardAuth(ctx, st.replicaB, st.ps, "/experiments?id=7", "")
	if err != nil {
		t.Fatal(err)
	}
	if r.status != http.StatusUnauthorized {
		t.Errorf("replica B without a cookie: %d, want 401", r.status)
	}
}

// httpRedirect: plain HTTP only redirects to HTTPS, path and query kept.
func (s *suite) httpRedirect(t *testing.T, st *stack) {
	probe := "plain-" + randHex(4)
	u := fmt.Sprintf("http://%s:%d/private?probe=%s", st.ps.Host, st.ps.HTTPPort, probe)
	r, err := get(t.Context(), newClient(false), u, [][2]string{{"Accept", "text/html"}})
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := url.Parse(r.header.Get("Location"))
	if r.status < 301 || r.status > 308 || loc == nil || loc.Scheme != "https" || loc.Hostname() != st.ps.Host || loc.Path != "/private" || s.echo.seen(probe) != 0 {
		t.Errorf("GET %s: %d Location %q; want a redirect to https://%s/private", u, r.status, r.header.Get("Location"), st.ps.Host)
	}
}
