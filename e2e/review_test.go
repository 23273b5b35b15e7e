//go:build e2e

package e2e

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/check"
	"github.com/gatehouse/gatehouse/internal/forwardauth"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/cookie"
	"github.com/gatehouse/gatehouse/internal/session/memstore"
	"github.com/gatehouse/gatehouse/internal/spoa"
)

// reviewEnv is the adversarial review's bench: the shipped nginx and
// HAProxy configurations in front of gatehouse's real adapters (the HTTP
// handler and the SPOE agent, in this process, on a memory store with two
// signed-in users) and a raw recorder as the app, so every request that
// reaches the app can be inspected as it arrived.
type reviewEnv struct {
	app     *recorder
	cookies map[string]string // user -> "name=value" of a live session
	proxies map[string]proxySetup
	procs   map[string]*proc
}

// The review's users: alice is admitted (example.com); mallory is signed in
// but refused (evil.com), and her email carries markup, so every page that
// names her account shows whether it escapes it.
const (
	reviewMallory = `mal"'<script>alert(1)</script>@evil.com`
)

// reviewOptions change the bench; the zero value is the shipped files in
// front of the default policy.
type reviewOptions struct {
	// Policy changes the policy before the checker is built.
	Policy func(*authz.Policy)
	// Edits are further old→new pairs for a proxy's configuration file
	// ("nginx", "haproxy"), applied after the suite's overlay.
	Edits map[string][]string
	// Users are more users (name, email) to sign in besides alice and
	// mallory; Session changes each session before it is saved.
	Users   [][2]string
	Session func(*session.Session)
	// Store wraps the memory store the checker reads.
	Store func(session.Store) session.Store
	// AgentLog is the SPOE agent's logger (nil: discarded).
	AgentLog *slog.Logger
	// OAuth2 builds the handler of gatehouse's /oauth2/ endpoints on the
	// bench's store and cookies (nil: none, 404).
	OAuth2 func(st session.Store, codec *cookie.Codec, cs cookie.Settings) http.Handler
}

