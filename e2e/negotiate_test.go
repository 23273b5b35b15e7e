//go:build e2e

package e2e

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/check"
	"github.com/gatehouse/gatehouse/internal/forwardauth"
	"github.com/gatehouse/gatehouse/internal/session/cookie"
	"github.com/gatehouse/gatehouse/internal/session/memstore"
	"github.com/gatehouse/gatehouse/internal/spoa"
)

// TestBrowserOrAPI runs each shipped proxy configuration (nginx, Caddy,
// Traefik, HAProxy: every one the suite lists) in front of gatehouse's real
// adapters (the forward-auth / auth-request handler and the SPOE agent, in
// this process, on a memory store) and checks what the client gets for an
// anonymous request: a navigating browser a 302 to the login page; an API
// client, a fetch or XHR call, or a client that prefers JSON a 401 with
// exactly one WWW-Authenticate and the login URL in
// X-Auth-Request-Redirect. No proxy decides this itself: each follows
// gatehouse's answer. (nginx used to add a second WWW-Authenticate to the
// one auth_request copies, and to redirect any Accept naming text/html.)
func TestBrowserOrAPI(t *testing.T) {
	key := make([]byte, cookie.KeySize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	codec, err := cookie.NewCodec([][]byte{key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	store := memstore.New(memstore.Options{})
	t.Cleanup(func() { _ = store.Close() })
	const loginURL = "https://auth.example.com/oauth2/start"
	policy := &authz.Policy{LoginURL: loginURL, EmailDomains: []string{"example.com"}, Headers: authz.DefaultHeaderNames()}
	checker := check.New(store, codec, cookie.Settings{Name: "_gatehouse", Secure: true}, policy, check.Options{Timeout: time.Second})
	gh := serveOn(t, forwardauth.NewHandler(checker, forwardauth.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}))
	agent := agentOn(t, spoa.New(checker, spoa.Options{}))
	app := serveOn(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the app was reached by an anonymous request: %s", r.URL)
	}))
	bins := map[string][2]string{ // the suite's tools, as TestEndToEnd finds them
		"nginx":   {"GATEHOUSE_E2E_NGINX", "/usr/sbin/nginx"},
		"caddy":   {"GATEHOUSE_E2E_CADDY", "caddy"},
		"traefik": {"GATEHOUSE_E2E_TRAEFIK", filepath.Join(cacheDir(), "bin", "traefik-v3.6.12")},
		"haproxy": {"GATEHOUSE_E2E_HAPROXY", "/usr/sbin/haproxy"},
	}
	for _, k := range proxyKinds {
		t.Run(k.name, func(t *testing.T) {
			tool, ok := bins[k.name]
			if !ok {
				t.Fatalf("no binary known for proxy %s: add it to this test", k.name)
			}
			bin, err := lookTool(tool[0], tool[1])
			if err != nil {
				t.Fatal(err)
			}
			ps := proxySetup{Dir: t.TempDir(), Host: "app." + k.name + "-negotiate.localhost", HTTPPort: freePort(t), HTTPSPort: freePort(t),
				AdminPort: freePort(t), GatehouseAddr: gh, SPOEAddr: agent, AppAddr: app}
			p, err := k.start(context.Background(), ps, bin)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(p.stop)
			negotiateThrough(t, p, ps, loginURL)
		})
	}
}

// negotiateThrough sends the anonymous requests through the proxy at ps.
func negotiateThrough(t *testing.T, p *proc, ps proxySetup, loginURL string) {
	origin := fmt.Sprintf("https://127.0.0.1:%d", ps.HTTPSPort)
	client := &http.Client{
		Timeout:       5 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: ps.Host}}, // the test's own certificates
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	send := func(target string, headers map[string]string) (*http.Response, []byte, error) {
		req, err := http.NewRequest(http.MethodGet, origin+target, nil)
		if err != nil {
			return nil, nil, err
		}
		req.Host = ps.Host
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp, body, err
	}
	// Ready when the proxy answers over TLS with gatehouse's verdict (Caddy
	// issues its certificate after it starts listening).
	if err := p.waitReady(context.Background(), "a checked answer", func(context.Context) error {
		resp, _, err := send("/ready", map[string]string{"Accept": "application/json"})
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusUnauthorized {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		headers map[string]string
		browser bool
	}{
		{"navigate", map[string]string{"Accept": "text/html,application/xhtml+xml,*/*;q=0.8", "Sec-Fetch-Mode": "navigate"}, true},
		{"browser without fetch metadata", map[string]string{"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}, true},
		{"API client", map[string]string{"Accept": "application/json"}, false},
		{"curl", map[string]string{"Accept": "*/*"}, false},
		{"JSON preferred", map[string]string{"Accept": "application/json, text/html;q=0.1"}, false},
		{"HTML not acceptable", map[string]string{"Accept": "text/html;q=0, */*"}, false},
		{"fetch (cors)", map[string]string{"Accept": "text/html", "Sec-Fetch-Mode": "cors"}, false},
		{"XHR", map[string]string{"Accept": "text/html, */*; q=0.01", "X-Requested-With": "XMLHttpRequest"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			target := "/dash?tab=" + url.QueryEscape(c.name)
			resp, body, err := send(target, c.headers)
			if err != nil {
				t.Fatal(err)
			}
			want := loginURL + "?rd=" + url.QueryEscape("https://"+ps.Host+target)
			www := resp.Header.Values("WWW-Authenticate")
			if c.browser {
				if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want || len(www) != 0 {
					t.Errorf("%d Location %q WWW-Authenticate %q, want 302 to %s and no WWW-Authenticate", resp.StatusCode, resp.Header.Get("Location"), www, want)
				}
				return
			}
			if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Location") != "" {
				t.Fatalf("%d (Location %q), want 401", resp.StatusCode, resp.Header.Get("Location"))
			}
			if len(www) != 1 || www[0] != `Bearer realm="gatehouse"` {
				t.Errorf("WWW-Authenticate %q, want exactly one Bearer realm=\"gatehouse\"", www)
			}
			if got := resp.Header.Values(forwardauth.LoginHeader); len(got) != 1 || got[0] != want {
				t.Errorf("%s %q, want %s", forwardauth.LoginHeader, got, want)
			}
			if !strings.Contains(string(body), `"unauthenticated"`) || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Errorf("body %q (%s), want the JSON error", body, resp.Header.Get("Content-Type"))
			}
		})
	}
	if t.Failed() {
		t.Logf("%s log:\n%s", p.name, p.tail(3000))
	}
}

// serveOn serves h on a fresh loopback port until the test ends and
// returns the address.
func serveOn(t *testing.T, h http.Handler) string {
	t.Helper()
	l := listenLoopback(t)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l.Addr().String()
}

// agentOn runs the SPOE agent on a fresh loopback port until the test
// ends and returns the address.
func agentOn(t *testing.T, a *spoa.Agent) string {
	t.Helper()
	l := listenLoopback(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("SPOE agent: %v", err)
		}
	})
	return l.Addr().String()
}

// cacheDir is the suite's build folder (GATEHOUSE_E2E_CACHE), as
// TestEndToEnd finds it.
func cacheDir() string {
	if d := os.Getenv("GATEHOUSE_E2E_CACHE"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "gatehouse-e2e")
}
