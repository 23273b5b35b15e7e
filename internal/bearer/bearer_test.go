package bearer

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// testIssuer is an OpenID provider as far as tokens go: discovery, JWKS,
// and a signing key.
type testIssuer struct {
	srv   *httptest.Server
	key   *rsa.PrivateKey
	kid   string
	hits  atomic.Int32 // requests to the JWKS
	disco atomic.Int32 // requests to the discovery document
	ready atomic.Bool  // serve discovery and keys; false answers 503
	delay atomic.Int64 // how long discovery and keys take to answer
	mu    sync.Mutex
	extra []jose.JSONWebKey // further published keys (rotation)
	drop  atomic.Bool       // stop publishing the first key (withdrawn)
}

// wait holds a request for the issuer's delay, or until the client gives up.
func (is *testIssuer) wait(r *http.Request) {
	if d := time.Duration(is.delay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
		}
	}
}

// publish adds a key to the issuer's JWKS.
func (is *testIssuer) publish(k jose.JSONWebKey) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.extra = append(is.extra, k)
}

func newIssuer(t testing.TB) *testIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	is := &testIssuer{key: key, kid: "k1"}
	is.ready.Store(true)
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		is.disco.Add(1)
		is.wait(r)
		if !is.ready.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": is.srv.URL, "jwks_uri": is.srv.URL + "/keys",
			"authorization_endpoint": is.srv.URL + "/auth", "token_endpoint": is.srv.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		is.hits.Add(1)
		is.wait(r)
		if !is.ready.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		is.mu.Lock()
		var keys []jose.JSONWebKey
		if !is.drop.Load() {
			keys = append(keys, jose.JSONWebKey{Key: &key.PublicKey, KeyID: is.kid, Algorithm: "RS256", Use: "sig"})
		}
		keys = append(keys, is.extra...)
		is.mu.Unlock()
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: keys})
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

// mint signs claims with the issuer's key; iss defaults to the issuer.
func (is *testIssuer) mint(t testing.TB, claims map[string]any) string {
	t.Helper()
	if _, ok := claims["iss"]; !ok {
		claims["iss"] = is.srv.URL
	}
	return sign(t, jose.RS256, is.key, is.kid, claims)
}

func sign(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	t.Helper()
	return signTyp(t, alg, key, kid, "JWT", claims)
}

// signTyp signs claims with the given "typ" header ("" leaves it out).
func signTyp(t testing.TB, alg jose.SignatureAlgorithm, key any, kid, typ string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithHeader("kid", kid)
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func claims(aud string, exp time.Time) map[string]any {
	return map[string]any{
		"sub": "ci-bot", "aud": aud, "exp": exp.Unix(), "iat": time.Now().Unix(),
		"email": "bot@example.com", "email_verified": true, "groups": []string{"ci", "deploy"},
		"role": "writer", "preferred_username": "bot",
	}
}

func unsigned(header, payload map[string]any) string {
	h, _ := json.Marshal(header)
	p, _ := json.Marshal(payload)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p) + "."
}

func TestVerify(t *testing.T) {
	is := newIssuer(t)
	other := newIssuer(t)
	ctx := context.Background()
	v, err := New([]Issuer{{URL: is.srv.URL, Audiences: []string{"gatehouse", "api"}}}, Claims{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	good := is.mint(t, claims("api", time.Now().Add(time.Hour)))
	id, err := v.Verify(ctx, good)
	if err != nil {
		t.Fatal(err)
	}
	if id.User != "ci-bot" || id.Email != "bot@example.com" || !id.EmailVerified || strings.Join(id.Groups, ",") != "ci,deploy" ||
		id.Claims["role"][0] != "writer" || id.Token != good || id.PreferredUsername != "bot" {
		t.Errorf("identity = %+v", id)
	}

	hsKey := x509.MarshalPKCS1PublicKey(&is.key.PublicKey) // the public key misused as an HMAC secret
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	attackers := map[string]string{
		"another issuer":                other.mint(t, claims("api", time.Now().Add(time.Hour))),
		"another issuer's key":          other.mint(t, map[string]any{"iss": is.srv.URL, "sub": "x", "aud": "api", "exp": time.Now().Add(time.Hour).Unix()}),
		"unknown kid, other key":        sign(t, jose.ES256, ecKey, "k2", map[string]any{"iss": is.srv.URL, "sub": "x", "aud": "api", "exp": time.Now().Add(time.Hour).Unix()}),
		"wrong audience":                is.mint(t, claims("someone-else", time.Now().Add(time.Hour))),
		"expired":                       is.mint(t, claims("api", time.Now().Add(-time.Minute))),
		"no expiry":                     is.mint(t, map[string]any{"sub": "x", "aud": "api"}),
		"alg none":                      unsigned(map[string]any{"alg": "none", "typ": "JWT"}, map[string]any{"iss": is.srv.URL, "sub": "x", "aud": "api", "exp": time.Now().Add(time.Hour).Unix()}),
		"alg HS256 with the public key": sign(t, jose.HS256, hsKey, is.kid, map[string]any{"iss": is.srv.URL, "sub": "x", "aud": "api", "exp": time.Now().Add(time.Hour).Unix()}),
		"tampered payload":              tamper(good),
		"not a JWT":                     "opaque-token",
		"no user claim":                 is.mint(t, map[string]any{"aud": "api", "exp": time.Now().Add(time.Hour).Unix()}),
	}
	for name, tok := range attackers {
		t.Run(name, func(t *testing.T) {
			id, err := v.Verify(ctx, tok)
			if !errors.Is(err, ErrInvalid) || id != nil {
				t.Fatalf("accepted=%v, %v; want ErrInvalid", id != nil, err)
			}
			if strings.Contains(err.Error(), tok) {
				t.Error("error message contains the token")
			}
		})
	}
}

func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	p, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var m map[string]any
	_ = json.Unmarshal(p, &m)
	m["groups"] = []string{"admins"}
	p, _ = json.Marshal(m)
	parts[1] = base64.RawURLEncoding.EncodeToString(p)
	return strings.Join(parts, ".")
}

func TestCacheAndExpiry(t *testing.T) {
	is := newIssuer(t)
	now := time.Now()
	clock := func() time.Time { return now }
	v, _ := New([]Issuer{{URL: is.srv.URL, Audiences: []string{"api"}, JWKSURL: is.srv.URL + "/keys"}}, Claims{}, Options{CacheTTL: time.Minute, CacheSize: 2, Now: clock})
	tok := is.mint(t, claims("api", now.Add(90*time.Second)))
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	// Cached: the issuer can vanish and the token still verifies.
	is.ready.Store(false)
	hits := is.hits.Load()
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("cached token refused: %v", err)
	}
	if is.hits.Load() != hits {
		t.Error("cached token fetched keys again")
	}
	// Past the TTL it is verified again (keys are cached by go-oidc).
	now = now.Add(61 * time.Second)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("after TTL: %v", err)
	}
	// Past exp it is refused, cache or not.
	now = now.Add(30 * time.Second)
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrInvalid) {
		t.Fatalf("expired token: %v", err)
	}
	// The cache is bounded.
	is.ready.Store(true)
	for range 5 {
		c := claims("api", now.Add(time.Hour))
		c["jti"] = rand.Text()
		if _, err := v.Verify(context.Background(), is.mint(t, c)); err != nil {
			t.Fatal(err)
		}
	}
	if n := v.cache.len(); n > 2 {
		t.Errorf("cache holds %d entries, max 2", n)
	}
}

