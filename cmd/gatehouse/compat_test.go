package main

import (
	"net/http"
	"strings"
	"testing"

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
