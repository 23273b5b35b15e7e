package login_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/internal/login"
	"github.com/gatehouse/gatehouse/internal/oidctest"
	"github.com/gatehouse/gatehouse/internal/session"
)

var bobUser = oidctest.User{Subject: "bob-2", Email: "bob@example.com", EmailVerified: true, Password: "builder"}

// bcEnv is an env with back-channel logout enabled, and three sessions:
// alice in two browsers (two provider sessions) and bob.
type bcEnv struct {
	*env
	locks            *fakeLocker
	revoker          *fakeRevoker
	alice1, alice2   *session.Session
	bob              *session.Session
	alice1B, alice2B *http.Client
}

func newBCEnv(t *testing.T) *bcEnv {
	t.Helper()
	locks := newFakeLocker()
	rv := &fakeRevoker{}
	e := newEnv(t, envOptions{
		op: oidctest.Options{
			Users: []oidctest.User{aliceUser, bobUser},
			// Long enough to be an HS256 key, for the algorithm-confusion case.
			Client: oidctest.Client{ID: "gatehouse", Secret: "a-client-secret-of-at-least-32-bytes"},
		},
		opts: login.Options{Locker: locks, Revoker: rv},
	})
	rv.store = e.store
	b := &bcEnv{env: e, locks: locks, revoker: rv}
	b.alice1, b.alice1B = e.signIn(t, "alice", "wonderland")
	b.alice2, b.alice2B = e.signIn(t, "alice", "wonderland")
	b.bob, _ = e.signIn(t, "bob-2", "builder")
	if b.alice1.SID == "" || b.alice1.SID == b.alice2.SID {
		t.Fatalf("premise: two browsers have two provider sessions (sids %q, %q)", b.alice1.SID, b.alice2.SID)
	}
	return b
}

// post sends a back-channel logout request with form as its body.
func (e *env) postLogout(t *testing.T, form url.Values) *http.Response {
	t.Helper()
	resp, err := http.Post(e.srv.URL+login.BackchannelLogoutPath, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(strings.NewReader(string(b)))
	return resp
}

func (e *env) logoutWith(t *testing.T, token string) *http.Response {
	t.Helper()
	return e.postLogout(t, url.Values{"logout_token": {token}})
}

func mint(t *testing.T, op *oidctest.Provider, sub, sid string, opts ...oidctest.LogoutOption) string {
	t.Helper()
	tok, err := op.LogoutToken(sub, sid, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (b *bcEnv) ids() []string {
	var out []string
	for _, s := range b.store.all() {
		out = append(out, s.ID)
	}
	slices.Sort(out)
	return out
}

func sortedIDs(ss ...*session.Session) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.ID)
	}
	slices.Sort(out)
	return out
}

// assertLogoutError checks a refusal: the status, no-store, and the OAuth
// error JSON.
func assertLogoutError(t *testing.T, resp *http.Response, status int, code string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, body(resp))
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatal("no Cache-Control: no-store")
	}
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal([]byte(body(resp)), &e); err != nil || e.Error != code || e.Description == "" {
		t.Fatalf("error body %q (%v), want error %q with a description", body(resp), err, code)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
}

func assertLoggedOut(t *testing.T, resp *http.Response) {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("back-channel logout: %d %s", resp.StatusCode, body(resp))
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatal("no Cache-Control: no-store on success")
	}
}

func TestBackchannelLogoutBySID(t *testing.T) {
	b := newBCEnv(t)
	assertLoggedOut(t, b.logoutWith(t, mint(t, b.op, "alice-1", b.alice1.SID)))
	if got, want := b.ids(), sortedIDs(b.alice2, b.bob); !slices.Equal(got, want) {
		t.Fatal("a logout token with sid did not end exactly that provider session")
	}
	// sid alone (no sub) is enough.
	assertLoggedOut(t, b.logoutWith(t, mint(t, b.op, "", b.alice2.SID)))
	if got, want := b.ids(), sortedIDs(b.bob); !slices.Equal(got, want) {
		t.Fatal("a logout token with only sid did not end that session")
	}
	if !strings.Contains(b.logs.String(), `"sessions_ended":1`) {
		t.Fatal("the logout is not logged with the number of sessions ended")
	}
}

