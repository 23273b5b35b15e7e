package reverseproxy

import (
	"bufio"
	"context"
	"crypto/rand"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/check"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/cookie"
	"github.com/gatehouse/gatehouse/internal/session/memstore"
)

const (
	appHost    = "app.example.com"
	cookieName = "_gatehouse"
	loginURL   = "https://auth.example.com/oauth2/start"
	htmlAccept = "text/html,application/xhtml+xml,*/*;q=0.8"
)

// seen is one request as the upstream received it.
type seen struct {
	Method     string
	RequestURI string
	Host       string
	Header     http.Header
	Body       int64
}

// app is a recording upstream. Its handler answers every request with
// 200 "app" unless serve is set.
type app struct {
	srv   *httptest.Server
	mu    sync.Mutex
	got   []seen
	serve func(w http.ResponseWriter, r *http.Request)
}

func newApp(t testing.TB, serve func(w http.ResponseWriter, r *http.Request)) *app {
	t.Helper()
	a := &app{serve: serve}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		a.mu.Lock()
		a.got = append(a.got, seen{Method: r.Method, RequestURI: r.RequestURI, Host: r.Host, Header: r.Header.Clone(), Body: n})
		a.mu.Unlock()
		if a.serve != nil {
			a.serve(w, r)
			return
		}
		_, _ = io.WriteString(w, "app")
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// take returns and forgets what the app received.
func (a *app) take() []seen {
	a.mu.Lock()
	defer a.mu.Unlock()
	got := a.got
	a.got = nil
	return got
}

// one returns the one request the app received, failing otherwise.
func (a *app) one(t *testing.T) seen {
	t.Helper()
	got := a.take()
	if len(got) != 1 {
		t.Fatalf("the app received %d requests, want 1", len(got))
	}
	return got[0]
}

// fixture is a Checker over a real memory store, with alice signed in.
type fixture struct {
	checker *check.Checker
	alice   string // alice's session cookie, name=value
}

// testPolicy: example.com users, a skip route /public, a deny rule
// /internal, a client-network rule /lan (10.9.8.0/24).
func testPolicy() *authz.Policy {
	p := &authz.Policy{
		LoginURL:     loginURL,
		Skip:         []authz.Route{{PathPrefix: "/public"}},
		EmailDomains: []string{"example.com"},
		Headers:      authz.DefaultHeaderNames(),
		Rules: []authz.Rule{
			{Name: "internal", Paths: []string{"/internal"}, Action: authz.ActionDeny},
			{Name: "lan", Paths: []string{"/lan"}, Sources: []netip.Prefix{netip.MustParsePrefix("10.9.8.0/24")}, Action: authz.ActionAllow},
		},
	}
	p.Headers.AccessToken = authz.DefaultAccessTokenHeader
	return p
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	key := make([]byte, cookie.KeySize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	codec, err := cookie.NewCodec([][]byte{key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := memstore.New(memstore.Options{})
	t.Cleanup(func() { _ = st.Close() })
	id, err := session.NewID()
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour)
	s := &session.Session{ID: id, Issuer: "https://idp.example.com", Subject: "sub-alice", User: "alice",
		Email: "alice@example.com", EmailVerified: true, Groups: []string{"eng", "ops"}, CreatedAt: time.Now(), ExpiresAt: exp}
	if err := st.Save(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	v, err := codec.SealID(cookieName, id, exp)
	if err != nil {
		t.Fatal(err)
	}
	c := check.New(st, codec, cookie.Settings{Name: cookieName, Secure: true}, testPolicy(), check.Options{Timeout: time.Second})
	return &fixture{checker: c, alice: cookieName + "=" + v}
}

// gate is the adapter under test, served on loopback, in front of ups.
type gate struct {
	h   *Handler
	srv *httptest.Server
}

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

func newGate(t testing.TB, f *fixture, opts Options, ups ...Upstream) *gate {
	t.Helper()
	h, err := New(f.checker, ups, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	t.Cleanup(h.CloseIdleConnections)
	return &gate{h: h, srv: srv}
}

// reply is what a client got.
type reply struct {
	status int
	header http.Header
	body   string
}

// do sends a request to the gate with host as its Host and the headers
// given as name, value pairs (repeated names are sent repeatedly).
func (g *gate) do(t *testing.T, method, target string, hdr ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, g.srv.URL+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = appHost
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		req.Header[hdr[i]] = append(req.Header[hdr[i]], hdr[i+1]) // the name as written, "_" and all
	}
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// raw sends head (a request head without the final empty line) on a raw
// connection, so any target can be written, and returns the status.
func (g *gate) raw(t *testing.T, head string) int {
	t.Helper()
	conn, err := net.Dial("tcp", g.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, strings.ReplaceAll(head, "\n", "\r\n")+"\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}
