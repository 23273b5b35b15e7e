package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/oidctest"
)

func testRedisAddr() string {
	if a := os.Getenv("GATEHOUSE_TEST_REDIS"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// requireRedis fails the test when Redis is unreachable and deletes the
// test's keys afterwards.
func requireRedis(t *testing.T, prefix string) {
	t.Helper()
	rc := redis.NewClient(&redis.Options{Addr: testRedisAddr()})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rc.Ping(ctx).Err(); err != nil {
		t.Fatalf("Redis at %s unreachable (set GATEHOUSE_TEST_REDIS): %v", testRedisAddr(), err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := rc.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			rc.Del(ctx, keys...)
		}
		rc.Close()
	})
}

func randomKey(t *testing.T) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// instance is one gatehouse process, in-process.
type instance struct {
	url    string
	grpc   string // ext_authz address
	admin  string // admin listener address, when asked for
	cancel context.CancelFunc
	done   chan error
}

// startInstance runs newApp + Serve with env as its only configuration.
func startInstance(t *testing.T, env map[string]string) *instance {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	env["GATEHOUSE_HTTP_ADDR"] = ln.Addr().String()
	env["GATEHOUSE_OIDC_REDIRECT_URL"] = base + "/oauth2/callback"
	ls := Listeners{HTTP: ln}
	if ls.GRPC, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	env["GATEHOUSE_GRPC_ADDR"] = ls.GRPC.Addr().String()
	if env["GATEHOUSE_ADMIN_ADDR"] == "auto" {
		if ls.Admin, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		env["GATEHOUSE_ADMIN_ADDR"] = ls.Admin.Addr().String()
	}
	a, _ := appFromEnv(t, env)
	ctx, cancel := context.WithCancel(context.Background())
	inst := &instance{url: base, grpc: env["GATEHOUSE_GRPC_ADDR"], admin: env["GATEHOUSE_ADMIN_ADDR"], cancel: cancel, done: make(chan error, 1)}
	go func() { inst.done <- a.Serve(ctx, ls); a.Close() }()
	t.Cleanup(func() { inst.stop(t) })
	return inst
}

func (i *instance) stop(t *testing.T) {
	if i.cancel == nil {
		return
	}
	i.cancel()
	i.cancel = nil
	select {
	case err := <-i.done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Error("instance did not stop")
	}
}

func baseEnv(t *testing.T, p *oidctest.Provider, prefix string) map[string]string {
	return map[string]string{
		"GATEHOUSE_OIDC_ISSUER_URL":                p.Issuer(),
		"GATEHOUSE_OIDC_CLIENT_ID":                 p.Client().ID,
		"GATEHOUSE_OIDC_CLIENT_SECRET":             p.Client().Secret,
		"GATEHOUSE_COOKIE_SECURE":                  "false",
		"GATEHOUSE_SESSION_STORE":                  "redis",
		"GATEHOUSE_REDIS_ADDRS":                    testRedisAddr(),
		"GATEHOUSE_REDIS_KEY_PREFIX":               prefix,
		"GATEHOUSE_REDIRECT_ALLOWED_DOMAINS":       "app.example.com",
		"GATEHOUSE_ACCESS_EMAIL_DOMAINS":           "example.com",
		"GATEHOUSE_HTTP_SHUTDOWN_TIMEOUT":          "2s",
		"GATEHOUSE_LOG_LEVEL":                      "error",
		"GATEHOUSE_COOKIE_SECRETS":                 "",
		"GATEHOUSE_OIDC_ALLOW_UNVERIFIED_EMAIL":    "false",
		"GATEHOUSE_TRUSTED_PROXIES":                "127.0.0.0/8",
		"GATEHOUSE_SESSION_TIMEOUT":                "300ms",
		"GATEHOUSE_OIDC_TIMEOUT":                   "5s",
		"GATEHOUSE_ACCESS_ALLOW_ANY_AUTHENTICATED": "false",
	}
}

func forwardAuth(t *testing.T, c *http.Client, base, uri string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/authz/forward-auth", nil)
	req.Header.Set("X-Forwarded-Method", "GET")
	req.Header.Set("X-Forwarded-Proto", "http")
	req.Header.Set("X-Forwarded-Host", "app.example.com")
	req.Header.Set("X-Forwarded-Uri", uri)
	req.Header.Set("Accept", "text/html")
	req.Header.Set("X-Auth-Request-Email", "spoofed@example.com")
	resp, err := (&http.Client{Jar: c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestLoginAcrossReplicas: a user signs in through one replica; the other,
// on the same Redis, accepts the session; sign-out through the first ends
// it on both.
func TestLoginAcrossReplicas(t *testing.T) {
	prefix := fmt.Sprintf("gatehouse-test:%d:", time.Now().UnixNano())
	requireRedis(t, prefix)
	p := oidctest.Start(t, oidctest.Options{Users: []oidctest.User{
		{Subject: "u-alice", Email: "alice@example.com", EmailVerified: true, PreferredUsername: "alice", Groups: []string{"ops"}, Password: "pw-alice"},
		{Subject: "u-eve", Email: "eve@evil.test", EmailVerified: true, PreferredUsername: "eve", Password: "pw-eve"},
	}})
	key := randomKey(t)
	env1 := baseEnv(t, p, prefix)
	env1["GATEHOUSE_COOKIE_SECRETS"] = key
	env2 := baseEnv(t, p, prefix)
	env2["GATEHOUSE_COOKIE_SECRETS"] = key
	gh1 := startInstance(t, env1)
	gh2 := startInstance(t, env2)
	p.AddRedirectURI(gh1.url + "/oauth2/callback")
	p.AddPostLogoutRedirectURI("http://app.example.com/bye")

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}

	// Before login: a browser is sent to sign in, with its URL kept.
	resp := forwardAuth(t, browser, gh2.url, "/dash?tab=runs&x=1")
	if resp.StatusCode != 302 {
		t.Fatalf("before login: %d", resp.StatusCode)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	rd := loc.Query().Get("rd")
	if rd != "http://app.example.com/dash?tab=runs&x=1" {
		t.Fatalf("rd = %q", rd)
	}

	// Sign in through replica 1.
	cb, err := p.Login(context.Background(), browser, gh1.url+"/oauth2/start?rd="+url.QueryEscape(rd), "alice", "pw-alice")
	if err != nil {
		t.Fatal(err)
	}
	if cb.StatusCode != 302 || cb.Header.Get("Location") != rd {
		t.Fatalf("callback: %d Location=%q", cb.StatusCode, cb.Header.Get("Location"))
	}

	// Replica 2 accepts the session and overwrites the spoofed header.
	for _, inst := range []*instance{gh1, gh2} {
		resp = forwardAuth(t, browser, inst.url, "/dash")
		if resp.StatusCode != 200 {
			t.Fatalf("%s after login: %d", inst.url, resp.StatusCode)
		}
		if got := resp.Header.Get("X-Auth-Request-Email"); got != "alice@example.com" {
			t.Errorf("email = %q", got)
		}
		if got := resp.Header.Get("X-Auth-Request-User"); got != "u-alice" {
			t.Errorf("user = %q", got)
		}
		if got := resp.Header.Get("X-Auth-Request-Groups"); got != "ops" {
			t.Errorf("groups = %q", got)
		}
	}

	// Replica 1 going away does not end the session on replica 2.
	gh1.stop(t)
	if resp := forwardAuth(t, browser, gh2.url, "/dash"); resp.StatusCode != 200 {
		t.Fatalf("after replica 1 stopped: %d", resp.StatusCode)
	}

	// Sign out through replica 2: the session ends everywhere.
	so, err := oidctest.Visit(context.Background(), browser, mustURL(t, gh2.url+"/oauth2/sign_out?rd="+url.QueryEscape("https://evil.example.net/")))
	if err != nil {
		t.Fatal(err)
	}
	if so.StatusCode != 302 || strings.Contains(so.Header.Get("Location"), "evil.example.net") {
		t.Errorf("sign out: %d Location=%q", so.StatusCode, so.Header.Get("Location"))
	}
	if resp := forwardAuth(t, browser, gh2.url, "/dash"); resp.StatusCode != 302 {
		t.Errorf("after sign-out: %d", resp.StatusCode)
	}
}

// TestForbiddenDomainGets403: a user outside access.email_domains signs in
// and is refused.
func TestForbiddenDomainGets403(t *testing.T) {
	p := oidctest.Start(t, oidctest.Options{Users: []oidctest.User{
		{Subject: "u-eve", Email: "eve@evil.test", EmailVerified: true, PreferredUsername: "eve", Password: "pw-eve"},
	}})
	env := baseEnv(t, p, "")
	env["GATEHOUSE_SESSION_STORE"] = "memory"
	env["GATEHOUSE_COOKIE_SECRETS"] = randomKey(t)
	gh := startInstance(t, env)
	p.AddRedirectURI(gh.url + "/oauth2/callback")
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	if _, err := p.Login(context.Background(), browser, gh.url+"/oauth2/start?rd=/", "eve", "pw-eve"); err != nil {
		t.Fatal(err)
	}
	if resp := forwardAuth(t, browser, gh.url, "/"); resp.StatusCode != 403 {
		t.Errorf("forbidden user: %d", resp.StatusCode)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestCommands(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte(fmt.Sprintf(`
oidc:
  issuer_url: https://login.example.com
  client_id: gh
  client_secret: x
  redirect_url: https://auth.example.com/oauth2/callback
cookie:
  secrets: [%q]
access:
  email_domains: [example.com]
`, randomKey(t))), 0o600)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("oidc:\n  issuer: x\ncookie:\n  secrets: [abc]\n"), 0o600)
	noenv := func(string) (string, bool) { return "", false }

	for _, tc := range []struct {
		args     []string
		code     int
		out, err string
	}{
		{[]string{"check-config", "--config", good}, 0, "configuration is valid", ""},
		{[]string{"check-config", "--config", bad}, 1, "", "oidc.issuer: unknown key"},
		{[]string{"check-config"}, 1, "checking the GATEHOUSE_* environment alone", "oidc.issuer_url: required"},
		{[]string{"check-config", "--help"}, 0, "", "Usage: gatehouse check-config"},
		{[]string{"serve", "--help"}, 0, "", "--config"},
		{[]string{"serve", "--config", bad}, 1, "", "oidc.issuer: unknown key"},
		{[]string{"version"}, 0, "gatehouse ", ""},
		{[]string{"--help"}, 0, "Commands:", ""},
		{[]string{"frobnicate"}, 2, "", "unknown command"},
		{nil, 2, "", "Usage:"},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), tc.args, &out, &errb, noenv)
		if code != tc.code || !strings.Contains(out.String(), tc.out) || !strings.Contains(errb.String(), tc.err) {
			t.Errorf("%v: code %d, stdout %q, stderr %q", tc.args, code, out.String(), errb.String())
		}
	}
}

// TestServeCommandStartsAndStops runs "gatehouse serve" as a user would,
// checks /healthz and /readyz, and stops it like SIGTERM does.
func TestServeCommandStartsAndStops(t *testing.T) {
	p := oidctest.Start(t, oidctest.Options{})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	env := baseEnv(t, p, "")
	env["GATEHOUSE_SESSION_STORE"] = "memory"
	env["GATEHOUSE_COOKIE_SECRETS"] = randomKey(t)
	env["GATEHOUSE_HTTP_ADDR"] = addr
	env["GATEHOUSE_LOG_LEVEL"] = "info"
	env["GATEHOUSE_OIDC_REDIRECT_URL"] = "http://" + addr + "/oauth2/callback"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var stderr bytes.Buffer
	go func() {
		done <- run(ctx, []string{"serve"}, io.Discard, &stderr, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	}()
	var ready bool
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				ready = true
				break
			}
		}
	}
	if !ready {
		t.Fatalf("never ready; log: %s", stderr.String())
	}
	if resp, err := http.Get("http://" + addr + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v", err)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit code %d; log: %s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(stderr.String(), `"msg":"shutting down"`) {
		t.Errorf("no JSON shutdown log line: %s", stderr.String())
	}
}

