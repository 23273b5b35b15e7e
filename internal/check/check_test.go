package check

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/bearer"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/cookie"
	"github.com/gatehouse/gatehouse/internal/session/memstore"
)

// fakeVerifier accepts the token "good" and maps others to errors.
type fakeVerifier struct{ calls int }

func (f *fakeVerifier) Verify(_ context.Context, tok string) (*authz.Identity, error) {
	f.calls++
	switch tok {
	case "good":
		return &authz.Identity{Subject: "bot", User: "bot", Email: "bot@example.com", EmailVerified: true, Token: tok,
			Claims: map[string][]string{"role": {"deployer"}}}, nil
	case "down":
		return nil, fmt.Errorf("%w: keys", bearer.ErrUnavailable)
	}
	return nil, fmt.Errorf("%w: bad", bearer.ErrInvalid)
}

type fakeAsserter struct {
	key, aud string
	err      error
}

func (f *fakeAsserter) Mint(key, aud string, id *authz.Identity) (string, error) {
	f.key, f.aud = key, aud
	return "assert-" + id.User, f.err
}

type env struct {
	c      *Checker
	store  *memstore.Store
	codec  *cookie.Codec
	cookie string // a live session's Cookie header
	sid    string
	bearer *fakeVerifier
	assert *fakeAsserter
}

func idToken(claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(claims)) + ".sig"
}

