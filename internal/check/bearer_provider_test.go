package check

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/bearer"
	"github.com/gatehouse/gatehouse/internal/session/cookie"
	"github.com/gatehouse/gatehouse/internal/session/memstore"
)

// slowProvider is an OpenID provider whose discovery and keys each take
// delay to answer.
type slowProvider struct {
	srv   *httptest.Server
	key   *rsa.PrivateKey
	delay atomic.Int64
}

func newSlowProvider(t *testing.T) *slowProvider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &slowProvider{key: key}
	wait := func(r *http.Request) {
		select {
		case <-time.After(time.Duration(p.delay.Load())):
		case <-r.Context().Done():
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		wait(r)
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": p.srv.URL, "jwks_uri": p.srv.URL + "/keys"})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		wait(r)
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *slowProvider) mint(t *testing.T, aud string) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: p.key}, (&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(map[string]any{
		"iss": p.srv.URL, "sub": "bot", "aud": aud, "exp": time.Now().Add(time.Hour).Unix(),
		"email": "bot@example.com", "email_verified": true,
	}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestBearerSlowProvider: through the Checker, a bearer check answers 503
// issuer_unavailable within the bearer timeout when the provider is slower
// than that, and allows once the provider has answered in the background.
func TestBearerSlowProvider(t *testing.T) {
	p := newSlowProvider(t)
	p.delay.Store(int64(250 * time.Millisecond)) // discovery, then keys: 500ms in all
	const timeout = 300 * time.Millisecond
	v, err := bearer.New([]bearer.Issuer{{URL: p.srv.URL, Audiences: []string{"api"}, ClientID: "gatehouse"}}, bearer.Claims{}, bearer.Options{Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	codec, err := cookie.NewCodec([][]byte{key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	store := memstore.New(memstore.Options{})
	t.Cleanup(func() { _ = store.Close() })
	c := New(store, codec, cookie.Settings{Name: "_gh", Secure: true}, policy(), Options{Bearer: v})
	creds := Credentials{Authorization: "Bearer " + p.mint(t, "api")}

	start := time.Now()
	d := c.Check(context.Background(), browser("app.example.com", "/"), creds)
	if took := time.Since(start); took > timeout+150*time.Millisecond {
		t.Errorf("check took %v, want about %v", took, timeout)
	}
	if d.Reply.Status != 503 || d.Reason != authz.ReasonIssuerUnavailable {
		t.Fatalf("slow provider: %d %s, want 503 %s", d.Reply.Status, d.Reason, authz.ReasonIssuerUnavailable)
	}
	time.Sleep(400 * time.Millisecond) // the background fetch completes
	if d := c.Check(context.Background(), browser("app.example.com", "/"), creds); d.Outcome != authz.Allow {
		t.Fatalf("after the provider answered: %v %s", d.Outcome, d.Reason)
	}
	// A token for the login client (an ID token's audience) is 401, not a redirect.
	d = c.Check(context.Background(), browser("app.example.com", "/"), Credentials{Authorization: "Bearer " + p.mint(t, "gatehouse")})
	if d.Reply.Status != 401 || d.Reason != authz.ReasonInvalidToken {
		t.Fatalf("client-ID audience: %d %s, want 401 %s", d.Reply.Status, d.Reason, authz.ReasonInvalidToken)
	}
}
