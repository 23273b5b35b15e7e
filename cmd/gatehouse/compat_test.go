package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/oidctest"
)

// TestOAuth2ProxyNames: the compatibility names are served by gatehouse
// serve: /ping answers 200 OK, /ready as /readyz (503 naming the store
// while Redis is unreachable), /oauth2/userinfo 401 without a session,
// and /oauth2/auth 401 for the snippet's sub-request without a session.
func TestOAuth2ProxyNames(t *testing.T) {
	p := oidctest.Start(t, oidctest.Options{})
	env := baseEnv(t, p, "gatehouse-test:compat:")
	env["GATEHOUSE_COOKIE_SECRETS"] = randomKey(t)
	env["GATEHOUSE_REDIS_ADDRS"] = "127.0.0.1:1" // nothing listens there
	gh := startInstance(t, env)

	if resp, body := getBody(t, gh.url+"/ping"); resp.StatusCode != 200 || body != "OK" {
		t.Errorf("/ping: %d %q, want 200 OK", resp.StatusCode, body)
	}
	resp, body := getBody(t, gh.url+"/ready")
	if resp.StatusCode != http.StatusServiceUnavailable || strings.TrimSpace(body) != "not ready: session_store" {
		t.Errorf("/ready: %d %q, want /readyz's 503", resp.StatusCode, body)
	}
	if resp, _ := getBody(t, gh.url+"/oauth2/userinfo"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/oauth2/userinfo without a session: %d, want 401", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", gh.url+"/oauth2/auth", nil)
	req.Host = "app.example.com"
	req.Header.Set("X-Forwarded-Uri", "/app")
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusUnauthorized || !strings.Contains(r.Header.Get("X-Auth-Request-Redirect"), "/oauth2/start?rd=") {
		t.Errorf("/oauth2/auth without a session: %d %q, want 401 with the login URL", r.StatusCode, r.Header.Get("X-Auth-Request-Redirect"))
	}
}

// TestOAuth2AuthNotInReverseProxyMode: with upstreams, /oauth2/auth is
// not answered (404, the app not reached): every client reaches /oauth2/
// through the TLS proxy from a trusted address and would read its own
// identity headers from the answer. /oauth2/userinfo stays.
func TestOAuth2AuthNotInReverseProxyMode(t *testing.T) {
	p := oidctest.Start(t, oidctest.Options{})
	reached := make(chan string, 4)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached <- r.URL.Path }))
	t.Cleanup(upstream.Close)
	env := baseEnv(t, p, "")
	env["GATEHOUSE_SESSION_STORE"] = "memory"
	env["GATEHOUSE_COOKIE_SECRETS"] = randomKey(t)
	env["GATEHOUSE_OIDC_REDIRECT_URL"] = "https://app.example.com/oauth2/callback"
	file := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(file, []byte("upstreams:\n  - url: "+upstream.URL+"\n"), 0o600); err != nil {
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
	t.Cleanup(a.Close)
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest("GET", srv.URL+"/oauth2/auth", nil)
	req.Host = "app.example.com"
	req.Header.Set("X-Forwarded-Uri", "/app")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("X-Auth-Request-Redirect") != "" {
		t.Errorf("/oauth2/auth in reverse-proxy mode: %d, want 404", resp.StatusCode)
	}
	if r, _ := getBody(t, srv.URL+"/oauth2/userinfo"); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("/oauth2/userinfo: %d, want 401", r.StatusCode)
	}
	select {
	case path := <-reached:
		t.Errorf("the app was reached at %s", path)
	default:
	}
}
