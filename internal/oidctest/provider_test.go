package oidctest

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

var alice = User{
	Subject: "alice-1", Email: "alice@example.com", EmailVerified: true,
	Groups: []string{"admins", "devs"}, PreferredUsername: "alice", Password: "wonderland",
}

// rp is a bare relying party for testing the provider with go-oidc: /start
// redirects with PKCE, state and nonce; the test then redeems the code.
type rp struct {
	srv      *httptest.Server
	conf     *oauth2.Config
	provider *oidc.Provider
	state    string
	nonce    string
	verifier string
	pkce     bool
}

func newRP(t *testing.T, p *Provider, scopes ...string) *rp {
	t.Helper()
	ctx := context.Background()
	prov, err := oidc.NewProvider(ctx, p.Issuer())
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	r := &rp{provider: prov, state: "st-" + randomString(8), nonce: "n-" + randomString(8), verifier: oauth2.GenerateVerifier(), pkce: true}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		opts := []oauth2.AuthCodeOption{oidc.Nonce(r.nonce)}
		if r.pkce {
			opts = append(opts, oauth2.S256ChallengeOption(r.verifier))
		}
		http.Redirect(w, req, r.conf.AuthCodeURL(r.state, opts...), http.StatusFound)
	}))
	t.Cleanup(r.srv.Close)
	c := p.Client()
	r.conf = &oauth2.Config{
		ClientID: c.ID, ClientSecret: c.Secret, Endpoint: prov.Endpoint(),
		RedirectURL: r.srv.URL + "/callback", Scopes: scopes,
	}
	p.AddRedirectURI(r.conf.RedirectURL)
	return r
}

func jarClient(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

type claims struct {
	Subject           string   `json:"sub"`
	Email             string   `json:"email"`
	EmailVerified     *bool    `json:"email_verified"`
	PreferredUsername string   `json:"preferred_username"`
	Groups            []string `json:"groups"`
	SID               string   `json:"sid"`
}

// signIn runs the browser part and redeems the code.
func (r *rp) signIn(t *testing.T, p *Provider, user, password string) (*oauth2.Token, *oidc.IDToken, claims) {
	t.Helper()
	ctx := context.Background()
	cb, err := p.Authorize(ctx, jarClient(t), r.srv.URL+"/start", user, password)
	if err != nil {
		t.Fatalf("Authorize: %v", err)
	}
	if got := cb.Query().Get("state"); got != r.state {
		t.Fatalf("callback state %q, want %q", got, r.state)
	}
	tok, err := r.conf.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(r.verifier))
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := r.provider.Verifier(&oidc.Config{ClientID: r.conf.ClientID}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if idt.Nonce != r.nonce {
		t.Fatalf("nonce %q, want %q", idt.Nonce, r.nonce)
	}
	var c claims
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return tok, idt, c
}

func TestCodeFlowClaimsInIDToken(t *testing.T) {
	p := Start(t, Options{Users: []User{alice}})
	if !strings.HasPrefix(p.Issuer(), "http://127.0.0.1:") {
		t.Fatalf("issuer %q not on loopback", p.Issuer())
	}
	r := newRP(t, p, "openid", "email", "profile", "groups")
	_, idt, c := r.signIn(t, p, "alice", "wonderland")
	if idt.Subject != "alice-1" || c.Email != alice.Email || c.EmailVerified == nil || !*c.EmailVerified ||
		c.PreferredUsername != "alice" || !slices.Equal(c.Groups, alice.Groups) || c.SID == "" {
		t.Fatalf("ID token claims %+v", c)
	}
}

func TestClaimsInUserinfoOnly(t *testing.T) {
	bob := User{Subject: "bob", Email: "bob@example.com", EmailVerified: false, Groups: []string{"g"}, Password: "pw"}
	p := Start(t, Options{Users: []User{bob}, ClaimsInUserinfoOnly: true})
	r := newRP(t, p, "openid", "email", "profile")
	tok, idt, c := r.signIn(t, p, "bob", "pw")
	if c.Email != "" || c.Groups != nil || c.EmailVerified != nil {
		t.Fatalf("ID token carries identity claims in userinfo-only mode: %+v", c)
	}
	ui, err := r.provider.UserInfo(context.Background(), oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("UserInfo: %v", err)
	}
	var uc claims
	if err := ui.Claims(&uc); err != nil {
		t.Fatal(err)
	}
	if uc.Subject != idt.Subject || uc.Email != bob.Email || uc.EmailVerified == nil || *uc.EmailVerified || !slices.Equal(uc.Groups, bob.Groups) {
		t.Fatalf("userinfo claims %+v", uc)
	}

	// The switch applies to tokens issued afterwards.
	p.SetClaimsInUserinfoOnly(false)
	_, _, c = r.signIn(t, p, "bob", "pw")
	if c.Email != bob.Email || c.EmailVerified == nil || *c.EmailVerified {
		t.Fatalf("after switching back, ID token claims %+v", c)
	}
}

func TestCodeWorksOnce(t *testing.T) {
	p := Start(t, Options{Users: []User{alice}})
	r := newRP(t, p, "openid")
	cb, err := p.Authorize(context.Background(), jarClient(t), r.srv.URL+"/start", "alice-1", "wonderland")
	if err != nil {
		t.Fatal(err)
	}
	code := cb.Query().Get("code")
	if _, err := r.conf.Exchange(context.Background(), code, oauth2.VerifierOption(r.verifier)); err != nil {
		t.Fatalf("first exchange: %v", err)
	}
	if _, err := r.conf.Exchange(context.Background(), code, oauth2.VerifierOption(r.verifier)); err == nil {
		t.Fatal("second exchange of the same code succeeded")
	}
}

func TestPKCE(t *testing.T) {
	p := Start(t, Options{Users: []User{alice}})
	r := newRP(t, p, "openid")
	ctx := context.Background()

	// A wrong verifier is refused.
	cb, err := p.Authorize(ctx, jarClient(t), r.srv.URL+"/start", "alice", "wonderland")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.conf.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil {
		t.Fatal("exchange with a wrong PKCE verifier succeeded")
	}

	// A request without PKCE never reaches the login form: the provider
	// sends the client an error instead of a code.
	r.pkce = false
	cb, err = p.Authorize(ctx, jarClient(t), r.srv.URL+"/start", "alice", "wonderland")
	if err != nil {
		t.Fatal(err)
	}
	if q := cb.Query(); q.Get("error") != "invalid_request" || q.Get("code") != "" {
		t.Fatalf("authorization without PKCE: callback %q, want error=invalid_request and no code", cb.RawQuery)
	}
}

func TestWrongPassword(t *testing.T) {
	p := Start(t, Options{Users: []User{alice}})
	r := newRP(t, p, "openid")
	_, err := p.Authorize(context.Background(), jarClient(t), r.srv.URL+"/start", "alice", "nope")
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong password: err = %v, want a 401", err)
	}
}

