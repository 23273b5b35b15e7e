package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/oidctest"
)

// TestReverseProxyMode: with upstreams configured, one listener serves
// gatehouse's own endpoints (sign-in, /healthz) and proxies everything
// else: a browser signs in through it and the app gets alice's identity,
// not gatehouse's cookie; without a session the app is never reached.
func TestReverseProxyMode(t *testing.T) {
	p := oidctest.Start(t, oidctest.Options{Users: []oidctest.User{
		{Subject: "u-alice", Email: "alice@example.com", EmailVerified: true, PreferredUsername: "alice", Password: "pw"},
	}})
	got := make(chan http.Header, 10)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
		_, _ = io.WriteString(w, "the app at "+r.URL.Path)
	}))
	t.Cleanup(upstream.Close)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	env := baseEnv(t, p, "")
	env["GATEHOUSE_SESSION_STORE"] = "memory"
	env["GATEHOUSE_COOKIE_SECRETS"] = randomKey(t)
	env["GATEHOUSE_HTTP_ADDR"] = ln.Addr().String()
	env["GATEHOUSE_OIDC_REDIRECT_URL"] = base + "/oauth2/callback"
	file := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(file, []byte("upstreams:\n  - name: app\n    url: "+upstream.URL+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(file, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	a, err := newApp(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, Listeners{HTTP: ln}); a.Close() }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	p.AddRedirectURI(base + "/oauth2/callback")

	get := func(c *http.Client, path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Accept", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	anon := &http.Client{Timeout: 5 * time.Second}
	if st, body := get(anon, "/healthz"); st != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q, want gatehouse's", st, body)
	}
	// The forward-auth endpoints are not gatehouse's here: the app's paths.
	if st, body := get(anon, "/authz/forward-auth"); st != 401 || strings.Contains(body, "app at") {
		t.Errorf("/authz/forward-auth: %d %q, want the check of an app path (401)", st, body)
	}
	if st, _ := get(anon, "/dashboard"); st != 401 {
		t.Errorf("anonymous /dashboard: %d, want 401", st)
	}
	select {
	case h := <-got:
		t.Fatalf("the app was reached without a session: %v", h)
	default:
	}

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	lctx, lcancel := context.WithTimeout(ctx, 10*time.Second)
	defer lcancel()
	if _, err := p.Login(lctx, browser, base+"/oauth2/start?rd=/dashboard", "alice", "pw"); err != nil {
		t.Fatal(err)
	}
	for len(got) > 0 {
		<-got // the login's return to /dashboard
	}
	st, body := get(browser, "/dashboard?tab=runs")
	if st != 200 || body != "the app at /dashboard" {
		t.Fatalf("alice's /dashboard: %d %q", st, body)
	}
	h := <-got
	if h.Get("X-Auth-Request-Email") != "alice@example.com" {
		t.Errorf("the app got X-Auth-Request-Email %q", h.Get("X-Auth-Request-Email"))
	}
	if c := strings.Join(h.Values("Cookie"), "; "); strings.Contains(c, cfg.Cookie.Name) {
		t.Errorf("the app got gatehouse's cookie: %q", c)
	}
}
