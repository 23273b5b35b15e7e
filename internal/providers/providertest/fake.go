// Package providertest is an in-process fake of the identity providers
// gatehouse has presets for, for tests only: one HTTPS server that answers
// for the provider's real hosts (accounts.google.com,
// login.microsoftonline.com, graph.microsoft.com, ...) through the
// http.Client it hands out, with the provider's discovery document shape,
// ID token claims and API answers. Its authorization endpoint signs the
// configured user in at once.
package providertest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Fake is one provider. Set its fields before the first sign-in; the
// methods are safe for concurrent use.
type Fake struct {
	// Issuer is the provider's issuer, e.g. https://accounts.google.com.
	Issuer string
	// Discovery is the discovery document (without issuer, which is added).
	Discovery map[string]any
	// ClientID and ClientSecret are the registered client.
	ClientID, ClientSecret string
	// OAuth2Only makes the fake an OAuth 2 provider that is not an
	// OpenID provider (GitHub): no discovery document, no ID token.
	OAuth2Only bool
	// Expiring makes an OAuth2Only fake issue expiring user tokens with a
	// refresh token, as a GitHub App does (8 hours, refresh token rotated
	// at each use).
	Expiring bool

	t     testing.TB
	srv   *httptest.Server
	key   *rsa.PrivateKey
	hosts map[string]bool

	mu       sync.Mutex
	claims   map[string]any // of the next ID token
	userinfo map[string]any
	codes    map[string]grant
	refresh  string                      // the refresh token that is valid now
	issued   int                         // tokens issued, to make each access token differ
	apis     map[string]http.HandlerFunc // "METHOD host/path"
	calls    map[string]int
}

type grant struct {
	nonce, challenge, redirect string
	claims                     map[string]any
}

// New starts a fake answering for issuer and for the hosts of every URL in
// discovery.
func New(t testing.TB, issuer string, discovery map[string]any) *Fake {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f := &Fake{
		Issuer: issuer, Discovery: discovery, ClientID: "client-123", ClientSecret: "secret-456",
		t: t, key: key, hosts: map[string]bool{}, codes: map[string]grant{},
		apis: map[string]http.HandlerFunc{}, calls: map[string]int{},
	}
	f.addHost(issuer)
	for _, v := range discovery {
		if s, ok := v.(string); ok && strings.HasPrefix(s, "https://") {
			f.addHost(s)
		}
	}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *Fake) addHost(raw string) {
	if u, err := url.Parse(raw); err == nil {
		f.hosts[u.Host] = true
	}
}

// Client returns an HTTP client that reaches the provider's hosts at the
// fake (trusting its certificate) and every other host directly; it
// never follows redirects. Use it for gatehouse's calls and as the
// browser.
func (f *Fake) Client(jar http.CookieJar) *http.Client {
	base := f.srv.Client().Transport.(*http.Transport).Clone()
	addr := f.srv.Listener.Addr().String()
	var d net.Dialer
	base.DialTLSContext = nil
	base.DialContext = func(ctx context.Context, network, a string) (net.Conn, error) {
		if f.hosts[a] || f.hosts[strings.TrimSuffix(a, ":443")] {
			a = addr
		}
		return d.DialContext(ctx, network, a)
	}
	// The fake's certificate names example.com; the dialled name is the
	// real provider's.
	base.TLSClientConfig = &tls.Config{RootCAs: base.TLSClientConfig.RootCAs, ServerName: "example.com"}
	return &http.Client{Transport: base, Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// SignIn sets the claims of the next ID token (iss, aud, exp, iat and
// nonce are added) and of userinfo; a nil userinfo answers with the ID
// token's claims, as Google's and Okta's userinfo do.
func (f *Fake) SignIn(claims, userinfo map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if userinfo == nil {
		userinfo = claims
	}
	f.claims, f.userinfo = claims, userinfo
}

// Handle adds an API endpoint, e.g. Handle("POST", "https://graph.microsoft.com/v1.0/me/getMemberObjects", h).
func (f *Fake) Handle(method, rawURL string, h http.HandlerFunc) {
	f.addHost(rawURL)
	u, _ := url.Parse(rawURL)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.apis[method+" "+u.Host+u.Path] = h
}

// Calls counts the requests to the endpoint at rawURL (any method).
func (f *Fake) Calls(rawURL string) int {
	u, _ := url.Parse(rawURL)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[u.Host+u.Path]
}

func (f *Fake) endpoint(name string) string {
	s, _ := f.Discovery[name].(string)
	if u, err := url.Parse(s); err == nil {
		return u.Host + u.Path
	}
	return ""
}

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	here := r.Host + r.URL.Path
	f.mu.Lock()
	f.calls[here]++
	api := f.apis[r.Method+" "+here]
	f.mu.Unlock()
	iss, _ := url.Parse(f.Issuer)
	switch {
	case api != nil:
		api(w, r)
	case here == iss.Host+strings.TrimSuffix(iss.Path, "/")+"/.well-known/openid-configuration" && !f.OAuth2Only:
		doc := map[string]any{"issuer": f.Issuer}
		for k, v := range f.Discovery {
			doc[k] = v
		}
		writeJSON(w, http.StatusOK, doc)
	case here == f.endpoint("jwks_uri"):
		writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &f.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	case here == f.endpoint("authorization_endpoint"):
		f.authorize(w, r)
	case here == f.endpoint("token_endpoint"):
		f.token(w, r)
	case here == f.endpoint("userinfo_endpoint"):
		f.mu.Lock()
		ui := f.userinfo
		f.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer at-"+f.ClientID || ui == nil {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_token"})
			return
		}
		writeJSON(w, http.StatusOK, ui)
	default:
		http.NotFound(w, r)
	}
}