// TestReadyzNamesTheFailedDependency: with Redis unreachable, /readyz is 503
// and says why.
func TestReadyzNamesTheFailedDependency(t *testing.T) {
	p := oidctest.Start(t, oidctest.Options{})
	env := baseEnv(t, p, "gatehouse-test:readyz:")
	env["GATEHOUSE_COOKIE_SECRETS"] = randomKey(t)
	env["GATEHOUSE_REDIS_ADDRS"] = "127.0.0.1:1" // nothing listens there
	gh := startInstance(t, env)
	resp, err := http.Get(gh.url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(string(body), "session_store") {
		t.Errorf("readyz: %d %q", resp.StatusCode, body)
	}
	jar, _ := cookiejar.New(nil)
	// And a check with a (forged-looking) cookie never allows.
	if r := forwardAuth(t, &http.Client{Jar: jar}, gh.url, "/"); r.StatusCode == 200 {
		t.Error("allowed with store down")
	}
}

// TestShippedExampleConfigIsValid keeps examples/gatehouse.yaml, which the
// README points at, valid.
func TestShippedExampleConfigIsValid(t *testing.T) {
	t.Chdir("../..")
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"check-config", "--config", "examples/gatehouse.yaml"}, &out, &errb, func(string) (string, bool) { return "", false }); code != 0 {
		t.Fatalf("examples/gatehouse.yaml: %s", errb.String())
	}
}

