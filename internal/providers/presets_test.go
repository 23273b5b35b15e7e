package providers_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/login"
	"github.com/gatehouse/gatehouse/internal/providers"
	"github.com/gatehouse/gatehouse/internal/providers/claimhooks"
	"github.com/gatehouse/gatehouse/internal/providers/providertest"
	"github.com/gatehouse/gatehouse/internal/redirect"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/cookie"
	"github.com/gatehouse/gatehouse/internal/session/memstore"
)

const cookieName = "_gh"

// gate is gatehouse's login for one preset provider, reaching the fake
// through its client as it would reach the real provider.
type gate struct {
	fake     *providertest.Fake
	h        *login.Handler
	srv      *httptest.Server
	store    session.Store
	codec    *cookie.Codec
	resolved providers.Resolved
}

func newGate(t *testing.T, f *providertest.Fake, preset string, params providers.Params, adjust func(*login.Provider)) *gate {
	t.Helper()
	r, probs := providers.Resolve(preset, params)
	if len(probs) > 0 {
		t.Fatalf("resolve %s: %v", preset, probs)
	}
	g := &gate{fake: f, resolved: r, store: memstore.New(memstore.Options{})}
	var err error
	if g.codec, err = cookie.NewCodec([][]byte{bytes.Repeat([]byte{3}, cookie.KeySize)}, nil); err != nil {
		t.Fatal(err)
	}
	g.srv = httptest.NewUnstartedServer(nil)
	base := "http://" + g.srv.Listener.Addr().String()
	p := login.Provider{
		ID: preset, Name: r.Name, IssuerURL: r.IssuerURL, ClientID: f.ClientID, ClientSecret: f.ClientSecret,
		RedirectURL: base + login.CallbackPath, Scopes: r.Scopes, UserClaim: r.UserClaim, EmailClaim: r.EmailClaim,
		GroupsClaim: r.GroupsClaim, ExtraGroupsClaims: r.ExtraGroupsClaims, AuthParams: r.AuthParams,
	}
	if adjust != nil {
		adjust(&p)
	}
	p.Claims = claimhooks.For(preset, params, p.EmailClaim, r.GraphURL)
	rv, err := redirect.NewValidator([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	g.h, err = login.New(login.Config{Providers: []login.Provider{p}, HTTPClient: f.Client(nil), Timeout: 5 * time.Second},
		g.store, g.codec, cookie.Settings{Name: cookieName}, rv, login.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/oauth2/", g.h)
	g.srv.Config.Handler = mux
	g.srv.Start()
	t.Cleanup(g.srv.Close)
	return g
}

// signIn runs a sign-in as the fake's current user. It returns the
// session stored (nil if none), the callback's answer and the
// authorization request the browser was sent to.
func (g *gate) signIn(t *testing.T) (*session.Session, *http.Response, *url.URL) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	browser := g.fake.Client(jar)
	resp, err := browser.Get(g.srv.URL + login.StartPath + "?rd=/app")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	authz, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil {
		t.Fatalf("start: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, err = browser.Get(authz.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize at %s: %d", authz.Redacted(), resp.StatusCode)
	}
	cb, err := browser.Get(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(cb.Body)
	cb.Body.Close()
	cb.Body = io.NopCloser(bytes.NewReader(page))
	for _, c := range cb.Cookies() {
		if c.Name == cookieName && c.Value != "" {
			id, err := g.codec.OpenID(cookieName, c.Value)
			if err != nil {
				t.Fatal(err)
			}
			s, err := g.store.Load(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			return s, cb, authz
		}
	}
	return nil, cb, authz
}

// refused checks that a sign-in failed with status and reason, storing nothing.
func refused(t *testing.T, s *session.Session, resp *http.Response, status int, reason login.Reason) {
	t.Helper()
	if s != nil || resp.StatusCode != status {
		t.Fatalf("sign-in: status %d (session %v), want %d %s", resp.StatusCode, s != nil, status, reason)
	}
	buf := new(bytes.Buffer)
	_, _ = buf.ReadFrom(resp.Body)
	if !strings.Contains(buf.String(), string(reason)) {
		t.Fatalf("page does not name %s: %s", reason, buf.String())
	}
}

func TestGoogle(t *testing.T) {
	f := providertest.Google(t)
	g := newGate(t, f, providers.Google, providers.Params{Domains: []string{"Company.com"}}, nil)
	if g.resolved.IssuerURL != "https://accounts.google.com" {
		t.Fatalf("issuer %q", g.resolved.IssuerURL)
	}
	alice := map[string]any{"sub": "1093", "email": "alice@company.com", "email_verified": true, "hd": "company.com", "name": "Alice"}
	f.SignIn(alice, nil)
	s, resp, authz := g.signIn(t)
	if s == nil {
		t.Fatalf("sign-in failed: %d", resp.StatusCode)
	}
	if authz.Host != "accounts.google.com" || authz.Path != "/o/oauth2/v2/auth" || authz.Query().Get("hd") != "company.com" {
		t.Fatalf("authorization request %s", authz.Redacted())
	}
	if s.Email != "alice@company.com" || !s.EmailVerified || s.Provider != "google" || s.Issuer != "https://accounts.google.com" {
		t.Fatalf("session %+v", s)
	}

	// The hd parameter is only a hint: the claim decides.
	cases := map[string]map[string]any{
		"another Workspace domain": {"sub": "2", "email": "eve@other.com", "email_verified": true, "hd": "other.com"},
		"a consumer account":       {"sub": "3", "email": "eve@gmail.com", "email_verified": true},
		"an unverified email":      {"sub": "4", "email": "eve@company.com", "email_verified": false, "hd": "company.com"},
		"no email":                 {"sub": "5", "hd": "company.com"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f.SignIn(c, nil)
			s, resp, _ := g.signIn(t)
			refused(t, s, resp, http.StatusForbidden, login.ReasonClaimsRefused)
		})
	}
}

const tenant = "0d1b3c5e-7a9b-4c2d-8e6f-102132435465"

func entraUser(extra map[string]any) map[string]any {
	c := map[string]any{"sub": "pairwise-sub", "oid": "6f1c2d3e-0000-4000-8000-00000000000a", "tid": tenant,
		"ver": "2.0", "name": "Alice", "preferred_username": "alice@contoso.com", "email": "alice@contoso.com"}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

func TestEntra(t *testing.T) {
	f := providertest.Entra(t, tenant)
	g := newGate(t, f, providers.Entra, providers.Params{Tenant: tenant}, nil)
	if g.resolved.IssuerURL != "https://login.microsoftonline.com/"+tenant+"/v2.0" {
		t.Fatalf("issuer %q", g.resolved.IssuerURL)
	}
	userinfo := map[string]any{"sub": "pairwise-sub", "name": "Alice"}

	f.SignIn(entraUser(map[string]any{"xms_edov": true, "groups": []string{"g-eng", "g-ops"}}), userinfo)
	s, resp, authz := g.signIn(t)
	if s == nil {
		t.Fatalf("sign-in failed: %d", resp.StatusCode)
	}
	if authz.Path != "/"+tenant+"/oauth2/v2.0/authorize" {
		t.Fatalf("authorization request %s", authz.Redacted())
	}
	if s.User != "6f1c2d3e-0000-4000-8000-00000000000a" || !s.EmailVerified || !slices.Equal(s.Groups, []string{"g-eng", "g-ops"}) {
		t.Fatalf("session: user %q verified %v groups %v", s.User, s.EmailVerified, s.Groups)
	}

	// Without xms_edov the email claim is not one Entra ID vouches for.
	f.SignIn(entraUser(nil), userinfo)
	s, resp, _ = g.signIn(t)
	refused(t, s, resp, http.StatusForbidden, login.ReasonEmailUnverified)
}

func TestEntraGroupOverage(t *testing.T) {
	f := providertest.Entra(t, tenant)
	g := newGate(t, f, providers.Entra, providers.Params{Tenant: tenant}, nil)
	const graph = "https://graph.microsoft.com/v1.0/me/getMemberObjects"
	var groups []string
	for i := range 250 {
		groups = append(groups, fmt.Sprintf("group-%03d", i))
	}
	failing := false
	f.Handle(http.MethodPost, graph, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer at-"+f.ClientID || failing {
			http.Error(w, `{"error":{"code":"InvalidAuthenticationToken"}}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#Collection(Edm.String)","value":["%s"]}`, strings.Join(groups, `","`))
	})
	overage := entraUser(map[string]any{"xms_edov": true,
		"_claim_names":   map[string]any{"groups": "src1"},
		"_claim_sources": map[string]any{"src1": map[string]any{"endpoint": "https://graph.windows.net/" + tenant + "/users/x/getMemberObjects"}}})
	userinfo := map[string]any{"sub": "pairwise-sub"}

	// A Graph failure fails the sign-in (503), never admits without groups.
	failing = true
	f.SignIn(overage, userinfo)
	s, resp, _ := g.signIn(t)
	refused(t, s, resp, http.StatusServiceUnavailable, login.ReasonProviderUnavailable)

	failing = false
	s, resp, _ = g.signIn(t)
	if s == nil {
		t.Fatalf("sign-in with overage failed: %d", resp.StatusCode)
	}
	if !slices.Equal(s.Groups, groups) {
		t.Fatalf("groups: %d of them, want 250", len(s.Groups))
	}
	// The next sign-in of the same user is answered from the cache.
	calls := f.Calls(graph)
	if s, _, _ = g.signIn(t); s == nil || len(s.Groups) != 250 || f.Calls(graph) != calls {
		t.Fatalf("second sign-in: Graph called %d more times", f.Calls(graph)-calls)
	}
	// hasgroups (the implicit flow's overage mark) is resolved the same way.
	f.SignIn(entraUser(map[string]any{"xms_edov": true, "oid": "another-user", "hasgroups": true}), userinfo)
	if s, _, _ = g.signIn(t); s == nil || len(s.Groups) != 250 || f.Calls(graph) != calls+1 {
		t.Fatalf("hasgroups: session %v, Graph calls %d", s != nil, f.Calls(graph)-calls)
	}
}

// With email_claim upn, a member's UPN (always in a verified domain of the
// tenant) is a verified email; a guest's is not.
func TestEntraUPN(t *testing.T) {
	f := providertest.Entra(t, tenant)
	g := newGate(t, f, providers.Entra, providers.Params{Tenant: tenant}, func(p *login.Provider) { p.EmailClaim = "upn" })
	f.SignIn(entraUser(map[string]any{"upn": "alice@contoso.com"}), map[string]any{"sub": "pairwise-sub"})
	if s, resp, _ := g.signIn(t); s == nil || s.Email != "alice@contoso.com" || !s.EmailVerified {
		t.Fatalf("member: %d %+v", resp.StatusCode, s)
	}
	f.SignIn(entraUser(map[string]any{"upn": "eve_example.com#EXT#@contoso.onmicrosoft.com"}), map[string]any{"sub": "pairwise-sub"})
	s, resp, _ := g.signIn(t)
	refused(t, s, resp, http.StatusForbidden, login.ReasonEmailUnverified)
}

func TestGitLab(t *testing.T) {
	f := providertest.GitLab(t, "https://gitlab.com")
	g := newGate(t, f, providers.GitLab, providers.Params{}, nil)
	// GitLab's ID token has groups_direct; userinfo has groups (with the
	// inherited ones), which login fetches because the ID token lacks it.
	f.SignIn(map[string]any{"sub": "4242", "sub_legacy": "abc", "nickname": "alice", "preferred_username": "alice",
		"email": "alice@example.com", "email_verified": true, "groups_direct": []string{"acme/eng"}},
		map[string]any{"sub": "4242", "groups": []string{"acme", "acme/eng"}})
	s, resp, authz := g.signIn(t)
	if s == nil {
		t.Fatalf("sign-in failed: %d", resp.StatusCode)
	}
	if authz.Host != "gitlab.com" || authz.Path != "/oauth/authorize" {
		t.Fatalf("authorization request %s", authz.Redacted())
	}
	if !slices.Equal(s.Groups, []string{"acme", "acme/eng"}) || s.PreferredUsername != "alice" {
		t.Fatalf("session groups %v user %q", s.Groups, s.PreferredUsername)
	}
}

func TestKeycloak(t *testing.T) {
	f := providertest.Keycloak(t, "https://sso.example.com", "acme")
	g := newGate(t, f, providers.Keycloak, providers.Params{BaseURL: "https://sso.example.com/", Realm: "acme"}, nil)
	if g.resolved.IssuerURL != "https://sso.example.com/realms/acme" {
		t.Fatalf("issuer %q", g.resolved.IssuerURL)
	}
	f.SignIn(map[string]any{"sub": "f3b1", "email": "alice@example.com", "email_verified": true, "preferred_username": "alice",
		"groups": []string{"/eng"}, "realm_access": map[string]any{"roles": []string{"offline_access", "admin"}},
		"resource_access": map[string]any{"account": map[string]any{"roles": []string{"view-profile"}}}}, nil)
	s, resp, _ := g.signIn(t)
	if s == nil {
		t.Fatalf("sign-in failed: %d", resp.StatusCode)
	}
	if !slices.Equal(s.Groups, []string{"/eng", "offline_access", "admin"}) {
		t.Fatalf("groups %v: want the groups claim and realm roles", s.Groups)
	}
}

func TestOkta(t *testing.T) {
	f := providertest.Okta(t, "acme.okta.com")
	g := newGate(t, f, providers.Okta, providers.Params{Domain: "acme.okta.com"}, nil)
	if g.resolved.IssuerURL != "https://acme.okta.com/oauth2/default" {
		t.Fatalf("issuer %q", g.resolved.IssuerURL)
	}
	f.SignIn(map[string]any{"sub": "00u1", "ver": 1, "email": "alice@acme.com", "email_verified": true, "groups": []string{"Everyone", "Engineering"}}, nil)
	if s, resp, _ := g.signIn(t); s == nil || !slices.Equal(s.Groups, []string{"Everyone", "Engineering"}) {
		t.Fatalf("sign-in: %d %+v", resp.StatusCode, s)
	}
}

func TestAuth0(t *testing.T) {
	f := providertest.Auth0(t, "acme.eu.auth0.com")
	g := newGate(t, f, providers.Auth0, providers.Params{Domain: "acme.eu.auth0.com"}, nil)
	if g.resolved.IssuerURL != "https://acme.eu.auth0.com/" {
		t.Fatalf("issuer %q: Auth0's ends in a slash", g.resolved.IssuerURL)
	}
	f.SignIn(map[string]any{"sub": "google-oauth2|1093", "email": "alice@acme.com", "email_verified": true, "groups": []string{"admins"}}, nil)
	if s, resp, _ := g.signIn(t); s == nil || s.User != "google-oauth2|1093" || s.Groups[0] != "admins" {
		t.Fatalf("sign-in: %d %+v", resp.StatusCode, s)
	}
}
