package login_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/login"
	"github.com/gatehouse/gatehouse/internal/oidctest"
	"github.com/gatehouse/gatehouse/internal/redirect"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/cookie"
)

const cookieName = "_gatehouse"

var (
	aliceUser = oidctest.User{
		Subject: "alice-1", Email: "alice@example.com", EmailVerified: true,
		Groups: []string{"admins", "devs"}, PreferredUsername: "alice", Password: "wonderland",
	}
	eveUser = oidctest.User{Subject: "eve", Email: "eve@example.com", EmailVerified: false, Password: "pw"}
)

// memStore is a small map-based session.Store for these tests.
type memStore struct {
	mu   sync.Mutex
	m    map[string]session.Session
	fail atomic.Bool
	// saveErr, when set, is what Save returns (as a real store's does for
	// a session it refuses to write).
	saveErr error
}

var _ session.Store = (*memStore)(nil)

func newMemStore() *memStore { return &memStore{m: map[string]session.Session{}} }

var errStoreDown = errors.New("store down")

func (s *memStore) Save(ctx context.Context, v *session.Session) error {
	if s.fail.Load() {
		return errStoreDown
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.saveErr != nil {
		return s.saveErr
	}
	s.m[v.ID] = *v
	return nil
}

func (s *memStore) Load(ctx context.Context, id string) (*session.Session, error) {
	if s.fail.Load() {
		return nil, errStoreDown
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[id]
	if !ok {
		return nil, session.ErrNotFound
	}
	return &v, nil
}

// Update saves v only while a session with its ID is stored, as
// session.Manager does; refresh saves through it.
func (s *memStore) Update(ctx context.Context, v *session.Session) error {
	if s.fail.Load() {
		return errStoreDown
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[v.ID]; !ok {
		return session.ErrNotFound
	}
	s.m[v.ID] = *v
	return nil
}

func (s *memStore) Delete(ctx context.Context, id string) error {
	if s.fail.Load() {
		return errStoreDown
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
	return nil
}

func (s *memStore) Ping(context.Context) error { return nil }

func (s *memStore) all() []session.Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []session.Session
	for _, v := range s.m {
		out = append(out, v)
	}
	return out
}

// clock is a settable test clock.
type clock struct{ off atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

type env struct {
	op     *oidctest.Provider
	h      *login.Handler
	srv    *httptest.Server
	store  *memStore
	codec  *cookie.Codec
	clock  *clock
	logs   *syncBuffer
	cfg    login.Config
	rv     *redirect.Validator
	logger *slog.Logger
}

type envOptions struct {
	op     oidctest.Options
	issuer string // overrides the provider's issuer in the login config
	config func(*login.Config)
	opts   login.Options
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	if o.op.Users == nil {
		o.op.Users = []oidctest.User{aliceUser, eveUser}
	}
	e := &env{store: newMemStore(), clock: &clock{}, logs: &syncBuffer{}}
	e.op = oidctest.Start(t, o.op)
	key := bytes.Repeat([]byte{7}, cookie.KeySize)
	var err error
	if e.codec, err = cookie.NewCodec([][]byte{key}, e.clock.Now); err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewUnstartedServer(nil)
	base := "http://" + e.srv.Listener.Addr().String()
	issuer := e.op.Issuer()
	if o.issuer != "" {
		issuer = o.issuer
	}
	cfg := login.Config{
		IssuerURL:    issuer,
		ClientID:     e.op.Client().ID,
		ClientSecret: e.op.Client().Secret,
		RedirectURL:  base + login.CallbackPath,
		Scopes:       []string{"openid", "email", "profile", "groups", "offline_access"},
		Timeout:      3 * time.Second,
		Now:          e.clock.Now,
	}
	if o.config != nil {
		o.config(&cfg)
	}
	e.op.AddRedirectURI(cfg.RedirectURL)
	e.op.AddPostLogoutRedirectURI(base + "/")
	e.op.AddPostLogoutRedirectURI(base + "/bye")
	v, err := redirect.NewValidator([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	e.logger = slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.cfg, e.rv = cfg, v
	e.h = e.newHandler(t, o.opts)
	mux := http.NewServeMux()
	mux.Handle("/oauth2/", e.h)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "home") })
	e.srv.Config.Handler = mux
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	return e
}

// newHandler returns another Handler on e's provider, store and config: a
// second replica.
func (e *env) newHandler(t testing.TB, opts login.Options) *login.Handler {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = e.logger
	}
	h, err := login.New(e.cfg, e.store, e.codec, cookie.Settings{Name: cookieName}, e.rv, opts)
	if err != nil {
		t.Fatal(err)
	}
	stop := runHandler(h)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	return h
}

// stops holds, for each running Handler, the function that ends its Run
// and waits for it.
var stops sync.Map // *login.Handler -> func() error

// runHandler runs h's background refreshes until the function it returns
// (also kept in stops) is called; that function waits up to 15s for Run.
func runHandler(h *login.Handler) func() error {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	stop := sync.OnceValue(func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(15 * time.Second):
			return errors.New("login.Handler.Run did not return within 15s of its context ending")
		}
	})
	stops.Store(h, stop)
	return stop
}

