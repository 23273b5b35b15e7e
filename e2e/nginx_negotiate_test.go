//go:build e2e

package e2e

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/check"
	"github.com/gatehouse/gatehouse/internal/forwardauth"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/memstore"
)

// TestNginxBrowserOrAPI runs the shipped deploy/nginx/nginx.conf in front of
// gatehouse's real auth-request handler (in this process, on a memory
// store) and checks what the client gets for an anonymous request: a
// navigating browser a 302 to the login page; an API client, a fetch or
// XHR call, or a client that prefers JSON a 401 with exactly one
// WWW-Authenticate and the login URL in X-Auth-Request-Redirect. nginx
// decides nothing itself: it follows gatehouse's answer.
func TestNginxBrowserOrAPI(t *testing.T) {
	bin, err := lookTool("GATEHOUSE_E2E_NGINX", "nginx", "/usr/sbin/nginx")
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, session.KeySize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	codec, err := session.NewCodec([][]byte{key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	store := memstore.New(memstore.Options{})
	t.Cleanup(func() { _ = store.Close() })
	const loginURL = "https://auth.example.com/oauth2/start"
	policy := &authz.Policy{LoginURL: loginURL, EmailDomains: []string{"example.com"}, Headers: authz.DefaultHeaderNames()}
	checker := check.New(store, codec, session.CookieSettings{Name: "_gatehouse", Secure: true}, policy, check.Options{Timeout: time.Second})
	handler := forwardauth.NewHandler(checker, forwardauth.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	gh := serveOn(t, handler)
	app := serveOn(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the app was reached by an anonymous request: %s", r.URL)
	}))

	ps := proxySetup{Dir: t.TempDir(), Host: "app.negotiate.localhost", HTTPPort: freePort(t), HTTPSPort: freePort(t),
		GatehouseAddr: gh, AppAddr: app}
	p, err := startNginx(context.Background(), ps, bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	origin := fmt.Sprintf("https://127.0.0.1:%d", ps.HTTPSPort)
	if err := p.waitReady(context.Background(), "https listener", tcpUp(strings.TrimPrefix(origin, "https://"))); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{
		Timeout:       5 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: ps.Host}}, // the test's own self-signed certificate
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
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
			req, err := http.NewRequest(http.MethodGet, origin+target, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = ps.Host
			for k, v := range c.headers {
				req.Header.Set(k, v)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
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
		t.Logf("nginx log:\n%s", p.tail(3000))
	}
}

// serveOn serves h on a fresh loopback port until the test ends and
// returns the address.
func serveOn(t *testing.T, h http.Handler) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l.Addr().String()
}
