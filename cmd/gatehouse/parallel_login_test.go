package main

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/oidctest"
)

// TestParallelLoginsOnTheRealFlow: two tabs of one browser start signing
// in before either finishes (start A, start B, callback A, callback B)
// through the wired service and the development provider; both callbacks
// succeed, each returning to its own page, and the browser is then
// admitted.
func TestParallelLoginsOnTheRealFlow(t *testing.T) {
	p := oidctest.Start(t, oidctest.Options{Users: []oidctest.User{
		{Subject: "u-alice", Email: "alice@example.com", EmailVerified: true, Password: "pw"},
	}})
	env := baseEnv(t, p, "")
	env["GATEHOUSE_SESSION_STORE"] = "memory"
	env["GATEHOUSE_COOKIE_SECRETS"] = randomKey(t)
	gh := startInstance(t, env)
	p.AddRedirectURI(gh.url + "/oauth2/callback")

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	ctx := context.Background()
	rdA, rdB := "https://app.example.com/runs?tab=a", "https://app.example.com/models"
	cbA, err := p.Authorize(ctx, browser, gh.url+"/oauth2/start?rd="+url.QueryEscape(rdA), "u-alice", "pw")
	if err != nil {
		t.Fatal(err)
	}
	cbB, err := p.Authorize(ctx, browser, gh.url+"/oauth2/start?rd="+url.QueryEscape(rdB), "u-alice", "pw")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cb   *url.URL
		want string
	}{{cbA, rdA}, {cbB, rdB}} {
		resp, err := oidctest.Visit(ctx, browser, c.cb)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != c.want {
			t.Fatalf("callback: %d to %q, want 302 to %s", resp.StatusCode, resp.Header.Get("Location"), c.want)
		}
	}
	if resp := forwardAuth(t, browser, gh.url, "/runs"); resp.StatusCode != http.StatusOK {
		t.Errorf("after both sign-ins: %d, want 200", resp.StatusCode)
	}
	u, _ := url.Parse(gh.url)
	for _, ck := range jar.Cookies(u) {
		if strings.HasPrefix(ck.Name, "_gatehouse_login") {
			t.Errorf("login cookie %s left after both callbacks", ck.Name)
		}
	}
}
