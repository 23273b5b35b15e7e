//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// haproxyOverlay writes deploy/haproxy/{haproxy.cfg,gatehouse.spoe.conf}
// into s.Dir with loopback listeners, the host name, the suite's addresses
// and a self-signed certificate, and returns the haproxy.cfg path.
func haproxyOverlay(s proxySetup) (string, error) {
	crt, key, err := selfSignedCert(s.Dir, s.Host)
	if err != nil {
		return "", err
	}
	// HAProxy wants the certificate and its key in one PEM file.
	pem := filepath.Join(s.Dir, "tls.pem")
	var both []byte
	for _, f := range []string{crt, key} {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		both = append(both, b...)
	}
	if err := os.WriteFile(pem, both, 0o600); err != nil {
		return "", err
	}
	spoe := filepath.Join(s.Dir, "gatehouse.spoe.conf")
	if err := overlayFile("haproxy/gatehouse.spoe.conf", spoe); err != nil {
		return "", err
	}
	v6 := func(port int, rest string) string {
		if !s.IPv6 {
			return "# (no IPv6 loopback in this test)"
		}
		return fmt.Sprintf("bind [::1]:%d%s", port, rest)
	}
	tlsRest := " ssl crt " + pem + " alpn h2,http/1.1"
	unavailable, err := filepath.Abs(filepath.Join("..", "deploy", "nginx", "gatehouse-unavailable.html"))
	if err != nil {
		return "", err
	}
	conf := filepath.Join(s.Dir, "haproxy.cfg")
	err = overlayFile("haproxy/haproxy.cfg", conf,
		"log /dev/log local0", "log stderr format raw local0",
		"bind :80\n", fmt.Sprintf("bind 127.0.0.1:%d\n", s.HTTPPort),
		"bind [::]:80\n", v6(s.HTTPPort, "")+"\n",
		"bind :443 ssl crt /etc/haproxy/certs/app.example.com.pem alpn h2,http/1.1", fmt.Sprintf("bind 127.0.0.1:%d%s", s.HTTPSPort, tlsRest),
		"bind [::]:443 ssl crt /etc/haproxy/certs/app.example.com.pem alpn h2,http/1.1", v6(s.HTTPSPort, tlsRest),
		"/etc/haproxy/gatehouse.spoe.conf", spoe,
		"/etc/haproxy/gatehouse-unavailable.html", unavailable,
		`app\.example\.com`, regexp.QuoteMeta(s.Host),
		"app.example.com", s.Host,
		"127.0.0.1:5050", s.AppAddr,
		"127.0.0.1:4180", s.GatehouseAddr,
		"127.0.0.1:4190", s.SPOEAddr,
	)
	return conf, err
}

// startHAProxy runs deploy/haproxy's files (see haproxyOverlay) in the
// foreground.
func startHAProxy(ctx context.Context, s proxySetup, bin string) (*proc, error) {
	conf, err := haproxyOverlay(s)
	if err != nil {
		return nil, err
	}
	if out, err := exec.CommandContext(ctx, bin, "-c", "-f", conf).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("haproxy -c: %v\n%s", err, out)
	}
	return startProc(s.Dir, "haproxy", nil, bin, "-db", "-f", conf)
}

// TestShippedHAProxyConfigValid checks deploy/haproxy's files, through the
// overlay the end-to-end runs use, with HAProxy's own parser.
func TestShippedHAProxyConfigValid(t *testing.T) {
	bin, err := lookTool("GATEHOUSE_E2E_HAPROXY", "haproxy", "/usr/sbin/haproxy")
	if err != nil {
		t.Fatal(err)
	}
	ps := proxySetup{Dir: t.TempDir(), Host: "app.check.localhost", HTTPPort: 18080, HTTPSPort: 18443,
		GatehouseAddr: "127.0.0.1:14180", SPOEAddr: "127.0.0.1:14190", AppAddr: "127.0.0.1:15050", IPv6: true}
	conf, err := haproxyOverlay(ps)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-c", "-f", conf).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
}