func (e *env) startURL(rd string) string {
	u := e.srv.URL + login.StartPath
	if rd != "" {
		u += "?rd=" + url.QueryEscape(rd)
	}
	return u
}

func newClient(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

// setCookies finds the Set-Cookie for name in resp.
func setCookie(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func get(t *testing.T, c *http.Client, u string) *http.Response {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := oidctest.Visit(context.Background(), c, pu)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func body(resp *http.Response) string {
	b, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return string(b)
}

// loginPrefix starts the name of every sign-in attempt's login cookie.
const loginPrefix = cookieName + "_login_"

// loginSetCookie returns the first Set-Cookie of resp for a login cookie.
func loginSetCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if strings.HasPrefix(c.Name, loginPrefix) {
			return c
		}
	}
	return nil
}

// assertCleared checks that resp clears the login cookie name.
func assertCleared(t *testing.T, resp *http.Response, name string) {
	t.Helper()
	if lc := setCookie(resp, name); lc == nil || lc.MaxAge >= 0 || lc.Value != "" {
		t.Fatalf("login cookie %s not cleared: %v", name, resp.Header.Values("Set-Cookie"))
	}
}

// assertRefused checks a failed callback: the status, the reason on the
// page, no login or session cookie set, no redirect.
func assertRefused(t *testing.T, resp *http.Response, status int, reason login.Reason) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d; body: %s", resp.StatusCode, status, body(resp))
	}
	if b := body(resp); !strings.Contains(b, string(reason)) {
		t.Fatalf("page does not name reason %q: %s", reason, b)
	}
	if resp.Header.Get("Location") != "" {
		t.Fatalf("a failure redirects to %q", resp.Header.Get("Location"))
	}
	for _, c := range resp.Cookies() {
		if strings.HasPrefix(c.Name, loginPrefix) && (c.Value != "" || c.MaxAge >= 0) {
			t.Fatalf("a failure set login cookie %s", c.Name)
		}
	}
	if sc := setCookie(resp, cookieName); sc != nil && sc.Value != "" {
		t.Fatal("a failure set a session cookie")
	}
}

func (e *env) assertNoSession(t *testing.T) {
	t.Helper()
	if n := len(e.store.all()); n != 0 {
		t.Fatalf("%d sessions in the store, want none", n)
	}
}

