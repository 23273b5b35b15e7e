package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/oidctest"
)

// TestServeSeveralProviders runs gatehouse serve with two providers, its
// sessions in Redis (behind the local cache): the sign-in page offers
// both, each signs users in at its own callback, and a rule that names one
// refuses the other's sessions through forward-auth, so the session's
// provider survives the store.
func TestServeSeveralProviders(t *testing.T) {
	prefix := fmt.Sprintf("gatehouse-test:%d:", time.Now().UnixNano())
	requireRedis(t, prefix)
	staff := oidctest.Start(t, oidctest.Options{Users: []oidctest.User{
		{Subject: "u-alice", Email: "alice@example.com", EmailVerified: true, Password: "pw-a"}}})
	partner := oidctest.Start(t, oidctest.Options{Users: []oidctest.User{
		{Subject: "u-bob", Email: "bob@example.com", EmailVerified: true, Password: "pw-b"}}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	staff.AddRedirectURI(base + "/oauth2/callback/staff")
	partner.AddRedirectURI(base + "/oauth2/callback/partner")
	file := filepath.Join(t.TempDir(), "gatehouse.yaml")
	yaml := `
http:
  addr: ` + ln.Addr().String() + `
cookie:
  secure: false
  secrets: ["` + randomKey(t) + `"]
trusted_proxies: [127.0.0.0/8]
redirect:
  allowed_domains: [app.example.com, corp.example.com]
log:
  level: error
session:
  store: redis
redis:
  addrs: ["` + testRedisAddr() + `"]
  key_prefix: "` + prefix + `"
providers:
  - id: staff
    name: Staff SSO
    issuer_url: ` + staff.Issuer() + `
    client_id: ` + staff.Client().ID + `
    client_secret: ` + staff.Client().Secret + `
    redirect_url: ` + base + `/oauth2/callback/staff
  - id: partner
    name: Partner ID
    issuer_url: ` + partner.Issuer() + `
    client_id: ` + partner.Client().ID + `
    client_secret: ` + partner.Client().Secret + `
    redirect_url: ` + base + `/oauth2/callback/partner
access:
  email_domains: [example.com]
  rules:
    - name: corp
      hosts: [corp.example.com]
      action: authenticate
      providers: [staff]
`
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(file, nil)
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
			t.Error(err)
		}
	})

	noFollow := func(c *http.Client) *http.Client {
		return &http.Client{Jar: c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	newBrowser := func() *http.Client { jar, _ := cookiejar.New(nil); return &http.Client{Jar: jar} }

	resp, err := noFollow(newBrowser()).Get(base + "/oauth2/start?rd=/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/oauth2/sign_in?rd=%2F" {
		t.Fatalf("start without a provider: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, err = http.Get(base + "/oauth2/sign_in?rd=/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "Continue with Staff SSO") || !strings.Contains(string(page), "Continue with Partner ID") {
		t.Fatalf("sign-in page:\n%s", page)
	}

	check := func(c *http.Client, host string) int {
		req, _ := http.NewRequest(http.MethodGet, base+"/authz/forward-auth", nil)
		req.Header.Set("X-Forwarded-Method", "GET")
		req.Header.Set("X-Forwarded-Proto", "https")
		req.Header.Set("X-Forwarded-Host", host)
		req.Header.Set("X-Forwarded-Uri", "/")
		req.Header.Set("Accept", "application/json")
		resp, err := noFollow(c).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	signIn := func(p *oidctest.Provider, id, user, pw string) *http.Client {
		b := newBrowser()
		resp, err := p.Login(context.Background(), b, base+"/oauth2/start?provider="+id+"&rd=/", user, pw)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("sign-in through %s: %d", id, resp.StatusCode)
		}
		return b
	}
	alice := signIn(staff, "staff", "u-alice", "pw-a")
	bob := signIn(partner, "partner", "u-bob", "pw-b")
	for _, c := range []struct {
		who  string
		b    *http.Client
		host string
		want int
	}{
		{"staff on the app", alice, "app.example.com", 200},
		{"partner on the app", bob, "app.example.com", 200},
		{"staff on the staff-only host", alice, "corp.example.com", 200},
		{"partner on the staff-only host", bob, "corp.example.com", 403},
	} {
		if got := check(c.b, c.host); got != c.want {
			t.Errorf("%s: %d, want %d", c.who, got, c.want)
		}
	}
}

// policy explain --provider judges the user as signed in through that
// provider, so a rule that names providers can be tried out.
func TestPolicyExplainProvider(t *testing.T) {
	cfg := writeTemp(t, "gatehouse.yaml", `
cookie:
  secrets: ["MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="]
providers:
  - id: staff
    issuer_url: https://idp.example.com
    client_id: c
    client_secret: s
    redirect_url: https://auth.example.com/oauth2/callback/staff
  - id: partner
    issuer_url: https://partner.example.org
    client_id: c
    client_secret: s
    redirect_url: https://auth.example.com/oauth2/callback/partner
access:
  email_domains: [example.com]
  rules:
    - name: corp
      hosts: [corp.example.com]
      action: authenticate
      providers: [staff]
`)
	for provider, want := range map[string]string{
		"":        "verdict:  allow",
		"staff":   "verdict:  allow",
		"partner": "verdict:  deny (403, reason provider_not_accepted, decided by corp)",
	} {
		out, _, err := runPolicy("explain", "--config", cfg, "--url", "https://corp.example.com/", "--email", "a@example.com", "--provider", provider)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, want) {
			t.Errorf("--provider %q: missing %q in:\n%s", provider, want, out)
		}
	}
}
