package forwardauth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/check"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/cookie"
)

// fakeStore is a map-backed session.Store whose failures can be switched on.
type fakeStore struct {
	mu   sync.Mutex
	m    map[string]session.Session
	fail error
	hang bool
}

func (f *fakeStore) Save(_ context.Context, s *session.Session) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.m[s.ID] = *s
	return nil
}

func (f *fakeStore) Load(ctx context.Context, id string) (*session.Session, error) {
	f.mu.Lock()
	fail, hang := f.fail, f.hang
	s, ok := f.m[id]
	f.mu.Unlock()
	if hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if fail != nil {
		return nil, fail
	}
	if !ok {
		return nil, session.ErrNotFound
	}
	return &s, nil
}

func (f *fakeStore) Delete(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.m, id)
	return nil
}

func (f *fakeStore) Ping(context.Context) error { return f.fail }

type fixture struct {
	store  *fakeStore
	srv    *httptest.Server
	codec  *cookie.Codec
	cookie string // a valid session cookie for alice@example.com
}

func newFixture(t *testing.T, trusted ...string) *fixture {
	t.Helper()
	codec, err := cookie.NewCodec([][]byte{make([]byte, 32)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := &fakeStore{m: map[string]session.Session{}}
	p := &authz.Policy{
		LoginURL:     "https://auth.example.com/oauth2/start",
		EmailDomains: []string{"example.com"},
		Skip:         []authz.Route{{PathPrefix: "/public"}},
		Headers:      authz.DefaultHeaderNames(),
	}
	cs := cookie.Settings{Name: "_gatehouse", Secure: true}
	chk := check.New(st, codec, cs, p, check.Options{Timeout: 50 * time.Millisecond})
	if len(trusted) == 0 {
		trusted = []string{"127.0.0.0/8", "::1/128"}
	}
	var prefixes []netip.Prefix
	for _, s := range trusted {
		prefixes = append(prefixes, netip.MustParsePrefix(s))
	}
	srv := httptest.NewServer(NewHandler(chk, Options{TrustedProxies: prefixes}))
	t.Cleanup(srv.Close)

	id, _ := session.NewID()
	st.m[id] = session.Session{ID: id, User: "alice", Email: "alice@example.com", EmailVerified: true, Groups: []string{"dev", "ops"}, ExpiresAt: time.Now().Add(time.Hour)}
	v, err := codec.SealID("_gatehouse", id, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{store: st, srv: srv, codec: codec, cookie: "_gatehouse=" + v}
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func (f *fixture) forwardAuth(t *testing.T, uri string, hdr map[string]string) *http.Response {
	t.Helper()
	resp, err := noRedirect.Do(f.forwardAuthRequest(uri, hdr))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// forwardAuthRequest is the request Traefik sends for a GET of uri on
// app.example.com, with hdr added.
func (f *fixture) forwardAuthRequest(uri string, hdr map[string]string) *http.Request {
	req, _ := http.NewRequest("GET", f.srv.URL+ForwardAuthPath, nil)
	req.Header.Set("X-Forwarded-Method", "GET")
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("X-Forwarded-Host", "app.example.com")
	req.Header.Set("X-Forwarded-Uri", uri)
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return req
}

func (f *fixture) authRequest(t *testing.T, orig string, hdr map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", f.srv.URL+AuthRequestPath, nil)
	req.Header.Set("X-Original-URL", orig)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestForwardAuth(t *testing.T) {
	f := newFixture(t)
	browser := map[string]string{"Accept": "text/html"}

	resp := f.forwardAuth(t, "/dash?tab=1", browser)
	if resp.StatusCode != 302 {
		t.Fatalf("no session: status %d", resp.StatusCode)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if rd := loc.Query().Get("rd"); rd != "https://app.example.com/dash?tab=1" {
		t.Errorf("rd = %q", rd)
	}
	if resp := f.forwardAuth(t, "/dash", map[string]string{"Accept": "application/json"}); resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("API client: %d %v", resp.StatusCode, resp.Header)
	}

	resp = f.forwardAuth(t, "/dash", map[string]string{"Cookie": "other=1; " + f.cookie})
	if resp.StatusCode != 200 {
		t.Fatalf("valid session: %d", resp.StatusCode)
	}
	if got := resp.Header.Get("X-Auth-Request-Email"); got != "alice@example.com" {
		t.Errorf("email = %q", got)
	}
	if got := resp.Header.Get("X-Auth-Request-Groups"); got != "dev,ops" {
		t.Errorf("groups = %q", got)
	}
	if _, ok := resp.Header["X-Auth-Request-Preferred-Username"]; !ok {
		t.Error("empty identity header must still be present so the proxy overwrites client values")
	}

	// Public path: allowed, identity headers present and empty.
	resp = f.forwardAuth(t, "/public/logo.png", nil)
	if resp.StatusCode != 200 || resp.Header.Get("X-Auth-Request-Email") != "" {
		t.Errorf("skip route: %d %q", resp.StatusCode, resp.Header.Get("X-Auth-Request-Email"))
	}
	if _, ok := resp.Header["X-Auth-Request-Email"]; !ok {
		t.Error("skip route must send empty identity headers")
	}
	// Dot segments cannot reach a protected path through a skip route.
	if resp := f.forwardAuth(t, "/public/../admin", nil); resp.StatusCode != 401 {
		t.Errorf("/public/../admin: %d", resp.StatusCode)
	}
	if resp := f.forwardAuth(t, "/public/%2e%2e/admin", nil); resp.StatusCode != 400 {
		t.Errorf("/public/%%2e%%2e/admin: %d", resp.StatusCode)
	}
	if resp := f.forwardAuth(t, "/public%2f..%2fadmin", nil); resp.StatusCode != 400 {
		t.Errorf("encoded slash: %d", resp.StatusCode)
	}
	// Query strings never match a skip route.
	if resp := f.forwardAuth(t, "/admin?x=/public", nil); resp.StatusCode != 401 {
		t.Errorf("query trick: %d", resp.StatusCode)
	}
}

func TestTamperedCookieIsClearedAndRefused(t *testing.T) {
	f := newFixture(t)
	bad := f.cookie[:len(f.cookie)-2] + "AA"
	for _, c := range []string{bad, "_gatehouse=garbage", "_gatehouse=" + strings.Repeat("A", 10000)} {
		resp := f.forwardAuth(t, "/", map[string]string{"Cookie": c, "Accept": "text/html"})
		if resp.StatusCode != 302 {
			t.Errorf("cookie %.30q: status %d", c, resp.StatusCode)
		}
		if sc := resp.Header.Values("Set-Cookie"); len(sc) != 1 || !strings.Contains(sc[0], "Max-Age=0") {
			t.Errorf("cookie %.30q: Set-Cookie = %v", c, sc)
		}
	}
	// A revoked session is refused.
	for id := range f.store.m {
		delete(f.store.m, id)
	}
	if resp := f.forwardAuth(t, "/", map[string]string{"Cookie": f.cookie}); resp.StatusCode != 401 {
		t.Errorf("revoked session: %d", resp.StatusCode)
	}
}

func TestStoreFailureFailsClosed(t *testing.T) {
	f := newFixture(t)
	f.store.fail = errors.New("connection refused")
	resp := f.forwardAuth(t, "/", map[string]string{"Cookie": f.cookie, "Accept": "text/html"})
	if resp.StatusCode != 503 || resp.Header.Get("Location") != "" {
		t.Errorf("forward-auth with store down: %d %v", resp.StatusCode, resp.Header)
	}
	resp = f.authRequest(t, "https://app.example.com/", map[string]string{"Cookie": f.cookie})
	if resp.StatusCode != 403 || resp.Header.Get(ReasonHeader) != "store_unavailable" {
		t.Errorf("auth-request with store down: %d %v", resp.StatusCode, resp.Header)
	}

	// A hung store is cut off by the checker's deadline (50ms here). The
	// client gives up after 2s, so a regression fails here at once instead of
	// hanging until the test binary's timeout.
	f.store.fail, f.store.hang = nil, true
	impatient := &http.Client{Timeout: 2 * time.Second, CheckRedirect: noRedirect.CheckRedirect}
	resp, err := impatient.Do(f.forwardAuthRequest("/", map[string]string{"Cookie": f.cookie}))
	if err != nil {
		t.Fatalf("hung store: no answer within 2s, the store deadline did not apply: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("hung store: %d", resp.StatusCode)
	}

	// Service resumes by itself.
	f.store.hang = false
	if resp := f.forwardAuth(t, "/", map[string]string{"Cookie": f.cookie}); resp.StatusCode != 200 {
		t.Errorf("after recovery: %d", resp.StatusCode)
	}
}

func TestAuthRequest(t *testing.T) {
	f := newFixture(t)
	resp := f.authRequest(t, "https://app.example.com/x?y=1", map[string]string{"Accept": "text/html"})
	if resp.StatusCode != 401 {
		t.Fatalf("no session: %d", resp.StatusCode)
	}
	login, _ := url.Parse(resp.Header.Get(LoginHeader))
	if login == nil || login.Query().Get("rd") != "https://app.example.com/x?y=1" {
		t.Errorf("login header = %q", resp.Header.Get(LoginHeader))
	}
	if resp.Header.Get("Location") != "" {
		t.Error("nginx 401 must not carry Location")
	}
	resp = f.authRequest(t, "https://app.example.com/x", map[string]string{"Cookie": f.cookie})
	if resp.StatusCode != 200 || resp.Header.Get("X-Auth-Request-User") != "alice" {
		t.Errorf("valid: %d %v", resp.StatusCode, resp.Header)
	}
	f.store.m[mustID(t, f)] = session.Session{Email: "eve@evil.com", EmailVerified: true, ExpiresAt: time.Now().Add(time.Hour)}
	// Fallback to X-Forwarded-* when X-Original-URL is absent.
	req, _ := http.NewRequest("GET", f.srv.URL+AuthRequestPath, nil)
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("X-Forwarded-Host", "app.example.com")
	req.Header.Set("X-Forwarded-Uri", "/public/x")
	r2, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != 200 {
		t.Errorf("X-Forwarded fallback: %d", r2.StatusCode)
	}
	for _, bad := range []string{"not a url", "https://user@app.example.com/", "ftp://app.example.com/", "/relative"} {
		if resp := f.authRequest(t, bad, nil); resp.StatusCode != 403 {
			t.Errorf("X-Original-URL %q: %d, want 403", bad, resp.StatusCode)
		}
	}
}

func mustID(t *testing.T, _ *fixture) string {
	id, err := session.NewID()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestForbidden(t *testing.T) {
	f := newFixture(t)
	id := mustID(t, f)
	f.store.m[id] = session.Session{ID: id, Email: "eve@evil.com", EmailVerified: true, ExpiresAt: time.Now().Add(time.Hour)}
	v, _ := f.codec.SealID("_gatehouse", id, time.Now().Add(time.Hour))
	c := "_gatehouse=" + v
	if resp := f.forwardAuth(t, "/", map[string]string{"Cookie": c}); resp.StatusCode != 403 || resp.Header.Get("X-Auth-Request-Email") != "" {
		t.Errorf("forward-auth forbidden: %d", resp.StatusCode)
	}
	if resp := f.authRequest(t, "https://app.example.com/", map[string]string{"Cookie": c}); resp.StatusCode != 403 {
		t.Errorf("auth-request forbidden: %d", resp.StatusCode)
	}
}

func TestUntrustedPeerRefused(t *testing.T) {
	f := newFixture(t, "192.0.2.0/24") // the test client (loopback) is not trusted
	if resp := f.forwardAuth(t, "/", map[string]string{"Cookie": f.cookie}); resp.StatusCode != 403 || resp.Header.Get(ReasonHeader) != "untrusted_source" {
		t.Errorf("untrusted forward-auth: %d", resp.StatusCode)
	}
	if resp := f.authRequest(t, "https://app.example.com/", map[string]string{"Cookie": f.cookie}); resp.StatusCode != 403 {
		t.Errorf("untrusted auth-request: %d", resp.StatusCode)
	}
}

func TestBadForwardedHeaders(t *testing.T) {
	f := newFixture(t)
	for name, hdr := range map[string]map[string]string{
		"bad proto":  {"X-Forwarded-Proto": "javascript"},
		"bad host":   {"X-Forwarded-Host": "evil.com/x"},
		"bad method": {"X-Forwarded-Method": "G ET"},
		"host crlf":  {"X-Forwarded-Host": "a\r\nb"},
	} {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", f.srv.URL+ForwardAuthPath, nil)
			req.Header.Set("X-Forwarded-Host", "app.example.com")
			req.Header.Set("X-Forwarded-Uri", "/")
			for k, v := range hdr {
				req.Header[k] = []string{v}
			}
			resp, err := noRedirect.Do(req)
			if err != nil {
				return // the client itself refused to send it: also fine
			}
			resp.Body.Close()
			if resp.StatusCode != 400 {
				t.Errorf("status %d, want 400", resp.StatusCode)
			}
		})
	}
}

// TestRepeatedDescriptionHeadersRefused: a header that describes the
// original request must come once; with two, which one the proxy acted on
// is a guess, so the request is refused.
func TestRepeatedDescriptionHeadersRefused(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		path string
		hdr  http.Header
	}{
		{ForwardAuthPath, http.Header{"X-Forwarded-Uri": {"/public/x", "/admin"}}},
		{ForwardAuthPath, http.Header{"X-Forwarded-Host": {"app.example.com", "status.example.com"}}},
		{ForwardAuthPath, http.Header{"X-Forwarded-Method": {"GET", "DELETE"}}},
		{ForwardAuthPath, http.Header{"X-Http-Method-Override": {"GET", "DELETE"}}},
		{AuthRequestPath, http.Header{"X-Original-Url": {"https://app.example.com/public/x", "https://app.example.com/admin"}}},
		{AuthRequestPath, http.Header{"X-Original-Method": {"GET", "POST"}}},
	} {
		req, _ := http.NewRequest("GET", f.srv.URL+c.path, nil)
		req.Header.Set("X-Forwarded-Proto", "https")
		req.Header.Set("X-Forwarded-Host", "app.example.com")
		req.Header.Set("X-Forwarded-Uri", "/public/x")
		req.Header.Set("X-Original-URL", "https://app.example.com/public/x")
		for k, v := range c.hdr {
			req.Header[k] = v
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := 400
		if c.path == AuthRequestPath {
			want = 403 // nginx carries only 2xx/401/403; the reason says why
		}
		if resp.StatusCode != want || resp.Header.Get(ReasonHeader) != "bad_request" {
			t.Errorf("%s %v: %d %s, want %d bad_request", c.path, c.hdr, resp.StatusCode, resp.Header.Get(ReasonHeader), want)
		}
	}
}
