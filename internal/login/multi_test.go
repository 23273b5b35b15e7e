package login_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/login"
	"github.com/gatehouse/gatehouse/internal/oidctest"
	"github.com/gatehouse/gatehouse/internal/redirect"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/cookie"
)

var daveUser = oidctest.User{Subject: "dave-7", Email: "dave@corp.example", EmailVerified: true, Groups: []string{"corp-eng"}, Password: "pw-dave"}

// multiEnv is an env with two providers: "oidc" (e.op, the default, whose
// callback is /oauth2/callback) and "corp" (corp, at /oauth2/callback/corp).
type multiEnv struct {
	*env
	corp    *oidctest.Provider
	locks   *fakeLocker
	revoker *fakeRevoker
}

func newMultiEnv(t *testing.T) *multiEnv {
	t.Helper()
	corp := oidctest.Start(t, oidctest.Options{Users: []oidctest.User{daveUser}})
	locks, rv := newFakeLocker(), &fakeRevoker{}
	e := newEnv(t, envOptions{
		opts: login.Options{Locker: locks, Revoker: rv},
		config: func(c *login.Config) {
			base := strings.TrimSuffix(c.RedirectURL, login.CallbackPath)
			c.Providers = []login.Provider{
				{ID: "oidc", Name: "Example ID", IssuerURL: c.IssuerURL, ClientID: c.ClientID, ClientSecret: c.ClientSecret,
					RedirectURL: c.RedirectURL, Scopes: c.Scopes},
				{ID: "corp", Name: "Corp SSO", IssuerURL: corp.Issuer(), ClientID: corp.Client().ID, ClientSecret: corp.Client().Secret,
					RedirectURL: base + login.CallbackPath + "/corp", Scopes: c.Scopes},
			}
			corp.AddRedirectURI(base + login.CallbackPath + "/corp")
			corp.AddPostLogoutRedirectURI(base + "/")
		},
	})
	rv.store = e.store
	return &multiEnv{env: e, corp: corp, locks: locks, revoker: rv}
}

func (m *multiEnv) startWith(provider, rd string) string {
	return m.srv.URL + login.StartPath + "?provider=" + provider + "&rd=" + url.QueryEscape(rd)
}

// signInWith signs username in through the provider with this ID.
func (m *multiEnv) signInWith(t *testing.T, op *oidctest.Provider, provider, username, password string) (*session.Session, *http.Client) {
	t.Helper()
	c := newClient(t)
	resp, err := op.Login(context.Background(), c, m.startWith(provider, "/"), username, password)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("sign-in with %s: status %d: %s", provider, resp.StatusCode, body(resp))
	}
	id, err := m.codec.OpenID(cookieName, setCookie(resp, cookieName).Value)
	if err != nil {
		t.Fatal(err)
	}
	return m.stored(t, id), c
}