// TestReturnToOwnHostWithoutAllowList: with no redirect.allowed_domains, a
// user is still sent back to the page they asked for on the host gatehouse
// serves its callback on, query included, and never to another host.
func TestReturnToOwnHostWithoutAllowList(t *testing.T) {
	p := oidctest.Start(t, oidctest.Options{Users: []oidctest.User{
		{Subject: "u-alice", Email: "alice@example.com", EmailVerified: true, Password: "pw"},
	}})
	env := baseEnv(t, p, "")
	env["GATEHOUSE_SESSION_STORE"] = "memory"
	env["GATEHOUSE_COOKIE_SECRETS"] = randomKey(t)
	env["GATEHOUSE_REDIRECT_ALLOWED_DOMAINS"] = ""
	gh := startInstance(t, env)
	p.AddRedirectURI(gh.url + "/oauth2/callback")
	for rd, want := range map[string]string{
		gh.url + "/runs?tab=1&q=x":         gh.url + "/runs?tab=1&q=x",
		"https://app.example.com/runs?x=1": "/",
	} {
		jar, _ := cookiejar.New(nil)
		cb, err := p.Login(context.Background(), &http.Client{Jar: jar}, gh.url+"/oauth2/start?rd="+url.QueryEscape(rd), "u-alice", "pw")
		if err != nil {
			t.Fatal(err)
		}
		if got := cb.Header.Get("Location"); got != want {
			t.Errorf("rd %q: sent to %q, want %q", rd, got, want)
		}
	}
}

// appFromEnv loads a configuration from env alone, as serve would, and
// wires the app.
func appFromEnv(t *testing.T, env map[string]string) (*app, *config.Config) {
	t.Helper()
	cfg, err := config.Load("", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	a, err := newApp(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return a, cfg
}