// authorize signs the configured user in at once and sends the browser
// back with a code.
func (f *Fake) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != f.ClientID || q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" {
		http.Error(w, "bad authorization request", http.StatusBadRequest)
		return
	}
	code := "code-" + rand.Text()
	f.mu.Lock()
	f.codes[code] = grant{nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri"), claims: f.claims}
	f.mu.Unlock()
	back, err := url.Parse(q.Get("redirect_uri"))
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	bq := back.Query()
	bq.Set("code", code)
	bq.Set("state", q.Get("state"))
	back.RawQuery = bq.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// token redeems a code: client authentication, redirect URI and PKCE are
// checked as a real provider does.
func (f *Fake) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request"})
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != f.ClientID || secret != f.ClientSecret {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_client"})
		return
	}
	if r.PostForm.Get("grant_type") == "refresh_token" && f.OAuth2Only && f.Expiring {
		f.mu.Lock()
		ok := f.refresh != "" && r.PostForm.Get("refresh_token") == f.refresh
		f.mu.Unlock()
		if !ok { // GitHub answers token errors with 200
			writeJSON(w, http.StatusOK, map[string]any{"error": "bad_refresh_token",
				"error_description": "The refresh token passed is incorrect or expired.",
				"error_uri":         "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code"})
			return
		}
		writeJSON(w, http.StatusOK, f.expiringToken())
		return
	}
	f.mu.Lock()
	g, ok := f.codes[r.PostForm.Get("code")]
	delete(f.codes, r.PostForm.Get("code"))
	f.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if !ok || r.PostForm.Get("grant_type") != "authorization_code" || g.redirect != r.PostForm.Get("redirect_uri") ||
		base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_grant"})
		return
	}
	now := time.Now()
	c := map[string]any{"iss": f.Issuer, "aud": f.ClientID, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "nonce": g.nonce}
	for k, v := range g.claims {
		c[k] = v
	}
	if f.OAuth2Only && f.Expiring {
		writeJSON(w, http.StatusOK, f.expiringToken())
		return
	}
	if f.OAuth2Only { // GitHub's answer (asked for JSON): no expiry, no ID token
		writeJSON(w, http.StatusOK, map[string]any{"access_token": "at-" + f.ClientID, "token_type": "bearer", "scope": "read:org,read:user,user:email"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": "at-" + f.ClientID, "token_type": "Bearer", "expires_in": 3599,
		"id_token": f.sign(c),
	})
}

// expiringToken issues a GitHub App's user token and a new refresh token.
// Every access token is accepted by the API (see AccessToken).
func (f *Fake) expiringToken() map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.issued++
	f.refresh = "ghr_" + rand.Text()
	return map[string]any{"access_token": "at-" + f.ClientID, "token_type": "bearer", "scope": "",
		"expires_in": 28800, "refresh_token": f.refresh, "refresh_token_expires_in": 15811200}
}

// TokensIssued counts the tokens an Expiring fake issued.
func (f *Fake) TokensIssued() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.issued
}

// sign returns the claims as an RS256 JWT with the fake's key.
func (f *Fake) sign(claims map[string]any) string {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: f.key, KeyID: "k1"}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		f.t.Error(err)
		return ""
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		f.t.Error(err)
		return ""
	}
	s, _ := jws.CompactSerialize()
	return s
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
