package conformance_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/reverseproxy"
)

// lastDecision is a reverseproxy.Observer that keeps the last decision,
// so the driver can tell which allow it was (allowed, skip_route...):
// the upstream is not told.
type lastDecision struct {
	mu sync.Mutex
	d  authz.Decision
}

func (l *lastDecision) ObserveDecision(_ string, d authz.Decision, _ time.Duration) {
	l.mu.Lock()
	l.d = d
	l.mu.Unlock()
}

func (l *lastDecision) reason() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.d.Reason)
}

// reverseProxyDriver drives gatehouse's reverse-proxy mode over a real
// loopback connection, the request written byte for byte as a client (or
// the nginx in front, a trusted proxy naming the client in
// X-Forwarded-For) sends it. On allow, the verdict is what the upstream
// behind it received: the identity headers and the Cookie header.
func reverseProxyDriver(t *testing.T, f *fixture) driver {
	var mu sync.Mutex
	var got []http.Header
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Clone())
		mu.Unlock()
		_, _ = io.WriteString(w, "app")
	}))
	t.Cleanup(app.Close)
	obs := &lastDecision{}
	h, err := reverseproxy.New(f.checker, []reverseproxy.Upstream{{URL: app.URL}}, reverseproxy.Options{
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Observer: obs,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	t.Cleanup(h.CloseIdleConnections)
	return driver{name: "reverse-proxy", expect: canonical, run: func(t *testing.T, sc scenario, cookie string) verdict {
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nAccept: %s\r\nX-Forwarded-For: %s\r\nX-Forwarded-Proto: https\r\nConnection: close\r\n",
			sc.method, sc.target, host, sc.accept, clientAddr)
		if cookie != "" {
			fmt.Fprintf(&b, "Cookie: %s\r\n", cookie)
		}
		for k, v := range sc.spoof {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
		for k, vs := range sc.spoofMulti {
			for _, v := range vs {
				fmt.Fprintf(&b, "%s: %s\r\n", k, v)
			}
		}
		b.WriteString("\r\n")
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(conn, b.String()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		reached := got
		got = nil
		mu.Unlock()
		if resp.StatusCode != 200 {
			if len(reached) != 0 {
				t.Errorf("refused with %d, but the upstream was reached", resp.StatusCode)
			}
			v := verdict{Status: resp.StatusCode, Reason: resp.Header.Get(reverseproxy.ReasonHeader),
				SetCookie: resp.Header.Values("Set-Cookie"), WWWAuth: resp.Header.Get("WWW-Authenticate"),
				Body: string(body), CType: resp.Header.Get("Content-Type")}
			if v.Login = resp.Header.Get("Location"); v.Login == "" {
				v.Login = resp.Header.Get("X-Auth-Request-Redirect")
			}
			return v
		}
		if len(reached) != 1 || string(body) != "app" {
			t.Fatalf("allowed, but the upstream received %d requests (body %q)", len(reached), body)
		}
		up := reached[0]
		v := verdict{Status: 200, Reason: obs.reason()}
		v.Identity = pickIdentity(func(name string) (string, bool) {
			vals, ok := up[http.CanonicalHeaderKey(name)]
			if !ok || len(vals) == 0 {
				return "", false
			}
			if len(vals) > 1 {
				t.Errorf("the upstream got %d %s headers", len(vals), name)
			}
			return vals[0], true
		})
		v.Cookie = strings.Join(up.Values("Cookie"), "; ")
		// No client-sent value of any identity header (any spelling) may
		// reach the upstream.
		for name, vals := range up {
			for _, val := range vals {
				for _, s := range spoofed {
					if val == s {
						t.Errorf("the client's %s: %q reached the upstream", name, val)
					}
				}
			}
		}
		return v
	}}
}

// TestReverseProxyAgrees runs the scenario table through the reverse-proxy
// adapter: the same verdicts as every other adapter (what the upstream
// received, for allows), and the same bodies and content types as
// ext_authz.
func TestReverseProxyAgrees(t *testing.T) {
	f := newFixture(t)
	ref := envoyDriver(t, f)
	d := reverseProxyDriver(t, f)
	for _, sc := range scenarios() {
		if sc.method == "" {
			sc.method = "GET"
		}
		t.Run(sc.name, func(t *testing.T) {
			f.store.down.Store(sc.storeDown)
			defer f.store.down.Store(false)
			got := d.run(t, sc, f.cookieHeader(sc))
			cmp := got
			cmp.Body, cmp.CType = "", ""
			if want := d.expect(sc.want); !reflect.DeepEqual(cmp, want) {
				t.Errorf("%s:\n got %+v\nwant %+v", d.name, cmp, want)
			}
			r := ref.run(t, sc, f.cookieHeader(sc))
			if got.Body != r.Body || got.CType != r.CType {
				t.Errorf("body/content-type (%q, %q) differ from %s (%q, %q)", got.Body, got.CType, ref.name, r.Body, r.CType)
			}
		})
	}
}