// TestHAProxyFailsClosed: through the shipped HAProxy config, a session
// store that stops answering gives 503 (never a login redirect, never the
// app), and so does an agent that hangs or is gone: HAProxy sends no
// request gatehouse did not allow, not even one for a public route.
func TestHAProxyFailsClosed(t *testing.T) {
	s := newSuite(t)
	ctx := t.Context()
	redisBin, err := lookTool("GATEHOUSE_E2E_REDIS_SERVER", "redis-server", "/usr/sbin/redis-server", "/usr/bin/redis-server")
	if err != nil {
		t.Fatal(err)
	}
	ps := s.setups["haproxy"]
	ps.Dir = filepath.Join(ps.Dir, "faults")
	rs := &privateRedis{bin: redisBin, dir: filepath.Join(ps.Dir, "redis"), port: freePort(t)}
	if err := os.MkdirAll(rs.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := rs.start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rs.stop)

	ps.GatehouseAddr, ps.AppAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t)), s.echoAddr
	cfg := gatehouseConfig{
		Addr: ps.GatehouseAddr, SPOEAddr: ps.SPOEAddr, Issuer: s.op.issuer, RedirectURL: ps.origin() + "/oauth2/callback",
		CookieKey: newCookieKey(), RedisAddr: rs.addr(), KeyPrefix: "gatehouse-e2e-haproxy-faults:", LogLevel: "info",
		// No session cache: a store outage shows on the next request.
		Session: "  timeout: 300ms\n  cache_size: 0\n",
	}
	gh, err := startGatehouse(ctx, ps.Dir, "gatehouse-a", s.tools["gatehouse"], cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = gh.cmd.Process.Signal(syscall.SIGCONT)
		gh.stop()
	})
	px, err := startHAProxy(ctx, ps, s.tools["haproxy"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(px.stop)
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range []*proc{gh, px, rs.p} {
				t.Logf("---- %s log (tail) ----\n%s", p.name, p.tail(3000))
			}
		}
	})
	if err := s.waitRoute(ctx, px, ps); err != nil {
		t.Fatal(err)
	}

	alice := newClient(true)
	appURL := ps.origin() + "/dashboard?probe=haproxy-login-" + randHex(4)
	res, err := goLogin(ctx, alice, appURL, userAlice)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != http.StatusOK || res.FinalURL != appURL {
		t.Fatalf("login: %d at %s: %.300s", res.Status, res.FinalURL, res.Body)
	}
	var parts []string
	for _, c := range res.Cookies {
		parts = append(parts, c.Name+"="+c.Value)
	}
	cookie := strings.Join(parts, "; ")

	// signedIn asks for a page as alice and reports the answer and whether
	// the app was reached.
	signedIn := func(accept string) (*reply, bool) {
		t.Helper()
		probe := "hf-" + randHex(4)
		r, err := get(ctx, newClient(false), ps.origin()+"/projects?probe="+probe, [][2]string{{"Accept", accept}, {"Cookie", cookie}})
		if err != nil {
			t.Fatalf("GET /projects: %v", err)
		}
		return r, s.echo.seen(probe) > 0
	}
	if r, reached := signedIn("application/json"); r.status != http.StatusOK || !reached {
		t.Fatalf("before the outage: %d (app reached: %v), want 200", r.status, reached)
	} else if e, err := decodeEcho(r.body); err != nil || !slices.Equal(e.headerValues("X-Auth-Request-Email"), []string{userAlice.Email}) {
		t.Fatalf("before the outage the app saw %.300s", r.body)
	}

	t.Run("store-outage", func(t *testing.T) {
		if err := rs.pause(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := rs.resume(); err != nil {
				t.Error(err)
			}
		}()
		for _, c := range []struct{ accept, body string }{
			{"text/html,application/xhtml+xml", "<code>store_unavailable</code>"},
			{"application/json", "store"},
		} {
			r, reached := signedIn(c.accept)
			t.Logf("Redis stopped, Accept %s: %d Retry-After=%q %.120q", c.accept, r.status, r.header.Get("Retry-After"), r.body)
			if r.status != http.StatusServiceUnavailable || reached || r.header.Get("Location") != "" || r.header.Get("Retry-After") == "" || !strings.Contains(string(r.body), c.body) {
				t.Errorf("Accept %s during the outage: %d (app reached: %v) Location %q Retry-After %q body %.200s; want gatehouse's 503",
					c.accept, r.status, reached, r.header.Get("Location"), r.header.Get("Retry-After"), r.body)
			}
		}
	})
	t.Run("after-outage", func(t *testing.T) {
		deadline := time.Now().Add(10 * time.Second)
		for {
			r, reached := signedIn("application/json")
			if r.status == http.StatusOK && reached {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("after Redis resumed: %d (app reached: %v), want 200", r.status, reached)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})

	// refusedByHAProxy: every request gets HAProxy's own 503 (the static
	// page for a browser, JSON otherwise) and never reaches the app, signed
	// in or not, public route or not.
	page, err := os.ReadFile(filepath.Join("..", "deploy", "nginx", "gatehouse-unavailable.html"))
	if err != nil {
		t.Fatal(err)
	}
	refusedByHAProxy := func(t *testing.T, what string) {
		t.Helper()
		for _, req := range []struct {
			path, body string
			hdr        [][2]string
		}{
			{"/projects", `{"error":"gatehouse unavailable"}`, [][2]string{{"Accept", "application/json"}, {"Cookie", cookie}}},
			{"/projects", string(page), [][2]string{{"Accept", "text/html,application/xhtml+xml"}, {"Cookie", cookie}}},
			{"/public/logo.png", `{"error":"gatehouse unavailable"}`, nil},
		} {
			probe := "hf-" + randHex(4)
			start := time.Now()
			r, err := get(ctx, newClient(false), ps.origin()+req.path+"?probe="+probe, req.hdr)
			if err != nil {
				t.Fatalf("%s: GET %s: %v", what, req.path, err)
			}
			t.Logf("%s: GET %s: %d in %s %.80q", what, req.path, r.status, time.Since(start).Round(time.Millisecond), r.body)
			if r.status != http.StatusServiceUnavailable || s.echo.seen(probe) != 0 || string(r.body) != req.body || r.header.Get("Retry-After") == "" {
				t.Errorf("%s: GET %s: %d (app reached %d times) Retry-After %q %.200s; want HAProxy's 503 (%.40q) and never the app",
					what, req.path, r.status, s.echo.seen(probe), r.header.Get("Retry-After"), r.body, req.body)
			}
		}
	}
	t.Run("agent-hangs", func(t *testing.T) {
		if err := gh.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = gh.cmd.Process.Signal(syscall.SIGCONT) }()
		refusedByHAProxy(t, "agent stopped (SIGSTOP)")
	})
	t.Run("agent-down", func(t *testing.T) {
		if err := gh.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-gh.done
		refusedByHAProxy(t, "agent killed")
	})
}