func TestBackchannelLogoutBySubject(t *testing.T) {
	b := newBCEnv(t)
	assertLoggedOut(t, b.logoutWith(t, mint(t, b.op, "alice-1", "")))
	if got, want := b.ids(), sortedIDs(b.bob); !slices.Equal(got, want) {
		t.Fatal("a logout token without sid did not end all of the user's sessions (and only those)")
	}
	// Nobody left to end: still a success.
	assertLoggedOut(t, b.logoutWith(t, mint(t, b.op, "alice-1", "")))
}

func TestBackchannelLogoutReplay(t *testing.T) {
	b := newBCEnv(t)
	tok := mint(t, b.op, "alice-1", b.alice1.SID)
	assertLoggedOut(t, b.logoutWith(t, tok))
	resp := b.logoutWith(t, tok)
	assertLogoutError(t, resp, http.StatusBadRequest, "invalid_request")
	if !strings.Contains(b.logs.String(), string(login.ReasonLogoutTokenReplayed)) {
		t.Fatal("replay not logged with its reason")
	}
	// Another token with the same jti (and another sid) is a replay too.
	before := b.ids()
	resp = b.logoutWith(t, mint(t, b.op, "alice-1", b.alice2.SID, oidctest.LogoutClaim("jti", jtiOf(t, tok))))
	assertLogoutError(t, resp, http.StatusBadRequest, "invalid_request")
	if !slices.Equal(b.ids(), before) {
		t.Fatal("a replayed jti ended sessions")
	}
}

