package main

// The demo and the development provider live in cmd/gatehouse-dev and
// internal/demo, out of this binary; these tests run them against the real
// gatehouse wiring (newApp), in process.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/demo"
)

// serveApp runs a for the rest of the test on ln.
func serveApp(t *testing.T, a *app, ln net.Listener) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, Listeners{HTTP: ln}); a.Close() }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("serve: %v", err)
		}
	})
}

// TestDemoFullLogin drives the demo (internal/demo, as "gatehouse-dev demo"
// runs it) through a login as alice, a 403 for bob, and a sign-out.
func TestDemoFullLogin(t *testing.T) {
	d, err := demo.New("127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"GATEHOUSE_HTTP_ADDR": ln.Addr().String(), "GATEHOUSE_LOG_LEVEL": "error"}
	for k, v := range d.Env {
		env[k] = v
	}
	a, _ := appFromEnv(t, env)
	serveApp(t, a, ln)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- d.Serve(ctx, &url.URL{Scheme: "http", Host: ln.Addr().String()}) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("demo: %v", err)
		}
	}()

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	page := d.URL + "/dashboard?tab=runs"

	// Not signed in: the proxy sends the browser to gatehouse's login.
	req, _ := http.NewRequest("GET", page, nil)
	req.Header.Set("Accept", "text/html")
	resp, err := (&http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 302 {
		t.Fatalf("before login: %d", resp.StatusCode)
	}
	start, _ := url.Parse(resp.Header.Get("Location"))
	start = mustURL(t, d.URL).ResolveReference(start)

	cb, err := d.Provider.Login(ctx, browser, start.String(), "alice", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if cb.Header.Get("Location") != page {
		t.Fatalf("callback went to %q, want %q", cb.Header.Get("Location"), page)
	}
	body := get(t, browser, page)
	if !strings.Contains(body, "Signed in as alice@example.com") || !strings.Contains(body, "/dashboard?tab=runs") ||
		!strings.Contains(body, "ml-team") {
		t.Fatalf("app page does not show alice and her group: %s", body)
	}

	// Sign out, then the app asks for a login again.
	get(t, browser, d.URL+"/oauth2/sign_out")
	req, _ = http.NewRequest("GET", page, nil)
	req.Header.Set("Accept", "application/json")
	resp, err = browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("after sign-out: %d", resp.StatusCode)
	}

	// bob signs in but is refused.
	jar2, _ := cookiejar.New(nil)
	bob := &http.Client{Jar: jar2, Timeout: 10 * time.Second}
	if _, err := d.Provider.Login(ctx, bob, d.URL+"/oauth2/start?rd=/", "bob", "bob"); err != nil {
		t.Fatal(err)
	}
	resp, err = bob.Get(page)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("bob: %d, want 403", resp.StatusCode)
	}
}

// TestDevProviderLogin configures the development provider from a file
// (the way "gatehouse-dev dev-provider --config" does), builds a gatehouse
// configuration file from the oidc: snippet it prints, and signs a user in
// through a real gatehouse: the user's email and groups reach the
// forward-auth answer, a wrong password gets no session, sign-out ends the
// provider's session and returns to the site, and a user outside the
// allowed group is refused.
func TestDevProviderLogin(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	dir := t.TempDir()
	pfile := filepath.Join(dir, "dev-provider.yaml")
	os.WriteFile(pfile, []byte(fmt.Sprintf(`listen: 127.0.0.1:0
client_id: my-app
redirect_uris: [%s/oauth2/callback]
users:
  - name: carol
    password: carol-pw
    email: carol@corp.example
    groups: [admins, ops]
  - name: dave
    password: dave-pw
    email: dave@corp.example
`, base)), 0o600)
	pc, problems, err := demo.LoadProviderFile(pfile)
	if err != nil || problems != nil {
		t.Fatal(err, problems)
	}
	p, err := demo.StartProvider(pc)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Client().ID != "my-app" || len(p.Client().Secret) < 32 {
		t.Fatalf("client %q with secret of %d characters, want my-app and a generated secret", p.Client().ID, len(p.Client().Secret))
	}
	snippet, err := demo.OIDCSnippet(p, base+"/oauth2/callback")
	if err != nil {
		t.Fatal(err)
	}
	gfile := filepath.Join(dir, "gatehouse.yaml")
	os.WriteFile(gfile, []byte(snippet+fmt.Sprintf(`http:
  addr: %s
cookie:
  secure: false
  secrets: [%q]
access:
  groups: [admins]
log:
  level: error
`, ln.Addr(), randomKey(t))), 0o600)
	cfg, err := config.Load(gfile, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("gatehouse config from the printed snippet:\n%s\n%v", snippet, err)
	}
	a, err := newApp(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	serveApp(t, a, ln)
	ctx := context.Background()

	jar, _ := cookiejar.New(nil)
	carol := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	if _, err := p.Authorize(ctx, carol, base+"/oauth2/start?rd=/", "carol", "wrong"); err == nil ||
		!strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong password: %v, want the login form again with 401", err)
	}
	if _, err := p.Login(ctx, carol, base+"/oauth2/start?rd=/", "carol", "carol-pw"); err != nil {
		t.Fatal(err)
	}
	resp := forwardAuth(t, carol, base, "/")
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Auth-Request-Email") != "carol@corp.example" ||
		resp.Header.Get("X-Auth-Request-Groups") != "admins,ops" || resp.Header.Get("X-Auth-Request-User") != "carol" {
		t.Fatalf("carol: %d, headers %v", resp.StatusCode, resp.Header)
	}

	// Sign-out goes through the provider's end_session and back to the
	// site's root, which the provider accepts by default.
	resp, err = carol.Get(base + "/oauth2/sign_out")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if u := resp.Request.URL; u.String() != base+"/" {
		t.Fatalf("sign-out ended on %s://%s%s (%d), want %s/ after the provider's end_session", u.Scheme, u.Host, u.Path, resp.StatusCode, base)
	}
	if ended := p.EndedSessions(); len(ended) != 1 || ended[0] != "carol" {
		t.Fatalf("provider sessions ended: %v, want [carol]", ended)
	}
	if resp := forwardAuth(t, carol, base, "/"); resp.StatusCode != 302 {
		t.Fatalf("carol after sign-out: %d, want 302 to sign in", resp.StatusCode)
	}

	// dave is not in admins: signed in, refused.
	jar2, _ := cookiejar.New(nil)
	dave := &http.Client{Jar: jar2, Timeout: 10 * time.Second}
	if _, err := p.Login(ctx, dave, base+"/oauth2/start?rd=/", "dave", "dave-pw"); err != nil {
		t.Fatal(err)
	}
	resp = forwardAuth(t, dave, base, "/")
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("dave: %d, want 403", resp.StatusCode)
	}
}

// TestProductionBinaryHasNoDemo: cmd/gatehouse must not link the demo,
// the development provider or zitadel/oidc (issue 11 item 5).
func TestProductionBinaryHasNoDemo(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 50 {
		t.Fatalf("go list -deps gave %d packages, too few to be the real list", len(deps))
	}
	for _, d := range deps {
		for _, banned := range []string{"github.com/zitadel/", "/internal/oidctest", "/internal/demo"} {
			if strings.Contains(d, banned) {
				t.Errorf("cmd/gatehouse links %s (want the demo only in cmd/gatehouse-dev)", d)
			}
		}
	}
}

func get(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Accept", "text/html")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
