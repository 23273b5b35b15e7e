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

// TestSignOutAcrossSites runs sign-out through the served handler: a
// cross-site GET shows the confirmation page, leaves the session alive and
// counts no logout; a cross-site POST is refused; the page's own POST
// (same-origin) signs out and is counted once.
func TestSignOutAcrossSites(t *testing.T) {
	p := oidctest.Start(t, oidctest.Options{Users: []oidctest.User{
		{Subject: "u-alice", Email: "alice@example.com", EmailVerified: true, Password: "pw"},
	}})
	env := baseEnv(t, p, "")
	env["GATEHOUSE_SESSION_STORE"] = "memory"
	env["GATEHOUSE_COOKIE_SECRETS"] = randomKey(t)
	withAdmin(t, env)
	gh := startInstance(t, env)
	p.AddRedirectURI(gh.url + "/oauth2/callback")
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if _, err := p.Login(context.Background(), browser, gh.url+"/oauth2/start?rd=/", "u-alice", "pw"); err != nil {
		t.Fatal(err)
	}
	send := func(method string, hdr map[string]string) *http.Response {
		t.Helper()
		var req *http.Request
		if method == http.MethodPost {
			req, _ = http.NewRequest(method, gh.url+"/oauth2/sign_out", strings.NewReader(url.Values{"rd": {"/"}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req, _ = http.NewRequest(method, gh.url+"/oauth2/sign_out?rd=/", nil)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	logouts := func() string {
		t.Helper()
		_, m := getBody(t, "http://"+gh.admin+"/metrics")
		for _, l := range strings.Split(m, "\n") {
			if strings.HasPrefix(l, `gatehouse_logouts_total{kind="local"}`) {
				return strings.TrimSpace(strings.TrimPrefix(l, `gatehouse_logouts_total{kind="local"}`))
			}
		}
		return "0"
	}

	if resp := send(http.MethodGet, map[string]string{"Sec-Fetch-Site": "cross-site", "Referer": "https://evil.example/"}); resp.StatusCode != http.StatusOK {
		t.Fatalf("cross-site GET: %d, want 200 confirmation page", resp.StatusCode)
	}
	if resp := send(http.MethodPost, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site POST: %d, want 403", resp.StatusCode)
	}
	if resp := forwardAuth(t, browser, gh.url, "/"); resp.StatusCode != http.StatusOK {
		t.Fatalf("after cross-site sign-out attempts: %d, want the session alive (200)", resp.StatusCode)
	}
	if n := logouts(); n != "0" {
		t.Fatalf("logouts counted after refused sign-outs: %s", n)
	}
	if resp := send(http.MethodPost, map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": gh.url}); resp.StatusCode != http.StatusFound {
		t.Fatalf("same-origin POST: %d, want 302", resp.StatusCode)
	}
	if resp := forwardAuth(t, browser, gh.url, "/"); resp.StatusCode != http.StatusFound {
		t.Fatalf("after sign-out: %d, want a login redirect", resp.StatusCode)
	}
	if n := logouts(); n != "1" {
		t.Fatalf("logouts counted: %s, want 1", n)
	}
}