func newEnv(t *testing.T, p *authz.Policy) *env {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	codec, err := cookie.NewCodec([][]byte{key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{store: memstore.New(memstore.Options{}), codec: codec, bearer: &fakeVerifier{}, assert: &fakeAsserter{}}
	t.Cleanup(func() { _ = e.store.Close() })
	cookies := cookie.Settings{Name: "_gh", Secure: true}
	e.c = New(e.store, codec, cookies, p, Options{Bearer: e.bearer, Assertion: e.assert})
	e.sid, _ = session.NewID()
	s := &session.Session{ID: e.sid, Subject: "s-1", User: "alice", Email: "alice@example.com", EmailVerified: true, Groups: []string{"dev"},
		ExpiresAt: time.Now().Add(time.Hour), AccessToken: "at-1", IDToken: idToken(`{"sub":"s-1","team":["blue","red"]}`)}
	if err := e.store.Save(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	v, err := codec.SealID("_gh", e.sid, s.ExpiresAt)
	if err != nil {
		t.Fatal(err)
	}
	e.cookie = "_gh=" + v
	return e
}

func policy() *authz.Policy {
	return &authz.Policy{
		LoginURL:     "https://auth.example.com/oauth2/start",
		EmailDomains: []string{"example.com"},
		Skip:         []authz.Route{{PathPrefix: "/healthz"}},
		Rules: []authz.Rule{
			{Name: "team-blue", Hosts: []string{"blue.example.com"}, Action: authz.ActionRequire,
				Require: authz.Requirement{Claims: map[string][]string{"team": {"blue"}}}},
			{Name: "deployers", Hosts: []string{"deploy.example.com"}, Action: authz.ActionRequire,
				Require: authz.Requirement{Claims: map[string][]string{"role": {"deployer"}}}},
		},
		Headers: authz.HeaderNames{User: "X-User", Email: "X-Email", Groups: "X-Groups", PreferredUsername: "X-Pref",
			AccessToken: "X-Auth-Request-Access-Token", Authorization: "Authorization", Assertion: "X-Gatehouse-Assertion"},
	}
}

func browser(host, path string) *authz.Request {
	return &authz.Request{Method: "GET", Scheme: "https", Host: host, Path: path, Accept: "text/html"}
}

func hdr(hs []authz.Header, name string) (string, bool) {
	for _, h := range hs {
		if strings.EqualFold(h.Name, name) {
			return h.Value, true
		}
	}
	return "", false
}

func TestSessionAllowCarriesTokensClaimsAndAssertion(t *testing.T) {
	e := newEnv(t, policy())
	d := e.c.Check(context.Background(), browser("Blue.Example.com.", "/"), Credentials{Cookie: e.cookie, Authorization: "Bearer app-own-token"})
	if d.Outcome != authz.Allow || d.Rule != "team-blue" {
		t.Fatalf("got %v %s by %s", d.Outcome, d.Reason, d.Rule)
	}
	for name, want := range map[string]string{
		"X-User": "alice", "X-Auth-Request-Access-Token": "at-1", "Authorization": "Bearer at-1", "X-Gatehouse-Assertion": "assert-alice",
	} {
		if got, _ := hdr(d.UpstreamHeaders, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if e.assert.key != e.sid || e.assert.aud != "blue.example.com" {
		t.Errorf("assertion minted for %q / %q", e.assert.key, e.assert.aud)
	}
	if e.bearer.calls != 0 {
		t.Error("a live session must not consult the bearer token (it belongs to the app)")
	}
	// Claims from the ID token decide: alice is not on team "deployer".
	if d := e.c.Check(context.Background(), browser("deploy.example.com", "/"), Credentials{Cookie: e.cookie}); d.Outcome != authz.Forbidden {
		t.Errorf("claim rule: %v", d.Outcome)
	}
	// An anonymous allow removes every identity header, assertion included.
	d = e.c.Check(context.Background(), browser("app.example.com", "/healthz"), Credentials{Authorization: "Bearer spoof"})
	if d.Outcome != authz.Allow || len(d.UpstreamHeaders) != 7 {
		t.Fatalf("healthz: %v %v", d.Outcome, d.UpstreamHeaders)
	}
	for _, h := range d.UpstreamHeaders {
		if h.Value != "" {
			t.Errorf("anonymous allow sets %v", h)
		}
	}
}

func TestBearer(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, policy())
	cases := map[string]struct {
		creds  Credentials
		host   string
		want   authz.Outcome
		reason authz.Reason
		status int
	}{
		"valid token":                     {Credentials{Authorization: "Bearer good"}, "deploy.example.com", authz.Allow, authz.ReasonAllowed, 200},
		"scheme is case-insensitive":      {Credentials{Authorization: "bearer good"}, "app.example.com", authz.Allow, authz.ReasonAllowed, 200},
		"dead cookie, valid token":        {Credentials{Cookie: "_gh=garbage", Authorization: "Bearer good"}, "app.example.com", authz.Allow, authz.ReasonAllowed, 200},
		"invalid token: 401, no redirect": {Credentials{Authorization: "Bearer forged"}, "app.example.com", authz.Unauthenticated, authz.ReasonInvalidToken, 401},
		"issuer down: 503":                {Credentials{Authorization: "Bearer down"}, "app.example.com", authz.Unavailable, authz.ReasonIssuerUnavailable, 503},
		"basic auth is not ours":          {Credentials{Authorization: "Basic dTpw"}, "app.example.com", authz.Unauthenticated, authz.ReasonNoSession, 302},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			d := e.c.Check(ctx, browser(tc.host, "/"), tc.creds)
			if d.Outcome != tc.want || d.Reason != tc.reason || d.Reply.Status != tc.status {
				t.Fatalf("got %v/%s/%d, want %v/%s/%d", d.Outcome, d.Reason, d.Reply.Status, tc.want, tc.reason, tc.status)
			}
			if tc.reason == authz.ReasonInvalidToken {
				if _, ok := hdr(d.Reply.Headers, "Location"); ok {
					t.Error("a bearer client got a redirect")
				}
				if v, _ := hdr(d.Reply.Headers, "WWW-Authenticate"); !strings.Contains(v, `error="invalid_token"`) {
					t.Errorf("WWW-Authenticate = %q", v)
				}
			}
			if d.Outcome == authz.Allow {
				if v, _ := hdr(d.UpstreamHeaders, "Authorization"); v != "Bearer good" {
					t.Errorf("Authorization upstream = %q", v)
				}
				if e.assert.key != "good" {
					t.Errorf("assertion keyed by %q", e.assert.key)
				}
			}
		})
	}
	// Without a verifier the header is left to the app: a browser logs in.
	c := New(e.store, e.codec, cookie.Settings{Name: "_gh"}, policy(), Options{})
	if d := c.Check(ctx, browser("app.example.com", "/"), Credentials{Authorization: "Bearer good"}); d.Reply.Status != 302 {
		t.Errorf("bearer disabled: %d", d.Reply.Status)
	}
}

func TestAssertionFailureFailsClosed(t *testing.T) {
	e := newEnv(t, policy())
	e.assert.err = errors.New("hsm gone")
	d := e.c.Check(context.Background(), browser("app.example.com", "/"), Credentials{Cookie: e.cookie})
	if d.Outcome == authz.Allow || d.Reply.Status != 500 || d.Reason != authz.ReasonAssertionFailed {
		t.Fatalf("got %v/%d/%s", d.Outcome, d.Reply.Status, d.Reason)
	}
}

func TestSetPolicySwaps(t *testing.T) {
	e := newEnv(t, policy())
	p := policy()
	p.Rules = append([]authz.Rule{{Name: "lockdown", PathRegexp: mustPattern(t, `^/`), Action: authz.ActionDeny}}, p.Rules...)
	e.c.SetPolicy(p)
	if d := e.c.Check(context.Background(), browser("app.example.com", "/x"), Credentials{Cookie: e.cookie}); d.Reason != authz.ReasonDeniedByRule || d.Rule != "lockdown" {
		t.Errorf("new policy not used: %s %s", d.Reason, d.Rule)
	}
}

type recordingRefresher struct{ ids []string }

func (r *recordingRefresher) MaybeRefresh(id string, s *session.Session) {
	if s.Subject == "" || s.TokenExpiry.IsZero() && s.Email == "" {
		panic("refresher needs the session it is to refresh")
	}
	r.ids = append(r.ids, id)
}

// TestRefresherSeesAllowedSessionsOnly: token refresh is offered every
// allowed request made with a session, and nothing else.
func TestRefresherSeesAllowedSessionsOnly(t *testing.T) {
	e := newEnv(t, policy())
	rf := &recordingRefresher{}
	var logs bytes.Buffer
	e.c = New(e.store, e.codec, cookie.Settings{Name: "_gh", Secure: true}, policy(),
		Options{Refresher: rf, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	ctx := context.Background()
	if d := e.c.Check(ctx, browser("app.example.com", "/"), Credentials{Cookie: e.cookie}); d.Outcome != authz.Allow {
		t.Fatalf("allow: %v", d.Reason)
	}
	if len(rf.ids) != 1 || rf.ids[0] != e.sid {
		t.Fatalf("refresher calls = %v", rf.ids)
	}
	// Denied (claim rule) and anonymous requests are not offered.
	e.c.Check(ctx, browser("deploy.example.com", "/"), Credentials{Cookie: e.cookie})
	e.c.Check(ctx, browser("app.example.com", "/"), Credentials{})
	if len(rf.ids) != 1 {
		t.Errorf("refresher called for a denial: %v", rf.ids)
	}
	// Each denial is one log line with its reason code, and no cookie.
	out := logs.String()
	if n := strings.Count(out, `"msg":"denied"`); n != 2 {
		t.Errorf("%d denial lines, want 2:\n%s", n, out)
	}
	if !strings.Contains(out, `"reason":"no_session"`) || !strings.Contains(out, `"reason":"not_allowed"`) {
		t.Errorf("denial lines lack reason codes:\n%s", out)
	}
	if strings.Contains(out, e.cookie[4:20]) {
		t.Error("a log line contains the session cookie")
	}
}

// BenchmarkCheckAuthenticated is the hot path: cookie → session (memory
// store) → policy → decision with identity headers.
func BenchmarkCheckAuthenticated(b *testing.B) {
	key := make([]byte, 32)
	codec, _ := cookie.NewCodec([][]byte{key}, nil)
	store := memstore.New(memstore.Options{})
	defer store.Close()
	id, _ := session.NewID()
	exp := time.Now().Add(time.Hour)
	if err := store.Save(context.Background(), &session.Session{ID: id, User: "alice", Email: "alice@example.com", EmailVerified: true,
		Groups: []string{"dev"}, CreatedAt: time.Now(), ExpiresAt: exp}); err != nil {
		b.Fatal(err)
	}
	v, _ := codec.SealID("_gh", id, exp)
	p := &authz.Policy{LoginURL: "/oauth2/start", EmailDomains: []string{"example.com"}, Headers: authz.DefaultHeaderNames()}
	c := New(store, codec, cookie.Settings{Name: "_gh", Secure: true}, p, Options{})
	req := browser("app.example.com", "/dashboard")
	cr := Credentials{Cookie: "theme=dark; _gh=" + v}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if d := c.Check(ctx, req, cr); d.Outcome != authz.Allow {
			b.Fatal(d.Reason)
		}
	}
}

func mustPattern(t *testing.T, expr string) *authz.PathPattern {
	t.Helper()
	pp, err := authz.CompilePathPattern(expr)
	if err != nil {
		t.Fatal(err)
	}
	return pp
}
