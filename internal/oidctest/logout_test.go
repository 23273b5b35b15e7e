package oidctest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

func TestDiscoveryAdvertisesBackchannelLogout(t *testing.T) {
	p := Start(t, Options{})
	prov, err := oidc.NewProvider(context.Background(), p.Issuer())
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		BC    bool `json:"backchannel_logout_supported"`
		BCSID bool `json:"backchannel_logout_session_supported"`
	}
	if err := prov.Claims(&meta); err != nil || !meta.BC || !meta.BCSID {
		t.Fatalf("discovery: %+v %v", meta, err)
	}
}

func TestLogoutToken(t *testing.T) {
	p := Start(t, Options{})
	ctx := context.Background()
	prov, err := oidc.NewProvider(ctx, p.Issuer())
	if err != nil {
		t.Fatal(err)
	}
	verifier := prov.Verifier(&oidc.Config{ClientID: p.Client().ID})
	raw, err := p.LogoutToken("alice-1", "sid-1")
	if err != nil {
		t.Fatal(err)
	}
	// Signed with the provider's published key, for the client.
	tok, err := verifier.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("the provider's own logout token does not verify: %v", err)
	}
	var c map[string]any
	if err := tok.Claims(&c); err != nil {
		t.Fatal(err)
	}
	ev, _ := c["events"].(map[string]any)
	if _, ok := ev[BackchannelLogoutEvent].(map[string]any); !ok || c["sub"] != "alice-1" || c["sid"] != "sid-1" ||
		c["jti"] == "" || c["nonce"] != nil || tok.IssuedAt.IsZero() || tok.Expiry.Sub(tok.IssuedAt) != LogoutTokenLifetime {
		t.Fatalf("claims %v", c)
	}
	hb, _ := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[0])
	var hdr map[string]any
	if err := json.Unmarshal(hb, &hdr); err != nil || hdr["typ"] != "logout+jwt" || hdr["alg"] != "RS256" || hdr["kid"] == "" {
		t.Fatalf("header %v", hdr)
	}
	other, _ := p.LogoutToken("alice-1", "sid-1")
	if o, _ := verifier.Verify(ctx, other); o == nil {
		t.Fatal("second token does not verify")
	} else {
		var oc map[string]any
		_ = o.Claims(&oc)
		if oc["jti"] == c["jti"] {
			t.Fatal("two logout tokens share a jti")
		}
	}

	// Options: empty sub/sid are left out; claims can be set and removed;
	// another key's signature does not verify.
	raw, _ = p.LogoutToken("", "", LogoutClaim("nonce", "x"), LogoutClaim("jti", nil), LogoutClaim("iat", time.Unix(1000, 0)))
	tok, err = verifier.Verify(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	c = nil
	_ = tok.Claims(&c)
	if _, ok := c["sub"]; ok || c["sid"] != nil || c["nonce"] != "x" || c["jti"] != nil || c["iat"] != float64(1000) {
		t.Fatalf("options not applied: %v", c)
	}
	raw, _ = p.LogoutToken("alice-1", "", LogoutUnsigned())
	if _, err := verifier.Verify(ctx, raw); err == nil || !strings.HasSuffix(raw, ".") {
		t.Fatal("an unsigned token verified")
	}
}

func TestRevokeAndRefreshRequests(t *testing.T) {
	p := Start(t, Options{Users: []User{alice}})
	r := newRP(t, p, "openid", "offline_access")
	tok, _, _ := r.signIn(t, p, "alice", "wonderland")
	ctx := context.Background()
	tok.Expiry = time.Now().Add(-time.Minute)
	fresh, err := r.conf.TokenSource(ctx, tok).Token()
	if err != nil {
		t.Fatal(err)
	}
	if n := p.RefreshRequests(); n != 1 {
		t.Fatalf("RefreshRequests = %d, want 1", n)
	}
	p.Revoke("alice-1")
	fresh.Expiry = time.Now().Add(-time.Minute)
	_, err = r.conf.TokenSource(ctx, fresh).Token()
	re, ok := err.(*oauth2.RetrieveError)
	if !ok || re.ErrorCode != "invalid_grant" {
		t.Fatalf("refresh after Revoke: %v, want invalid_grant", err)
	}
	if n := p.RefreshRequests(); n != 2 {
		t.Fatalf("RefreshRequests = %d, want 2 (refused ones count)", n)
	}
}

// TestEndSessionSendsLogoutTokens: with a back-channel logout URI, ending a
// session at the provider POSTs a verifiable logout token there.
func TestEndSessionSendsLogoutTokens(t *testing.T) {
	p := Start(t, Options{Users: []User{alice}})
	r := newRP(t, p, "openid")
	tok, _, c := r.signIn(t, p, "alice", "wonderland")

	var mu sync.Mutex
	var got []string
	rpBC := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, req.PostFormValue("logout_token"))
		mu.Unlock()
	}))
	t.Cleanup(rpBC.Close)
	p.SetBackchannelLogoutURI(rpBC.URL)

	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	_ = r.provider.Claims(&meta)
	u, _ := url.Parse(meta.EndSession)
	u.RawQuery = url.Values{"id_token_hint": {tok.Extra("id_token").(string)}}.Encode()
	if _, err := Visit(context.Background(), jarClient(t), u); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("%d logout tokens delivered, want 1", len(got))
	}
	lt, err := r.provider.Verifier(&oidc.Config{ClientID: p.Client().ID}).Verify(context.Background(), got[0])
	if err != nil {
		t.Fatal(err)
	}
	var lc struct {
		SID string `json:"sid"`
	}
	_ = lt.Claims(&lc)
	if lt.Subject != "alice-1" || lc.SID != c.SID || c.SID == "" {
		t.Fatalf("logout token for %q sid %q, want alice-1 sid %q", lt.Subject, lc.SID, c.SID)
	}
	ds := p.LogoutDeliveries()
	if len(ds) != 1 || ds[0].Status != http.StatusOK || ds[0].Err != nil || !slices.Equal([]string{ds[0].SID}, []string{c.SID}) {
		t.Fatalf("deliveries %+v", ds)
	}
}