func TestUnregisteredRedirectURI(t *testing.T) {
	p := Start(t, Options{Users: []User{alice}})
	r := newRP(t, p, "openid")
	r.conf.RedirectURL = "http://127.0.0.1:1/elsewhere"
	if _, err := p.Authorize(context.Background(), jarClient(t), r.srv.URL+"/start", "alice", "wonderland"); err == nil {
		t.Fatal("unregistered redirect_uri was accepted")
	}
}

func TestRefreshTokenRotation(t *testing.T) {
	p := Start(t, Options{Users: []User{alice}})
	r := newRP(t, p, "openid", "email", "offline_access")
	tok, _, _ := r.signIn(t, p, "alice", "wonderland")
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token with offline_access")
	}
	ctx := context.Background()
	old := tok.RefreshToken
	tok.Expiry = time.Now().Add(-time.Minute) // force a refresh
	fresh, err := r.conf.TokenSource(ctx, tok).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if fresh.RefreshToken == "" || fresh.RefreshToken == old || fresh.AccessToken == tok.AccessToken {
		t.Fatal("refresh did not rotate tokens")
	}
	if raw, _ := fresh.Extra("id_token").(string); raw == "" {
		t.Fatal("refresh returned no ID token")
	}
	// The old refresh token is spent.
	if _, err := r.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: old, Expiry: time.Now().Add(-time.Minute)}).Token(); err == nil {
		t.Fatal("a spent refresh token worked again")
	}
}

func TestEndSession(t *testing.T) {
	p := Start(t, Options{Users: []User{alice}})
	r := newRP(t, p, "openid")
	tok, _, _ := r.signIn(t, p, "alice", "wonderland")
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := r.provider.Claims(&meta); err != nil || meta.EndSession == "" {
		t.Fatalf("no end_session_endpoint in discovery: %v", err)
	}
	back := r.srv.URL + "/bye"
	p.AddPostLogoutRedirectURI(back)
	u, _ := url.Parse(meta.EndSession)
	u.RawQuery = url.Values{
		"id_token_hint":            {tok.Extra("id_token").(string)},
		"post_logout_redirect_uri": {back},
	}.Encode()
	resp, err := Visit(context.Background(), jarClient(t), u)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != back {
		t.Fatalf("end_session: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := p.EndedSessions(); !slices.Equal(got, []string{"alice-1"}) {
		t.Fatalf("EndedSessions = %q", got)
	}

	// An unregistered post_logout_redirect_uri is refused.
	u.RawQuery = url.Values{"client_id": {p.Client().ID}, "post_logout_redirect_uri": {"https://evil.example/"}}.Encode()
	resp, err = Visit(context.Background(), jarClient(t), u)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == http.StatusFound {
		t.Fatalf("end_session redirected to an unregistered URI: %q", resp.Header.Get("Location"))
	}
}

func TestNewRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "example.com:0", "10.0.0.1:0"} {
		if p, err := New(Options{Addr: addr}); err == nil {
			p.Close()
			t.Errorf("New(%q) listened on a non-loopback address", addr)
		}
	}
	if _, err := New(Options{Users: []User{{Subject: "a:b"}}}); err == nil {
		t.Error("a subject with ':' was accepted")
	}
}

func TestCloseStopsServing(t *testing.T) {
	p, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	c := &http.Client{Timeout: 2 * time.Second}
	if resp, err := c.Get(p.Issuer() + "/.well-known/openid-configuration"); err == nil {
		resp.Body.Close()
		t.Fatal("provider still answers after Close")
	}
}
