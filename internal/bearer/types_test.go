package bearer

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// TestTokenTypes: a bearer credential is an access token for an API
// audience; ID tokens and logout tokens never are, whatever their audience.
func TestTokenTypes(t *testing.T) {
	is := newIssuer(t)
	v, err := New([]Issuer{{URL: is.srv.URL, Audiences: []string{"api"}, ClientID: "gatehouse"}}, Claims{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour)
	with := func(extra map[string]any) map[string]any {
		c := claims("api", exp)
		for k, val := range extra {
			c[k] = val
		}
		c["iss"] = is.srv.URL
		return c
	}
	mint := func(typ string, c map[string]any) string { return signTyp(t, jose.RS256, is.key, is.kid, typ, c) }

	accepted := map[string]string{
		"typ at+jwt (RFC 9068)":         mint("at+jwt", with(nil)),
		"typ application/at+jwt":        mint("application/at+jwt", with(nil)),
		"typ JWT, no ID-token claims":   mint("JWT", with(nil)),
		"no typ, no ID-token claims":    mint("", with(nil)),
		"typ claim Bearer (Keycloak)":   mint("JWT", with(map[string]any{"typ": "Bearer", "azp": "gatehouse"})),
		"at+jwt with auth_time and sid": mint("at+jwt", with(map[string]any{"auth_time": time.Now().Unix(), "sid": "s1"})),
	}
	for name, tok := range accepted {
		t.Run("accept/"+name, func(t *testing.T) {
			if _, err := v.Verify(context.Background(), tok); err != nil {
				t.Fatalf("refused: %v", err)
			}
		})
	}

	logoutEvents := map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}
	refused := map[string]string{
		"typ logout+jwt":                  mint("logout+jwt", with(map[string]any{"events": logoutEvents, "sid": "s1"})),
		"events claim, typ JWT":           mint("JWT", with(map[string]any{"events": logoutEvents})),
		"events claim, typ at+jwt":        mint("at+jwt", with(map[string]any{"events": logoutEvents})),
		"typ secevent+jwt":                mint("secevent+jwt", with(nil)),
		"typ id_token+jwt":                mint("id_token+jwt", with(nil)),
		"ID token: nonce":                 mint("JWT", with(map[string]any{"nonce": "n-0S6_WzA2Mj"})),
		"ID token: at_hash":               mint("JWT", with(map[string]any{"at_hash": "77QmUPtjPfzWtF2AnpK9RQ"})),
		"ID token: c_hash":                mint("", with(map[string]any{"c_hash": "LDktKdoQak3Pk0cnXxCltA"})),
		"ID token: nonce, typ at+jwt":     mint("at+jwt", with(map[string]any{"nonce": "n"})),
		"Keycloak ID token: typ claim ID": mint("JWT", with(map[string]any{"typ": "ID"})),
		"Keycloak logout: typ Logout":     mint("JWT", with(map[string]any{"typ": "Logout"})),
		"audience includes the client ID": mint("JWT", with(map[string]any{"aud": []string{"api", "gatehouse"}})),
		"client ID audience, at+jwt":      mint("at+jwt", with(map[string]any{"aud": []string{"gatehouse", "api"}})),
		"client ID as the only audience":  mint("JWT", with(map[string]any{"aud": "gatehouse"})),
	}
	for name, tok := range refused {
		t.Run("refuse/"+name, func(t *testing.T) {
			id, err := v.Verify(context.Background(), tok)
			if !errors.Is(err, ErrInvalid) || id != nil {
				t.Fatalf("accepted=%v, %v; want ErrInvalid", id != nil, err)
			}
		})
	}
}

// TestIDTokenAfterSignOut is the scenario: the ID token that
// sign-out puts in the browser-visible end-session URL (id_token_hint)
// must not work as a bearer token, even one refreshed without a nonce.
func TestIDTokenAfterSignOut(t *testing.T) {
	is := newIssuer(t)
	v, err := New([]Issuer{{URL: is.srv.URL, Audiences: []string{"https://api.example.com"}, ClientID: "gatehouse"}}, Claims{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	idToken := is.mint(t, map[string]any{
		"sub": "alice", "aud": "gatehouse", "azp": "gatehouse", "exp": time.Now().Add(time.Hour).Unix(),
		"iat": time.Now().Unix(), "email": "alice@example.com", "email_verified": true,
	})
	_, err = v.Verify(context.Background(), idToken)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("ID token accepted as bearer: %v", err)
	}
	if !strings.Contains(err.Error(), "audience") {
		t.Errorf("error %q does not say why", err)
	}
}

// TestNewNeedsAPIAudience: the login client's ID is the audience of ID and
// logout tokens, never an API audience.
func TestNewNeedsAPIAudience(t *testing.T) {
	_, err := New([]Issuer{{URL: "https://op.example.com", Audiences: []string{"api", "gatehouse"}, ClientID: "gatehouse"}}, Claims{}, Options{})
	if err == nil || !strings.Contains(err.Error(), "client ID") {
		t.Fatalf("got %v, want an error about the client ID", err)
	}
}

// TestUntrustedIssuerIsClipped: the unverified "iss" an attacker chose is
// clipped in the error (it is logged), not copied whole.
func TestUntrustedIssuerIsClipped(t *testing.T) {
	is := newIssuer(t)
	v, _ := New([]Issuer{{URL: is.srv.URL, Audiences: []string{"api"}}}, Claims{}, Options{})
	long := "https://" + strings.Repeat("a", 8000)
	_, err := v.Verify(context.Background(), is.mint(t, map[string]any{"iss": long, "sub": "x", "aud": "api", "exp": time.Now().Add(time.Hour).Unix()}))
	if !errors.Is(err, ErrInvalid) || len(err.Error()) > 300 {
		t.Fatalf("got %d bytes: %.80v...", len(err.Error()), err)
	}
	// So is an unknown kid.
	c := claims("api", time.Now().Add(time.Hour))
	c["iss"] = is.srv.URL
	_, err = v.Verify(context.Background(), signTyp(t, jose.RS256, is.key, strings.Repeat("k", 8000), "JWT", c))
	if !errors.Is(err, ErrInvalid) || len(err.Error()) > 300 {
		t.Fatalf("unknown kid: got %d bytes: %.80v...", len(err.Error()), err)
	}
}
