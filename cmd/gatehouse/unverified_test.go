package main

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"testing"

	"github.com/gatehouse/gatehouse/internal/oidctest"
)

// TestAllowUnverifiedEmailEndToEnd: a user whose provider says
// email_verified: false signs in through the in-process provider. With
// oidc.allow_unverified_email the check admits them by
// access.email_domains (200, their email sent upstream), while an
// unverified address outside the domains still gets 403; without it the
// sign-in itself is refused (403 email_unverified) and the check never
// allows.
func TestAllowUnverifiedEmailEndToEnd(t *testing.T) {
	p := oidctest.Start(t, oidctest.Options{Users: []oidctest.User{
		{Subject: "u-una", Email: "una@example.com", EmailVerified: false, PreferredUsername: "una", Password: "pw-una"},
		{Subject: "u-eve", Email: "eve@evil.test", EmailVerified: false, PreferredUsername: "eve", Password: "pw-eve"},
	}})
	signIn := func(t *testing.T, gh *instance, user, pw string) (*http.Client, *http.Response) {
		t.Helper()
		jar, _ := cookiejar.New(nil)
		browser := &http.Client{Jar: jar}
		cb, err := p.Login(context.Background(), browser, gh.url+"/oauth2/start?rd=/", user, pw)
		if err != nil {
			t.Fatal(err)
		}
		return browser, cb
	}
	start := func(t *testing.T, allow string) *instance {
		env := baseEnv(t, p, "")
		env["GATEHOUSE_SESSION_STORE"] = "memory"
		env["GATEHOUSE_COOKIE_SECRETS"] = randomKey(t)
		env["GATEHOUSE_OIDC_ALLOW_UNVERIFIED_EMAIL"] = allow
		gh := startInstance(t, env)
		p.AddRedirectURI(gh.url + "/oauth2/callback")
		return gh
	}

	t.Run("allowed", func(t *testing.T) {
		gh := start(t, "true")
		browser, cb := signIn(t, gh, "una", "pw-una")
		if cb.StatusCode != http.StatusFound {
			t.Fatalf("callback: %d", cb.StatusCode)
		}
		resp := forwardAuth(t, browser, gh.url, "/dash")
		if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Auth-Request-Email") != "una@example.com" {
			t.Fatalf("check: %d, email %q; want 200 una@example.com", resp.StatusCode, resp.Header.Get("X-Auth-Request-Email"))
		}
		browser, cb = signIn(t, gh, "eve", "pw-eve")
		if cb.StatusCode != http.StatusFound {
			t.Fatalf("eve's callback: %d", cb.StatusCode)
		}
		if resp := forwardAuth(t, browser, gh.url, "/dash"); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("unverified address outside email_domains: %d, want 403", resp.StatusCode)
		}
	})
	t.Run("refused", func(t *testing.T) {
		gh := start(t, "false")
		browser, cb := signIn(t, gh, "una", "pw-una")
		if cb.StatusCode != http.StatusForbidden {
			t.Fatalf("callback: %d, want 403 email_unverified", cb.StatusCode)
		}
		if resp := forwardAuth(t, browser, gh.url, "/dash"); resp.StatusCode == http.StatusOK {
			t.Fatal("check allowed an unverified email without allow_unverified_email")
		}
	})
}
