package bearer

import (
	"context"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/oidctest"
)

// TestProviderTokensAreNotBearer signs in at a real (in-process) OpenID
// provider and offers what a browser-visible sign-out exposes, the ID
// token, and the provider's own logout token as bearer credentials: both
// are refused, with the provider's keys fetched and working.
func TestProviderTokensAreNotBearer(t *testing.T) {
	ctx := context.Background()
	op := oidctest.Start(t, oidctest.Options{Users: []oidctest.User{{
		Subject: "alice", Email: "alice@example.com", EmailVerified: true, Password: "wonderland",
	}}})
	const redirect = "http://127.0.0.1:1/oauth2/callback"
	op.AddRedirectURI(redirect)
	cfg := oauth2.Config{
		ClientID: oidctest.DefaultClientID, ClientSecret: oidctest.DefaultClientSecret, RedirectURL: redirect,
		Endpoint: oauth2.Endpoint{AuthURL: op.Issuer() + "/authorize", TokenURL: op.Issuer() + "/oauth/token"},
		Scopes:   []string{"openid", "email"},
	}
	jar, _ := cookiejar.New(nil)
	verifier := oauth2.GenerateVerifier()
	start := cfg.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", "nonce-1"))
	cb, err := op.Authorize(ctx, &http.Client{Jar: jar}, start, "alice", "wonderland")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cfg.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	idToken, _ := tok.Extra("id_token").(string)
	logoutToken, err := op.LogoutToken("alice", "")
	if err != nil || idToken == "" {
		t.Fatalf("tokens: %v, id_token %q", err, idToken)
	}

	v, err := New([]Issuer{{URL: op.Issuer(), Audiences: []string{"https://api.example.com"}, ClientID: oidctest.DefaultClientID}}, Claims{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, raw := range map[string]string{"ID token": idToken, "logout token": logoutToken} {
		t.Run(name, func(t *testing.T) {
			id, err := v.Verify(ctx, raw)
			if !errors.Is(err, ErrInvalid) || errors.Is(err, ErrUnavailable) || id != nil {
				t.Fatalf("accepted=%v, %v; want ErrInvalid", id != nil, err)
			}
			t.Log(err)
		})
	}
	// Even a verifier wrongly told to trust the client ID as an audience
	// (the old default) refuses both by their type.
	v, err = New([]Issuer{{URL: op.Issuer(), Audiences: []string{oidctest.DefaultClientID}}}, Claims{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, raw := range map[string]string{"ID token": idToken, "logout token": logoutToken} {
		if _, err := v.Verify(ctx, raw); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s with aud = client ID trusted: %v, want ErrInvalid", name, err)
		}
	}
}