func TestIssuerDownIsUnavailable(t *testing.T) {
	is := newIssuer(t)
	tok := is.mint(t, claims("api", time.Now().Add(time.Hour)))
	is.ready.Store(false)
	clk := newClock()
	v, _ := New([]Issuer{{URL: is.srv.URL, Audiences: []string{"api"}}}, Claims{}, Options{Timeout: time.Second, Now: clk.now})
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("discovery down: %v", err)
	}
	v, _ = New([]Issuer{{URL: is.srv.URL, Audiences: []string{"api"}, JWKSURL: is.srv.URL + "/keys"}}, Claims{}, Options{Timeout: time.Second, Now: clk.now})
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("keys down: %v", err)
	}
	// While it is down, requests do not each fetch again.
	hits := is.hits.Load()
	for range 10 {
		if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("keys still down: %v", err)
		}
	}
	if n := is.hits.Load() - hits; n != 0 {
		t.Errorf("%d more key fetches while down, want 0", n)
	}
	// Service resumes a tenth of the refetch interval after it comes back.
	is.ready.Store(true)
	clk.advance(DefaultKeyRefetchInterval/10 + time.Millisecond)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("issuer back: %v", err)
	}
}

func TestFlatten(t *testing.T) {
	got := Flatten(map[string]any{"scope": "openid api.write", "n": 3.0, "b": true, "l": []any{"x", 1.0, "y"}, "o": map[string]any{}})
	if strings.Join(got["scope"], "|") != "openid|api.write" || got["n"][0] != "3" || got["b"][0] != "true" || strings.Join(got["l"], "|") != "x|y" {
		t.Errorf("Flatten = %v", got)
	}
	if _, ok := got["o"]; ok {
		t.Error("objects must be left out")
	}
}

func TestToken(t *testing.T) {
	for in, want := range map[string]string{"Bearer abc": "abc", "bearer  abc ": "abc", "Basic abc": "", "Bearer": "", "Bearer ": "", "": ""} {
		if got, ok := Token(in); got != want || ok != (want != "") {
			t.Errorf("Token(%q) = %q, %v", in, got, ok)
		}
	}
}

func BenchmarkVerifyCached(b *testing.B) {
	is := newIssuer(b)
	v, _ := New([]Issuer{{URL: is.srv.URL, Audiences: []string{"api"}}}, Claims{}, Options{})
	tok := is.mint(b, claims("api", time.Now().Add(time.Hour)))
	if _, err := v.Verify(context.Background(), tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyUncached measures a full check: parse, key lookup,
// signature, claims and type.
func BenchmarkVerifyUncached(b *testing.B) {
	is := newIssuer(b)
	v, _ := New([]Issuer{{URL: is.srv.URL, Audiences: []string{"api"}}}, Claims{}, Options{CacheSize: 1})
	toks := make([]string, 2)
	for i := range toks {
		c := claims("api", time.Now().Add(time.Hour))
		c["jti"] = rand.Text()
		toks[i] = is.mint(b, c)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := v.Verify(context.Background(), toks[i%2]); err != nil { // alternating: the one-entry cache never hits
			b.Fatal(err)
		}
	}
}