func TestSeveralProvidersSignIn(t *testing.T) {
	m := newMultiEnv(t)

	// Without a provider, start sends the browser to choose one.
	resp := get(t, newClient(t), m.startURL("/x"))
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != login.SignInPath+"?rd=%2Fx" {
		t.Fatalf("start without provider: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The sign-in page lists both, in order, each with its own start URL.
	_, b := serveOnce(t, m.h.SignInHandler(), login.SignInPath+"?rd=/x")
	i, j := strings.Index(b, "Continue with Example ID"), strings.Index(b, "Continue with Corp SSO")
	if i < 0 || j < i || !strings.Contains(b, `provider=corp&amp;rd=%2Fx`) || !strings.Contains(b, `provider=oidc&amp;rd=%2Fx`) {
		t.Fatalf("sign-in page does not list both providers in order:\n%s", b)
	}

	// Each provider's sign-in is recorded as its own.
	dave, _ := m.signInWith(t, m.corp, "corp", "dave-7", "pw-dave")
	if dave.Provider != "corp" || dave.Issuer != m.corp.Issuer() || dave.Email != "dave@corp.example" || dave.Groups[0] != "corp-eng" {
		t.Fatalf("corp session: %+v", dave)
	}
	alice, _ := m.signInWith(t, m.op, "oidc", "alice", "wonderland")
	if alice.Provider != "oidc" || alice.Issuer != m.op.Issuer() {
		t.Fatalf("default session: provider %q issuer %q", alice.Provider, alice.Issuer)
	}

	// An unknown provider is refused, not guessed.
	assertRefused(t, get(t, newClient(t), m.startWith("nope", "/")), http.StatusBadRequest, login.ReasonUnknownProvider)
	// So is a callback path of no provider.
	if resp := get(t, newClient(t), m.srv.URL+login.CallbackPath+"/nope?code=x&state=y"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("callback of no provider: %d", resp.StatusCode)
	}
}

// A code and state from one provider's sign-in, delivered to another
// provider's callback, is refused (the mix-up attack): the sign-in's login
// cookie names the provider it went to.
func TestSeveralProvidersCallbackMixUp(t *testing.T) {
	m := newMultiEnv(t)
	c := newClient(t)
	cb, err := m.corp.Authorize(context.Background(), c, m.startWith("corp", "/"), "dave-7", "pw-dave")
	if err != nil {
		t.Fatal(err)
	}
	if cb.Path != login.CallbackPath+"/corp" {
		t.Fatalf("corp's callback path %q", cb.Path)
	}
	wrong := *cb
	wrong.Path = login.CallbackPath // the default provider's
	assertRefused(t, get(t, c, wrong.String()), http.StatusBadRequest, login.ReasonProviderMismatch)
	if len(m.store.all()) != 0 {
		t.Fatal("a session was stored")
	}
}

// Refresh, sign-out and back-channel logout go to the provider that
// signed the session in.
func TestSeveralProvidersRefreshSignOutLogout(t *testing.T) {
	m := newMultiEnv(t)
	dave, _ := m.signInWith(t, m.corp, "corp", "dave-7", "pw-dave")
	alice, _ := m.signInWith(t, m.op, "oidc", "alice", "wonderland")

	before, beforeDefault := m.corp.RefreshRequests(), m.op.RefreshRequests()
	if _, err := m.h.Refresh(context.Background(), dave); err != nil {
		t.Fatalf("refresh of the corp session: %v", err)
	}
	if m.corp.RefreshRequests() != before+1 || m.op.RefreshRequests() != beforeDefault {
		t.Fatalf("refresh went to the wrong provider: corp %d→%d, default %d→%d",
			before, m.corp.RefreshRequests(), beforeDefault, m.op.RefreshRequests())
	}
	// A session whose provider is no longer configured is not refreshed
	// through another: it ends.
	ghost := *m.stored(t, alice.ID)
	ghost.ID = alice.ID
	ghost.Provider = "gone"
	if err := m.store.Save(context.Background(), &ghost); err != nil {
		t.Fatal(err)
	}
	if _, err := m.h.Refresh(context.Background(), &ghost); err == nil || !strings.Contains(err.Error(), string(login.ReasonUnknownProvider)) {
		t.Fatalf("refresh of an unconfigured provider's session: %v", err)
	}

	// Back-channel logout: a token from corp ends corp's session of that
	// subject and nothing else.
	alice2, _ := m.signInWith(t, m.op, "oidc", "alice", "wonderland")
	tok := mint(t, m.corp, "dave-7", "")
	assertLoggedOut(t, m.logoutWith(t, tok))
	if m.stored(t, dave.ID) != nil || m.stored(t, alice2.ID) == nil {
		t.Fatal("corp's logout token did not end exactly corp's session")
	}
	// A token of the default provider still works on the same endpoint.
	assertLoggedOut(t, m.logoutWith(t, mint(t, m.op, "alice-1", "")))
	if m.stored(t, alice2.ID) != nil {
		t.Fatal("the default provider's logout token did not end alice's session")
	}

	// Sign-out sends the browser to the session's provider's end_session.
	dave, daveB := m.signInWith(t, m.corp, "corp", "dave-7", "pw-dave")
	req, _ := http.NewRequest(http.MethodGet, m.srv.URL+login.SignOutPath+"?rd=/", nil)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := noRedirect(daveB).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc == nil || !strings.HasPrefix(loc.String(), m.corp.Issuer()) ||
		loc.Query().Get("client_id") != m.corp.Client().ID {
		t.Fatalf("sign-out of a corp session: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if m.stored(t, dave.ID) != nil {
		t.Fatal("sign-out left the session")
	}
}

func noRedirect(c *http.Client) *http.Client {
	nc := *c
	nc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &nc
}

// Configurations that would make callbacks ambiguous are refused.
func TestSeveralProvidersConfigErrors(t *testing.T) {
	p := func(id, redirect string) login.Provider {
		return login.Provider{ID: id, IssuerURL: "https://idp.example.com", ClientID: "c", RedirectURL: redirect}
	}
	cases := map[string]struct {
		ps   []login.Provider
		want string
	}{
		"same ID twice":      {[]login.Provider{p("a", "https://g.example.com/oauth2/callback"), p("a", "https://g.example.com/oauth2/callback/b")}, "ID used twice"},
		"same callback path": {[]login.Provider{p("a", "https://g.example.com/oauth2/callback"), p("b", "https://h.example.com/oauth2/callback")}, "each needs its own"},
		"bad ID":             {[]login.Provider{p("A B", "https://g.example.com/oauth2/callback")}, "lower-case letters"},
		"auth param of the flow": {[]login.Provider{func() login.Provider {
			q := p("a", "https://g.example.com/oauth2/callback")
			q.AuthParams = map[string]string{"state": "fixed"}
			return q
		}()}, `auth parameter "state" is the flow's own`},
	}
	v := mustValidator(t)
	codec, _ := cookie.NewCodec([][]byte{make([]byte, cookie.KeySize)}, nil)
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := login.New(login.Config{Providers: tc.ps}, newMemStore(), codec, cookie.Settings{Name: cookieName}, v, login.Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func mustValidator(t *testing.T) *redirect.Validator {
	t.Helper()
	v, err := redirect.NewValidator([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	return v
}