func jtiOf(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		JTI string `json:"jti"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c.JTI
}

// TestBackchannelLogoutInvalidTokens: every invalid logout token is refused
// with 400 and ends nothing. Each case has its own provider and sessions, so
// a token that is wrongly accepted fails its own case and no other; and each
// case ends with a valid token on the same setup, so a refusal for another
// reason than the token does not pass for one.
func TestBackchannelLogoutInvalidTokens(t *testing.T) {
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	cases := map[string]func(t *testing.T, b *bcEnv, sid string) string{
		"wrong aud": func(t *testing.T, b *bcEnv, sid string) string {
			return mint(t, b.op, "alice-1", sid, oidctest.LogoutClaim("aud", "another-client"))
		},
		"aud list without us": func(t *testing.T, b *bcEnv, sid string) string {
			return mint(t, b.op, "alice-1", sid, oidctest.LogoutClaim("aud", []string{"a", "b"}))
		},
		"no aud": func(t *testing.T, b *bcEnv, sid string) string {
			return mint(t, b.op, "alice-1", sid, oidctest.LogoutClaim("aud", nil))
		},
		"other iss": func(t *testing.T, b *bcEnv, sid string) string {
			return mint(t, b.op, "alice-1", sid, oidctest.LogoutClaim("iss", "https://evil.example"))
		},
		"with nonce": func(t *testing.T, b *bcEnv, sid string) string {
			return mint(t, b.op, "alice-1", sid, oidctest.LogoutClaim("nonce", "n-0S6_WzA2Mj"))
		},
		"with empty nonce": func(t *testing.T, b *bcEnv, sid string) string {
			return mint(t, b.op, "alice-1", sid, oidctest.LogoutClaim("nonce", ""))
		},
		"missing events": func(t *testing.T, b *bcEnv, sid string) string {
			return mint(t, b.op, "alice-1", sid, oidctest.LogoutClaim("events", nil))
		},
		"events without logout": func(t *testing.T, b *bcEnv, sid string) string {
			return mint(t, b.op, "alice-1", sid, oidctest.LogoutClaim("events", map[string]any{"urn:other": map[string]any{}}))
		},
		"event not an object": func(t *testing.T, b *bcEnv, sid string) string {
			return mint(t, b.op, "alice-1", sid, oidctest.LogoutClaim("events", map[string]any{oidctest.BackchannelLogoutEvent: "yes"}))
		},
		"events not an object": func(t *testing.T, b *bcEnv, sid string) string {
			return mint(t, b.op, "alice-1", sid, oidctest.LogoutClaim("events", []string{oidctest.BackchannelLogoutEvent}))
		},
		"old iat": func(t *testing.T, b *bcEnv, sid string) string {
			return mint(t, b.op, "alice-1", sid, oidctest.LogoutClaim("iat", now.Add(-6*time.Minute)))
		},
		"iat in the future": func(t *testing.T, b *bcEnv, sid string) string {
			return mint(t, b.op, "alice-1", sid, oidctest.LogoutClaim("iat", now.Add(5*time.Minute)))
		},
		"no iat": func(t *testing.T, b *bcEnv, sid string) string {
			return mint(t, b.op, "alice-1", sid, oidctest.LogoutClaim("iat", nil))
		},
		"expired": func(t *testing.T, b *bcEnv, sid string) string {
			return mint(t, b.op, "alice-1", sid, oidctest.LogoutClaim("exp", now.Add(-time.Second)))
		},
		"no exp": func(t *testing.T, b *bcEnv, sid string) string {
			return mint(t, b.op, "alice-1", sid, oidctest.LogoutClaim("exp", nil))
		},
		"no sub, no sid": func(t *testing.T, b *bcEnv, sid string) string { return mint(t, b.op, "", "") },
		"no jti": func(t *testing.T, b *bcEnv, sid string) string {
			return mint(t, b.op, "alice-1", sid, oidctest.LogoutClaim("jti", nil))
		},
		"sub not a string": func(t *testing.T, b *bcEnv, sid string) string {
			return mint(t, b.op, "", "", oidctest.LogoutClaim("sub", 42))
		},
		"typ of an access token": func(t *testing.T, b *bcEnv, sid string) string {
			return mint(t, b.op, "alice-1", sid, oidctest.LogoutHeader("typ", "at+jwt"))
		},
		"other issuer's key": func(t *testing.T, b *bcEnv, sid string) string {
			return mint(t, b.op, "alice-1", sid, oidctest.LogoutSignedWith(jose.RS256, otherKey))
		},
		"HS256 with the client secret": func(t *testing.T, b *bcEnv, sid string) string {
			return mint(t, b.op, "alice-1", sid, oidctest.LogoutSignedWith(jose.HS256, []byte(b.op.Client().Secret)))
		},
		"alg none": func(t *testing.T, b *bcEnv, sid string) string {
			return mint(t, b.op, "alice-1", sid, oidctest.LogoutUnsigned())
		},
		"an ID token": func(t *testing.T, b *bcEnv, sid string) string { return b.alice1.IDToken },
		"signature removed": func(t *testing.T, b *bcEnv, sid string) string {
			tok := mint(t, b.op, "alice-1", sid)
			return tok[:strings.LastIndex(tok, ".")+1]
		},
		"payload swapped": func(t *testing.T, b *bcEnv, sid string) string {
			good := strings.Split(mint(t, b.op, "alice-1", sid), ".")
			other := strings.Split(mint(t, b.op, "alice-1", ""), ".")
			return good[0] + "." + other[1] + "." + good[2]
		},
		"garbage": func(t *testing.T, b *bcEnv, sid string) string { return "not.a.jwt" },
		"empty":   func(t *testing.T, b *bcEnv, sid string) string { return "" },
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := newBCEnv(t)
			all := b.ids()
			resp := b.logoutWith(t, tok(t, b, b.alice1.SID))
			assertLogoutError(t, resp, http.StatusBadRequest, "invalid_request")
			if !slices.Equal(b.ids(), all) {
				t.Fatal("an invalid logout token ended sessions")
			}
			if n := b.revoker.calls.Load(); n != 0 {
				t.Fatalf("DeleteMatching called %d times for an invalid token", n)
			}
			// Control: the same provider and sessions, a valid token, works.
			assertLoggedOut(t, b.logoutWith(t, mint(t, b.op, "alice-1", b.alice1.SID)))
			if got, want := b.ids(), sortedIDs(b.alice2, b.bob); !slices.Equal(got, want) {
				t.Fatal("the valid control token did not end its session")
			}
		})
	}
}

func TestBackchannelLogoutRequestShape(t *testing.T) {
	b := newBCEnv(t)
	all := b.ids()
	tok := mint(t, b.op, "alice-1", "")
	// The token only counts in a form body: not in the query, not as JSON.
	resp, err := http.Post(b.srv.URL+login.BackchannelLogoutPath+"?logout_token="+url.QueryEscape(tok), "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("token in the query: %d", resp.StatusCode)
	}
	resp, err = http.Post(b.srv.URL+login.BackchannelLogoutPath, "application/json", strings.NewReader(`{"logout_token":"`+tok+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("token as JSON: %d", resp.StatusCode)
	}
	// A huge body is refused, not read whole.
	resp = b.postLogout(t, url.Values{"logout_token": {strings.Repeat("a", 1<<20)}})
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("1 MiB body: %d", resp.StatusCode)
	}
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		req, _ := http.NewRequest(m, b.srv.URL+login.BackchannelLogoutPath+"?logout_token="+url.QueryEscape(tok), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
			t.Fatalf("%s: %d (Allow %q)", m, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
	if !slices.Equal(b.ids(), all) {
		t.Fatal("a malformed request ended sessions")
	}
}

func TestBackchannelLogoutStoreFailure(t *testing.T) {
	b := newBCEnv(t)
	tok := mint(t, b.op, "alice-1", b.alice1.SID)
	b.revoker.fail.Store(true)
	resp := b.logoutWith(t, tok)
	assertLogoutError(t, resp, http.StatusServiceUnavailable, "temporarily_unavailable")
	// The provider retries the same token once the store is back: not a replay.
	b.revoker.fail.Store(false)
	assertLoggedOut(t, b.logoutWith(t, tok))
	if got, want := b.ids(), sortedIDs(b.alice2, b.bob); !slices.Equal(got, want) {
		t.Fatal("the retried logout did not end the session")
	}

	// The replay store failing: 503, nothing ended.
	b.locks.fail.Store(true)
	resp = b.logoutWith(t, mint(t, b.op, "alice-1", ""))
	assertLogoutError(t, resp, http.StatusServiceUnavailable, "temporarily_unavailable")
	if len(b.ids()) != 2 {
		t.Fatal("a logout went ahead without replay protection")
	}
}

func TestBackchannelLogoutNotConfigured(t *testing.T) {
	for name, opts := range map[string]login.Options{
		"nothing":      {},
		"only revoker": {Revoker: &fakeRevoker{}},
		"only locker":  {Locker: newFakeLocker()},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envOptions{opts: opts})
			s, _ := e.signIn(t, "alice", "wonderland")
			resp := e.logoutWith(t, mint(t, e.op, "alice-1", s.SID))
			assertLogoutError(t, resp, http.StatusNotImplemented, "unsupported")
			if e.stored(t, s.ID) == nil {
				t.Fatal("session ended")
			}
		})
	}
}

// TestBackchannelLogoutFromProvider: signing out in one browser sends the
// browser to the provider, which POSTs logout tokens to gatehouse; the
// user's other session ends at once, without waiting for a refresh.
func TestBackchannelLogoutFromProvider(t *testing.T) {
	b := newBCEnv(t)
	b.op.SetBackchannelLogoutURI(b.srv.URL + login.BackchannelLogoutPath)
	resp := get(t, b.alice1B, b.srv.URL+login.SignOutPath+"?rd=/bye")
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("sign_out: %d", resp.StatusCode)
	}
	resp = get(t, b.alice1B, resp.Header.Get("Location")) // the provider's end_session
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != b.srv.URL+"/bye" {
		t.Fatalf("end_session: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got, want := b.ids(), sortedIDs(b.bob); !slices.Equal(got, want) {
		t.Fatal("the provider's back-channel logout did not end alice's other session")
	}
	ds := b.op.LogoutDeliveries()
	if len(ds) == 0 {
		t.Fatal("the provider sent no logout token")
	}
	for _, d := range ds {
		if d.Err != nil || d.Status != http.StatusOK || d.Subject != "alice-1" {
			t.Fatalf("delivery %+v", d)
		}
	}
}