// newReviewEnv starts the bench.
func newReviewEnv(t *testing.T, o reviewOptions) *reviewEnv {
	t.Helper()
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
	const name = "_gatehouse"
	env := &reviewEnv{cookies: map[string]string{}, proxies: map[string]proxySetup{}, procs: map[string]*proc{}}
	for _, u := range append([][2]string{{"alice", "alice@example.com"}, {"mallory", reviewMallory}}, o.Users...) {
		id, err := session.NewID()
		if err != nil {
			t.Fatal(err)
		}
		exp := time.Now().Add(time.Hour)
		s := &session.Session{ID: id, Issuer: "https://idp.example.com", Subject: "sub-" + u[0], User: u[0],
			Email: u[1], EmailVerified: true, Groups: []string{"eng"}, CreatedAt: time.Now(), ExpiresAt: exp}
		if o.Session != nil {
			o.Session(s)
		}
		if err := store.Save(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		v, err := codec.SealID(name, id, exp)
		if err != nil {
			t.Fatal(err)
		}
		env.cookies[u[0]] = name + "=" + v
	}
	p := &authz.Policy{LoginURL: "/oauth2/start", EmailDomains: []string{"example.com"}, Headers: authz.DefaultHeaderNames(),
		Skip:  []authz.Route{{PathPrefix: "/public"}},
		Rules: []authz.Rule{{Name: "internal", Paths: []string{"/internal"}, Action: authz.ActionDeny}}}
	if o.Policy != nil {
		o.Policy(p)
	}
	var st session.Store = store
	if o.Store != nil {
		st = o.Store(store)
	}
	cs := cookie.Settings{Name: name, Secure: true}
	checker := check.New(st, codec, cs, p, check.Options{Timeout: time.Second})
	mux := http.NewServeMux()
	mux.Handle("/authz/", forwardauth.NewHandler(checker, forwardauth.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}))
	if o.OAuth2 != nil {
		mux.Handle("/oauth2/", o.OAuth2(st, codec, cs))
	}
	gh := serveOn(t, mux)
	agent := agentOn(t, spoa.New(checker, spoa.Options{Logger: o.AgentLog}))
	env.app, err = startRecorder("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.app.stop)
	appAddr := env.app.l.Addr().String()
	for _, k := range []struct {
		name, env, bin, conf string
		overlay              func(proxySetup) (string, error)
		args                 func(ps proxySetup, conf string) []string
	}{
		{"nginx", "GATEHOUSE_E2E_NGINX", "/usr/sbin/nginx", "nginx.conf", nil, func(ps proxySetup, conf string) []string {
			return []string{"-e", filepath.Join(ps.Dir, "nginx-error.log"), "-p", ps.Dir, "-c", conf, "-g", "daemon off;"}
		}},
		{"haproxy", "GATEHOUSE_E2E_HAPROXY", "/usr/sbin/haproxy", "haproxy.cfg", haproxyOverlay, func(_ proxySetup, conf string) []string {
			return []string{"-db", "-f", conf}
		}},
	} {
		bin, err := lookTool(k.env, k.bin)
		if err != nil {
			t.Fatal(err)
		}
		ps := proxySetup{Dir: t.TempDir(), Host: "app." + k.name + "-review.localhost", HTTPPort: freePort(t), HTTPSPort: freePort(t),
			GatehouseAddr: gh, SPOEAddr: agent, AppAddr: appAddr}
		var pr *proc
		if o.Edits[k.name] == nil {
			ctx := context.Background()
			start := startNginx
			if k.name == "haproxy" {
				start = startHAProxy
			}
			pr, err = start(ctx, ps, bin)
		} else {
			pr, err = startEdited(ps, k.name, bin, k.conf, o.Edits[k.name], k.args)
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pr.stop)
		env.proxies[k.name], env.procs[k.name] = ps, pr
		if err := pr.waitReady(context.Background(), "a checked answer", func(context.Context) error {
			if r := env.get(t, k.name, "/ready", nil); r.status != http.StatusUnauthorized {
				return fmt.Errorf("status %d", r.status)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	env.app.take()
	return env
}

// startEdited writes the proxy's overlay as the suite does, applies pairs
// to it, and starts the proxy.
func startEdited(ps proxySetup, name, bin, confName string, pairs []string, args func(proxySetup, string) []string) (*proc, error) {
	var conf string
	switch name {
	case "haproxy":
		c, err := haproxyOverlay(ps)
		if err != nil {
			return nil, err
		}
		conf = c
	case "nginx":
		// startNginx writes the overlay as it starts; stop that copy and
		// start again from the edited file.
		p, err := startNginx(context.Background(), ps, bin)
		if err != nil {
			return nil, err
		}
		p.stop()
		conf = filepath.Join(ps.Dir, confName)
	default:
		return nil, fmt.Errorf("startEdited: no overlay for %s", name)
	}
	b, err := os.ReadFile(conf)
	if err != nil {
		return nil, err
	}
	out, err := substitute(string(b), pairs...)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(conf, []byte(out), 0o644); err != nil {
		return nil, err
	}
	return startProc(ps.Dir, name, nil, append([]string{bin}, args(ps, conf)...)...)
}

// reviewReply is one answer through a proxy.
type reviewReply struct {
	status int
	header http.Header
	body   string
}

// get sends GET path through the proxy over HTTP/2 (HTTP/1.1 when
// headers ask for it with a "proto" of "1.1") with headers, and never
// follows a redirect.
func (env *reviewEnv) get(t *testing.T, proxy, path string, headers [][2]string) reviewReply {
	t.Helper()
	ps := env.proxies[proxy]
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: ps.Host}, ForceAttemptHTTP2: true} // the test's own certificates
	defer tr.CloseIdleConnections()
	c := &http.Client{Timeout: 5 * time.Second, Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("https://127.0.0.1:%d%s", ps.HTTPSPort, path), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = ps.Host
	for _, h := range headers {
		req.Header.Add(h[0], h[1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return reviewReply{}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return reviewReply{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// raw sends raw HTTP/1.1 (with "@HOST" replaced by the proxy's host and
// port) on one TLS connection and returns everything the proxy answered.
func (env *reviewEnv) raw(t *testing.T, proxy, raw string) string {
	t.Helper()
	ps := env.proxies[proxy]
	raw = strings.ReplaceAll(raw, "@HOST", fmt.Sprintf("%s:%d", ps.Host, ps.HTTPSPort))
	d := tls.Dialer{Config: &tls.Config{ServerName: ps.Host, InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}} // test certificates only
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", ps.HTTPSPort))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(io.LimitReader(c, 1<<20))
	return string(b)
}

// reached returns the requests the app received since the last call.
func (env *reviewEnv) reached() []*rawRequest { return env.app.take() }

// TestReviewAttacksRefused: the attacks of this session's adversarial
// review at the seams of the HAProxy (SPOE) and nginx (designed pages,
// asked again at forward-auth) configurations that were correctly
// refused, kept as regression tests. Each sends the attack through the
// shipped file and checks both what the client got and that the app was
// not reached (or, when it was, with no identity the client made up).
func TestReviewAttacksRefused(t *testing.T) {
	reviewAttacks(t, newReviewEnv(t, reviewOptions{}))
}

// reviewAttacks runs TestReviewAttacksRefused's attacks on env.
func reviewAttacks(t *testing.T, env *reviewEnv) {
	alice, mallory := env.cookies["alice"], env.cookies["mallory"]
	browser := [2]string{"Accept", "text/html,application/xhtml+xml"}

	for _, proxy := range []string{"nginx", "haproxy"} {
		t.Run(proxy, func(t *testing.T) {
			// 1. The forbidden page names the account and links "use
			//    another account" to the requested URL: markup in either
			//    is escaped, never reflected.
			t.Run("forbidden page escapes account and URL", func(t *testing.T) {
				r := env.get(t, proxy, `/x?q="><script>alert(2)</script>`, [][2]string{browser, {"Cookie", mallory}})
				if r.status != http.StatusForbidden || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
					t.Fatalf("%d %s, want the 403 page", r.status, r.header.Get("Content-Type"))
				}
				if strings.Contains(r.body, "<script>") {
					t.Errorf("markup reflected unescaped:\n%s", r.body)
					return
				}
				if !strings.Contains(r.body, "mal&#34;&#39;&lt;script&gt;alert(1)&lt;/script&gt;@evil.com") {
					t.Errorf("the account is not named (escaped):\n%s", r.body)
				}
				if !strings.Contains(r.body, "/oauth2/sign_out?rd=https%3A%2F%2F") || !strings.Contains(r.body, "%3Cscript%3Ealert%282%29") {
					t.Errorf("use another account does not return to the (encoded) URL:\n%s", r.body)
				}
				if got := env.reached(); len(got) != 0 {
					t.Errorf("the app was reached: %v", got)
				}
			})

			// 2. A client that names another request in the headers that
			//    describe one to gatehouse (nginx's first check reads
			//    X-Original-URL, its second X-Forwarded-*; HAProxy's agent
			//    neither) is judged on what the proxy routed.
			t.Run("client-described request ignored", func(t *testing.T) {
				for _, who := range []struct {
					cookie string
					want   int
				}{{"", http.StatusUnauthorized}, {mallory, http.StatusForbidden}} {
					hs := [][2]string{{"Accept", "application/json"},
						{"X-Original-URL", "https://" + env.proxies[proxy].Host + "/public/x"},
						{"X-Original-Method", "GET"}, {"X-Forwarded-Method", "GET"},
						{"X-Forwarded-Uri", "/public/x"}, {"X-Forwarded-Host", env.proxies[proxy].Host}, {"X-Forwarded-Proto", "https"}}
					if who.cookie != "" {
						hs = append(hs, [2]string{"Cookie", who.cookie})
					}
					r := env.get(t, proxy, "/dashboard", hs)
					if r.status != who.want {
						t.Errorf("cookie %t: %d %q, want %d", who.cookie != "", r.status, r.body, who.want)
					}
				}
				if got := env.reached(); len(got) != 0 {
					t.Errorf("the app was reached: %v", got)
				}
			})

			// 3. A Host that lists two names: the proxies' host checks
			//    look at one of them (HAProxy's req.hdr takes the last),
			//    gatehouse refuses the list; no public route opens.
			t.Run("Host with two names", func(t *testing.T) {
				for _, path := range []string{"/public/x", "/dashboard"} {
					out := env.raw(t, proxy, "GET "+path+" HTTP/1.1\r\nHost: status.evil.localhost, @HOST\r\nCookie: "+alice+"\r\nConnection: close\r\n\r\n")
					if strings.HasPrefix(out, "HTTP/1.1 200") {
						t.Errorf("%s: %q", path, firstLine(out))
					}
				}
				if got := env.reached(); len(got) != 0 {
					t.Errorf("the app was reached: %v", got)
				}
			})

			// 4. Headers near the proxy's limits: refused or judged, never
			//    let through unchecked.
			t.Run("large headers", func(t *testing.T) {
				for _, n := range []int{8000, 14000, 15200, 20000} {
					r := env.get(t, proxy, "/dashboard", [][2]string{{"Accept", "application/json"}, {"X-Pad", strings.Repeat("a", n)}})
					if r.status == http.StatusOK {
						t.Errorf("%d bytes of header: 200", n)
					}
				}
				if got := env.reached(); len(got) != 0 {
					t.Errorf("the app was reached: %v", got)
				}
			})
		})
	}

	// 5. nginx's internal locations and gatehouse's endpoints cannot be
	//    asked from outside: /_gatehouse_auth is internal (404), and the
	//    /authz/ paths are the app's, checked like any other.
	t.Run("nginx internal locations", func(t *testing.T) {
		for _, path := range []string{"/_gatehouse_auth", "/authz/forward-auth", "/authz/auth-request", "/@gatehouse_denied"} {
			r := env.get(t, "nginx", path, [][2]string{{"Accept", "application/json"}, {"Cookie", mallory}})
			want := http.StatusForbidden // mallory, judged on the path as the app's
			if path == "/_gatehouse_auth" {
				want = http.StatusNotFound
			}
			if r.status != want {
				t.Errorf("%s: %d %q, want %d", path, r.status, r.body, want)
			}
		}
		if got := env.reached(); len(got) != 0 {
			t.Errorf("the app was reached: %v", got)
		}
	})

	// 6. HAProxy's variables are per transaction: on one keep-alive
	//    connection, alice's identity never reaches the next request.
	t.Run("haproxy keep-alive keeps no identity", func(t *testing.T) {
		out := env.raw(t, "haproxy", "GET /x HTTP/1.1\r\nHost: @HOST\r\nCookie: "+alice+"; app=1\r\n\r\n"+
			"GET /public/y HTTP/1.1\r\nHost: @HOST\r\n\r\n"+
			"GET /dashboard HTTP/1.1\r\nHost: @HOST\r\nAccept: application/json\r\nConnection: close\r\n\r\n")
		if n := strings.Count(out, "HTTP/1.1 200"); n != 2 || !strings.Contains(out, "HTTP/1.1 401") {
			t.Errorf("want 200, 200, 401 on one connection:\n%s", out)
		}
		got := env.reached()
		if len(got) != 2 {
			t.Fatalf("the app got %d requests, want 2: %v", len(got), got)
		}
		if got[0].first("X-Auth-Request-User") != "alice" || got[0].first("Cookie") != "app=1" {
			t.Errorf("first request: %s", got[0])
		}
		if v := got[1].values("X-Auth-Request-User"); len(v) != 0 || len(got[1].values("Cookie")) != 0 {
			t.Errorf("second request carries the first's identity or cookies: %s", got[1])
		}
	})
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}