func TestFullFlow(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := newClient(t)
	rd := e.srv.URL + "/app/page?x=1"
	resp, err := e.op.Login(context.Background(), c, e.startURL(rd), "alice", "wonderland")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != rd {
		t.Fatalf("callback: %d to %q, want 302 to %q; body %s", resp.StatusCode, resp.Header.Get("Location"), rd, body(resp))
	}
	lc := loginSetCookie(resp)
	if lc == nil || lc.MaxAge >= 0 {
		t.Fatal("login cookie not cleared after success")
	}
	sc := setCookie(resp, cookieName)
	if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode {
		t.Fatalf("session cookie %v", sc)
	}
	id, err := e.codec.OpenID(cookieName, sc.Value)
	if err != nil {
		t.Fatalf("session cookie does not open: %v", err)
	}
	all := e.store.all()
	if len(all) != 1 || all[0].ID != id {
		t.Fatalf("store holds %d sessions, want the one the cookie names", len(all))
	}
	s := all[0]
	if s.Subject != "alice-1" || s.User != "alice-1" || s.Email != aliceUser.Email || !s.EmailVerified ||
		s.PreferredUsername != "alice" || !slices.Equal(s.Groups, aliceUser.Groups) || s.Issuer != e.op.Issuer() {
		t.Fatalf("session identity %+v", s)
	}
	if s.SID == "" || s.IDToken == "" || s.AccessToken == "" || s.RefreshToken == "" || s.TokenExpiry.IsZero() {
		t.Fatal("session lacks sid or tokens")
	}
	if d := s.ExpiresAt.Sub(s.CreatedAt); d != 168*time.Hour {
		t.Fatalf("session lifetime %v, want 168h", d)
	}

	// Sign out: the session goes, the cookie is cleared, the browser is
	// sent to the provider's end_session_endpoint and from there back.
	back := e.srv.URL + "/bye"
	resp = get(t, c, e.srv.URL+login.SignOutPath+"?rd="+url.QueryEscape(back))
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("sign_out status %d", resp.StatusCode)
	}
	if sc := setCookie(resp, cookieName); sc == nil || sc.MaxAge >= 0 {
		t.Fatal("sign_out did not clear the session cookie")
	}
	e.assertNoSession(t)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if !strings.HasPrefix(loc.String(), e.op.Issuer()) {
		t.Fatalf("sign_out went to %q, not to the provider", loc)
	}
	q := loc.Query()
	if q.Get("id_token_hint") != s.IDToken || q.Get("post_logout_redirect_uri") != back || q.Get("client_id") != e.op.Client().ID {
		t.Fatalf("end_session parameters %v", q)
	}
	resp = get(t, c, loc.String())
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != back {
		t.Fatalf("provider logout: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := e.op.EndedSessions(); !slices.Equal(got, []string{"alice-1"}) {
		t.Fatalf("provider ended %q", got)
	}

	// Signing out again (no session) stays local and goes straight to rd.
	resp = get(t, c, e.srv.URL+login.SignOutPath+"?rd="+url.QueryEscape(back))
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != signedOutURL(back) {
		t.Fatalf("second sign_out: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestSignOutLocalOnly(t *testing.T) {
	e := newEnv(t, envOptions{config: func(c *login.Config) { c.SkipProviderLogout = true }})
	c := newClient(t)
	if _, err := e.op.Login(context.Background(), c, e.startURL("/"), "alice", "wonderland"); err != nil {
		t.Fatal(err)
	}
	resp := get(t, c, e.srv.URL+login.SignOutPath+"?rd=/bye")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != signedOutURL("/bye") {
		t.Fatalf("sign_out: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	e.assertNoSession(t)
	if len(e.op.EndedSessions()) != 0 {
		t.Fatal("provider logout happened although skipped")
	}
}

func TestSessionIDRotatesOnEveryLogin(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := newClient(t)
	seen := map[string]bool{}
	for i := range 3 {
		resp, err := e.op.Login(context.Background(), c, e.startURL("/"), "alice", "wonderland")
		if err != nil {
			t.Fatal(err)
		}
		id, err := e.codec.OpenID(cookieName, setCookie(resp, cookieName).Value)
		if err != nil {
			t.Fatal(err)
		}
		if seen[id] {
			t.Fatalf("login %d reused a session ID", i)
		}
		seen[id] = true
		// The browser's previous session is gone: one live session at a time.
		if all := e.store.all(); len(all) != 1 || all[0].ID != id {
			t.Fatalf("login %d: store holds %d sessions", i, len(all))
		}
	}
}

func TestUserinfoFallback(t *testing.T) {
	e := newEnv(t, envOptions{op: oidctest.Options{ClaimsInUserinfoOnly: true}})
	resp, err := e.op.Login(context.Background(), newClient(t), e.startURL("/"), "alice", "wonderland")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status %d: %s", resp.StatusCode, body(resp))
	}
	all := e.store.all()
	if len(all) != 1 {
		t.Fatalf("%d sessions", len(all))
	}
	s := all[0]
	if s.Email != aliceUser.Email || !s.EmailVerified || !slices.Equal(s.Groups, aliceUser.Groups) || s.PreferredUsername != "alice" {
		t.Fatalf("identity not completed from userinfo: %+v", s)
	}
}

func TestUnverifiedEmail(t *testing.T) {
	for _, userinfoOnly := range []bool{false, true} {
		e := newEnv(t, envOptions{op: oidctest.Options{ClaimsInUserinfoOnly: userinfoOnly}})
		resp, err := e.op.Login(context.Background(), newClient(t), e.startURL("/"), "eve", "pw")
		if err != nil {
			t.Fatal(err)
		}
		assertRefused(t, resp, http.StatusForbidden, login.ReasonEmailUnverified)
		e.assertNoSession(t)
	}

	e := newEnv(t, envOptions{config: func(c *login.Config) { c.AllowUnverifiedEmail = true }})
	resp, err := e.op.Login(context.Background(), newClient(t), e.startURL("/"), "eve", "pw")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("allowed unverified email: status %d", resp.StatusCode)
	}
	if all := e.store.all(); len(all) != 1 || all[0].EmailVerified || all[0].Email != eveUser.Email {
		t.Fatalf("session %+v should record the email as unverified", all)
	}
}

// loginCookie returns the one login cookie the jar holds for the server.
func (e *env) loginCookie(t *testing.T, c *http.Client) *http.Cookie {
	t.Helper()
	cs := e.loginCookies(c)
	if len(cs) != 1 {
		t.Fatalf("%d login cookies in the jar, want 1", len(cs))
	}
	return cs[0]
}

// loginCookies returns the login cookies the jar holds for the server.
func (e *env) loginCookies(c *http.Client) []*http.Cookie {
	u, _ := url.Parse(e.srv.URL)
	var out []*http.Cookie
	for _, ck := range c.Jar.Cookies(u) {
		if strings.HasPrefix(ck.Name, loginPrefix) {
			out = append(out, ck)
		}
	}
	return out
}

// putLoginCookie sets (or, with an empty value, removes) the login cookie
// name in the jar.
func (e *env) putLoginCookie(c *http.Client, name, value string) {
	u, _ := url.Parse(e.srv.URL)
	ck := &http.Cookie{Name: name, Value: value, Path: "/"}
	if value == "" {
		ck.MaxAge = -1
	}
	c.Jar.SetCookies(u, []*http.Cookie{ck})
}

func TestCallbackAttacks(t *testing.T) {
	reseal := func(t *testing.T, e *env, c *http.Client, lc *http.Cookie, key, value string) {
		// A login cookie sealed with the right key, for the right name and
		// state, with one field changed.
		raw, err := e.codec.Open(lc.Name, lc.Value)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		m[key] = value
		raw, _ = json.Marshal(m)
		v, err := e.codec.Seal(lc.Name, raw, e.clock.Now().Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		e.putLoginCookie(c, lc.Name, v)
	}
	cases := []struct {
		name   string
		tamper func(t *testing.T, e *env, c *http.Client, lc *http.Cookie, cb *url.URL)
		status int
		reason login.Reason
		kept   bool // the browser's attempt survives (the callback was not its)
	}{
		{"state mismatch", func(t *testing.T, e *env, c *http.Client, lc *http.Cookie, cb *url.URL) {
			q := cb.Query()
			q.Set("state", "forged")
			cb.RawQuery = q.Encode()
		}, 400, login.ReasonStateMismatch, true},
		{"missing state", func(t *testing.T, e *env, c *http.Client, lc *http.Cookie, cb *url.URL) {
			q := cb.Query()
			q.Del("state")
			cb.RawQuery = q.Encode()
		}, 400, login.ReasonStateMismatch, true},
		{"missing login cookie", func(t *testing.T, e *env, c *http.Client, lc *http.Cookie, cb *url.URL) {
			e.putLoginCookie(c, lc.Name, "")
		}, 400, login.ReasonMissingLoginCookie, false},
		{"tampered login cookie", func(t *testing.T, e *env, c *http.Client, lc *http.Cookie, cb *url.URL) {
			v := []byte(lc.Value)
			v[len(v)/2] ^= 1
			e.putLoginCookie(c, lc.Name, string(v))
		}, 400, login.ReasonInvalidLoginCookie, false},
		{"login cookie sealed for another name", func(t *testing.T, e *env, c *http.Client, lc *http.Cookie, cb *url.URL) {
			v, _ := e.codec.Seal(cookieName, []byte(`{"s":"x","n":"y","v":"z"}`), e.clock.Now().Add(time.Minute))
			e.putLoginCookie(c, lc.Name, v)
		}, 400, login.ReasonInvalidLoginCookie, false},
		{"login cookie moved to a forged state's name", func(t *testing.T, e *env, c *http.Client, lc *http.Cookie, cb *url.URL) {
			// The attempt's value under the name the forged state hashes
			// to: it is sealed for its own name, so it does not open.
			other, err := e.op.Authorize(context.Background(), c, e.startURL("/"), "alice", "wonderland")
			if err != nil {
				t.Fatal(err)
			}
			var otherName string
			for _, ck := range e.loginCookies(c) {
				if ck.Name != lc.Name {
					otherName = ck.Name
				}
			}
			e.putLoginCookie(c, otherName, lc.Value)
			q := cb.Query()
			q.Set("state", other.Query().Get("state"))
			cb.RawQuery = q.Encode()
		}, 400, login.ReasonInvalidLoginCookie, true},
		{"sealed state differs from the name's", func(t *testing.T, e *env, c *http.Client, lc *http.Cookie, cb *url.URL) {
			reseal(t, e, c, lc, "s", "another-state")
		}, 400, login.ReasonStateMismatch, false},
		{"expired login cookie", func(t *testing.T, e *env, c *http.Client, lc *http.Cookie, cb *url.URL) {
			e.clock.Advance(login.LoginCookieTTL + time.Second)
		}, 400, login.ReasonInvalidLoginCookie, false},
		{"wrong nonce", func(t *testing.T, e *env, c *http.Client, lc *http.Cookie, cb *url.URL) {
			reseal(t, e, c, lc, "n", "another-nonce")
		}, 400, login.ReasonNonceMismatch, false},
		{"wrong PKCE verifier", func(t *testing.T, e *env, c *http.Client, lc *http.Cookie, cb *url.URL) {
			reseal(t, e, c, lc, "v", strings.Repeat("A", 43))
		}, 400, login.ReasonCodeExchangeFailed, false},
		{"forged code", func(t *testing.T, e *env, c *http.Client, lc *http.Cookie, cb *url.URL) {
			q := cb.Query()
			q.Set("code", "forged")
			cb.RawQuery = q.Encode()
		}, 400, login.ReasonCodeExchangeFailed, false},
		{"missing code", func(t *testing.T, e *env, c *http.Client, lc *http.Cookie, cb *url.URL) {
			q := cb.Query()
			q.Del("code")
			cb.RawQuery = q.Encode()
		}, 400, login.ReasonMissingCode, false},
		{"provider error", func(t *testing.T, e *env, c *http.Client, lc *http.Cookie, cb *url.URL) {
			cb.RawQuery = url.Values{"error": {"access_denied"}, "state": {cb.Query().Get("state")}}.Encode()
		}, 400, login.ReasonProviderError, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			c := newClient(t)
			cb, err := e.op.Authorize(context.Background(), c, e.startURL("/"), "alice", "wonderland")
			if err != nil {
				t.Fatal(err)
			}
			lc := e.loginCookie(t, c)
			tc.tamper(t, e, c, lc, cb)
			resp := get(t, c, cb.String())
			assertRefused(t, resp, tc.status, tc.reason)
			e.assertNoSession(t)
			kept := slices.ContainsFunc(e.loginCookies(c), func(ck *http.Cookie) bool { return ck.Name == lc.Name })
			if kept != tc.kept {
				t.Errorf("the attempt's login cookie kept: %v, want %v (Set-Cookie %q)", kept, tc.kept, resp.Header.Values("Set-Cookie"))
			}
		})
	}
}

func TestReplayedCallback(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := newClient(t)
	cb, err := e.op.Authorize(context.Background(), c, e.startURL("/"), "alice", "wonderland")
	if err != nil {
		t.Fatal(err)
	}
	saved := e.loginCookie(t, c)
	if resp := get(t, c, cb.String()); resp.StatusCode != http.StatusFound {
		t.Fatalf("first callback: %d %s", resp.StatusCode, body(resp))
	}
	first := e.store.all()

	// The browser's login cookie is gone after use.
	assertRefused(t, get(t, c, cb.String()), 400, login.ReasonMissingLoginCookie)
	// An attacker who kept the login cookie cannot redeem the code twice.
	e.putLoginCookie(c, saved.Name, saved.Value)
	assertRefused(t, get(t, c, cb.String()), 400, login.ReasonCodeExchangeFailed)
	if got := e.store.all(); len(got) != 1 || got[0].ID != first[0].ID {
		t.Fatal("a replayed callback created a session")
	}
}

func TestStoreFailure(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.store.fail.Store(true)
	resp, err := e.op.Login(context.Background(), newClient(t), e.startURL("/"), "alice", "wonderland")
	if err != nil {
		t.Fatal(err)
	}
	assertRefused(t, resp, http.StatusServiceUnavailable, login.ReasonStoreUnavailable)
}

// TestSessionTooLarge: an account whose session a store refuses as too
// large (more groups than a record may hold) gets its own reason and a
// page that says so, not "the store is unavailable, try again".
func TestSessionTooLarge(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.store.mu.Lock()
	e.store.saveErr = fmt.Errorf("session: save: 10001 groups: %w", session.ErrTooLarge)
	e.store.mu.Unlock()
	resp, err := e.op.Login(context.Background(), newClient(t), e.startURL("/"), "alice", "wonderland")
	if err != nil {
		t.Fatal(err)
	}
	assertRefused(t, resp, http.StatusInternalServerError, login.ReasonSessionTooLarge)
}

func payloads(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("../../testdata/openredirects.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	if len(out) != 559 {
		t.Fatalf("read %d payloads, want 559", len(out))
	}
	return out
}

// TestOpenRedirectPayloads sends every payload as rd to start (checking the
// return URL sealed in the login cookie, and running the whole flow for a
// sample) and to sign_out: each ends as "/".
func TestOpenRedirectPayloads(t *testing.T) {
	e := newEnv(t, envOptions{})
	for i, p := range payloads(t) {
		c := newClient(t)
		resp := get(t, c, e.startURL(p))
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("start with payload %d: status %d", i, resp.StatusCode)
		}
		lc := loginSetCookie(resp)
		raw, err := e.codec.Open(lc.Name, lc.Value)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		if m["r"] != "/" {
			t.Fatalf("start kept payload %q as return URL %q", p, m["r"])
		}
		if i%40 == 0 {
			resp, err := e.op.Login(context.Background(), newClient(t), e.startURL(p), "alice", "wonderland")
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/" {
				t.Fatalf("payload %q: callback %d to %q", p, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
		resp = get(t, c, e.srv.URL+login.SignOutPath+"?rd="+url.QueryEscape(p))
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != signedOutURL("/") {
			t.Fatalf("sign_out with payload %q: %d to %q", p, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}

func TestSignOutPostAndUnsafeRD(t *testing.T) {
	e := newEnv(t, envOptions{config: func(c *login.Config) { c.SkipProviderLogout = true }})
	c := newClient(t)
	if _, err := e.op.Login(context.Background(), c, e.startURL("/"), "alice", "wonderland"); err != nil {
		t.Fatal(err)
	}
	form := url.Values{"rd": {"https://evil.example/"}}
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+login.SignOutPath, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	nc := *c
	nc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := nc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != signedOutURL("/") {
		t.Fatalf("POST sign_out: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	e.assertNoSession(t)
}

func TestProviderLogoutWithUnsafeRD(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := newClient(t)
	if _, err := e.op.Login(context.Background(), c, e.startURL("/"), "alice", "wonderland"); err != nil {
		t.Fatal(err)
	}
	resp := get(t, c, e.srv.URL+login.SignOutPath+"?rd="+url.QueryEscape("//evil.example/"))
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if got := loc.Query().Get("post_logout_redirect_uri"); got != e.srv.URL+"/" {
		t.Fatalf("post_logout_redirect_uri %q, want %q", got, e.srv.URL+"/")
	}
}

func TestMethods(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, tc := range []struct{ method, path string }{
		{http.MethodPost, login.StartPath},
		{http.MethodPut, login.StartPath},
		{http.MethodHead, login.StartPath},
		{http.MethodPost, login.CallbackPath},
		{http.MethodDelete, login.CallbackPath},
		{http.MethodPut, login.SignOutPath},
		{http.MethodDelete, login.SignOutPath},
	} {
		req, _ := http.NewRequest(tc.method, e.srv.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") == "" {
			t.Errorf("%s %s: %d (Allow %q), want 405", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
	e.assertNoSession(t)
}

// flakyIdP fronts a provider and can play dead; it counts discovery requests.
type flakyIdP struct {
	down      atomic.Bool
	discovery atomic.Int64
	proxy     http.Handler
}

func (f *flakyIdP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration") {
		f.discovery.Add(1)
	}
	if f.down.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	f.proxy.ServeHTTP(w, r)
}

func TestProviderUnavailableThenBack(t *testing.T) {
	// The provider is reached through a front that can fail; its issuer
	// is the front's URL.
	front := httptest.NewUnstartedServer(nil)
	frontURL := "http://" + front.Listener.Addr().String()
	flaky := &flakyIdP{}
	flaky.down.Store(true)
	front.Config.Handler = flaky
	front.Start()
	t.Cleanup(front.Close)

	e := newEnv(t, envOptions{op: oidctest.Options{Issuer: frontURL}})
	flaky.proxy = reverseTo(t, e) // the OP itself listens elsewhere

	c := newClient(t)
	resp := get(t, c, e.startURL("/"))
	assertRefused(t, resp, http.StatusServiceUnavailable, login.ReasonProviderUnavailable)
	if err := e.h.Ready(context.Background()); err == nil {
		t.Fatal("Ready with the provider down")
	}
	if n := flaky.discovery.Load(); n != 1 {
		t.Fatalf("%d discovery attempts, want 1 (backoff)", n)
	}

	flaky.down.Store(false)
	// Still within the backoff: no new attempt, still 503.
	assertRefused(t, get(t, c, e.startURL("/")), http.StatusServiceUnavailable, login.ReasonProviderUnavailable)
	e.clock.Advance(2 * time.Second)
	if err := e.h.Ready(context.Background()); err != nil {
		t.Fatalf("Ready after the provider came back: %v", err)
	}
	resp, err := e.op.Login(context.Background(), c, e.startURL("/x"), "alice", "wonderland")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/x" {
		t.Fatalf("after recovery: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// reverseTo returns a proxy to the real listen address of e's provider.
func reverseTo(t *testing.T, e *env) http.Handler {
	t.Helper()
	u, err := url.Parse(e.op.ListenURL())
	if err != nil {
		t.Fatal(err)
	}
	return httputil.NewSingleHostReverseProxy(u)
}

func TestProviderUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	e := newEnv(t, envOptions{issuer: dead})
	c := newClient(t)
	for _, path := range []string{login.StartPath + "?rd=/", login.CallbackPath + "?state=a&code=b"} {
		resp := get(t, c, e.srv.URL+path)
		if path == login.StartPath+"?rd=/" {
			assertRefused(t, resp, http.StatusServiceUnavailable, login.ReasonProviderUnavailable)
		} else if resp.StatusCode == http.StatusFound {
			t.Fatalf("callback with provider down redirected")
		}
	}
	if err := e.h.Ready(context.Background()); err == nil {
		t.Fatal("Ready with an unreachable provider")
	}
	// Sign-out still works locally.
	resp := get(t, c, e.srv.URL+login.SignOutPath+"?rd=/")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != signedOutURL("/") {
		t.Fatalf("sign_out with provider down: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestNew(t *testing.T) {
	codec, _ := cookie.NewCodec([][]byte{bytes.Repeat([]byte{1}, cookie.KeySize)}, nil)
	v, _ := redirect.NewValidator(nil)
	cs := cookie.Settings{Name: cookieName}
	// No I/O: an issuer nobody serves is fine at construction.
	good := login.Config{IssuerURL: "http://127.0.0.1:1", ClientID: "c", RedirectURL: "http://127.0.0.1:2/oauth2/callback"}
	if _, err := login.New(good, newMemStore(), codec, cs, v, login.Options{}); err != nil {
		t.Fatalf("New: %v", err)
	}
	_, err := login.New(login.Config{IssuerURL: "ftp://x", RedirectURL: "/cb", Scopes: []string{"email"}}, newMemStore(), codec, cs, v, login.Options{})
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"issuer URL", "client ID", "redirect URL", "openid"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if _, err := login.New(good, nil, codec, cs, v, login.Options{}); err == nil {
		t.Fatal("nil store accepted")
	}
}

// TestLogsHoldNoSecrets runs a sign-in, a refused replay and a sign-out,
// then checks that no token, code, cookie or secret reached the log.
func TestLogsHoldNoSecrets(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := newClient(t)
	cb, err := e.op.Authorize(context.Background(), c, e.startURL("/"), "alice", "wonderland")
	if err != nil {
		t.Fatal(err)
	}
	lc := e.loginCookie(t, c)
	saved := lc.Value
	resp := get(t, c, cb.String())
	sc := setCookie(resp, cookieName)
	e.putLoginCookie(c, lc.Name, saved)
	get(t, c, cb.String()) // replay, refused
	s := e.store.all()[0]
	get(t, c, e.srv.URL+login.SignOutPath)

	logs := e.logs.String()
	if !strings.Contains(logs, "signed in") || !strings.Contains(logs, string(login.ReasonCodeExchangeFailed)) {
		t.Fatalf("expected log lines missing:\n%s", logs)
	}
	for name, secret := range map[string]string{
		"code": cb.Query().Get("code"), "state": cb.Query().Get("state"), "login cookie": saved,
		"session cookie": sc.Value, "session ID": s.ID, "ID token": s.IDToken, "access token": s.AccessToken,
		"refresh token": s.RefreshToken, "client secret": e.op.Client().Secret,
	} {
		if secret != "" && strings.Contains(logs, secret) {
			t.Errorf("the log holds the %s", name)
		}
	}
}
