// Package bearer verifies the JWTs that API and SDK clients send as
// "Authorization: Bearer <token>": access or ID tokens of trusted OpenID
// providers, checked with go-oidc against the issuer's published keys
// (signature, issuer, audience, expiry), then mapped to an authz.Identity
// that goes through the same rules as a browser session. Verified tokens
// are cached by their SHA-256 until they expire or a short TTL passes.
package bearer

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse/gatehouse/internal/authz"
)

// Errors Verify returns; callers test with errors.Is.
var (
	// ErrInvalid: the token is malformed, from an untrusted issuer, badly
	// signed, for another audience, or expired. Answer 401 invalid_token.
	ErrInvalid = errors.New("bearer: invalid token")
	// ErrUnavailable: the issuer's discovery document or keys could not be
	// fetched in time. Answer 503: the token may well be valid.
	ErrUnavailable = errors.New("bearer: issuer unavailable")
)

// algorithms are the signature algorithms accepted: asymmetric only, so
// "none" and the HS* family (a shared secret, or a public key misused as
// one) are refused before any key is looked at.
var algorithms = []string{
	oidc.RS256, oidc.RS384, oidc.RS512, oidc.PS256, oidc.PS384, oidc.PS512,
	oidc.ES256, oidc.ES384, oidc.ES512, oidc.EdDSA,
}

// Issuer is one trusted token issuer.
type Issuer struct {
	// URL is the issuer URL, exactly as the tokens' "iss" claim has it.
	URL string
	// Audiences: a token's "aud" must contain one of them.
	Audiences []string
	// JWKSURL, when set, is where the keys are; otherwise discovery
	// (URL + "/.well-known/openid-configuration") says.
	JWKSURL string
}

// Claims names the claims that make up an Identity, as for sessions.
type Claims struct {
	User   string // default "sub"
	Email  string // default "email"
	Groups string // default "groups"
}

// Options are the optional settings of a Verifier.
type Options struct {
	// CacheTTL bounds how long a verified token is remembered (never past
	// its exp); default 1m. CacheSize bounds the entries; default 10000.
	CacheTTL  time.Duration
	CacheSize int
	// Timeout bounds each discovery or key fetch; default 5s.
	Timeout time.Duration
	// HTTPClient fetches discovery documents and keys; default a client
	// with Timeout.
	HTTPClient *http.Client
	Now        func() time.Time
	Logger     *slog.Logger
}

// Verifier verifies bearer tokens. It is safe for concurrent use.
type Verifier struct {
	issuers map[string]*issuer
	claims  Claims
	opts    Options
	cache   *cache
	algs    []jose.SignatureAlgorithm
}

// issuer is a trusted issuer and its lazily built go-oidc verifier.
type issuer struct {
	Issuer
	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
	failedAt time.Time // last failed discovery, for backoff
}

// discoveryBackoff is how long a failed discovery is not retried.
const discoveryBackoff = 5 * time.Second

// New returns a Verifier for the given issuers. It does no I/O: discovery
// happens on the first token of each issuer.
func New(issuers []Issuer, claims Claims, opts Options) (*Verifier, error) {
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = time.Minute
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = 10000
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: opts.Timeout}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if claims.User == "" {
		claims.User = "sub"
	}
	if claims.Email == "" {
		claims.Email = "email"
	}
	if claims.Groups == "" {
		claims.Groups = "groups"
	}
	v := &Verifier{issuers: map[string]*issuer{}, claims: claims, opts: opts, cache: newCache(opts.CacheSize)}
	for _, a := range algorithms {
		v.algs = append(v.algs, jose.SignatureAlgorithm(a))
	}
	for _, is := range issuers {
		if is.URL == "" || len(is.Audiences) == 0 {
			return nil, fmt.Errorf("bearer: issuer %q needs a URL and at least one audience", is.URL)
		}
		if _, dup := v.issuers[is.URL]; dup {
			return nil, fmt.Errorf("bearer: issuer %q listed twice", is.URL)
		}
		v.issuers[is.URL] = &issuer{Issuer: is}
	}
	return v, nil
}

// Token returns the token of an "Authorization: Bearer <token>" header
// value (the scheme is case-insensitive), and whether there was one.
func Token(authorization string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(authorization), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// Verify checks token and returns who it speaks for. The identity's Token
// is the token itself; the identity may be shared with other requests
// bearing the same token and must not be modified. The error wraps ErrInvalid or ErrUnavailable; its
// text never contains the token.
func (v *Verifier) Verify(ctx context.Context, token string) (*authz.Identity, error) {
	key := sha256.Sum256([]byte(token))
	now := v.opts.Now()
	if id, ok := v.cache.get(key, now); ok {
		return id, nil
	}
	if len(token) > 16<<10 {
		return nil, fmt.Errorf("%w: token too long", ErrInvalid)
	}
	parsed, err := jwt.ParseSigned(token, v.algs)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	var unverified struct {
		Issuer string `json:"iss"`
	}
	if err := parsed.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	is, ok := v.issuers[unverified.Issuer]
	if !ok {
		return nil, fmt.Errorf("%w: issuer %q is not trusted", ErrInvalid, unverified.Issuer)
	}
	verifier, err := v.verifierFor(ctx, is)
	if err != nil {
		return nil, err
	}
	vctx, cancel := context.WithTimeout(ctx, v.opts.Timeout)
	defer cancel()
	t, err := verifier.Verify(vctx, token)
	if err != nil {
		if vctx.Err() != nil || strings.Contains(err.Error(), "fetching keys") {
			return nil, fmt.Errorf("%w: %s keys: %v", ErrUnavailable, is.URL, err)
		}
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if !slices.ContainsFunc(t.Audience, func(a string) bool { return slices.Contains(is.Audiences, a) }) {
		return nil, fmt.Errorf("%w: audience %q is not accepted", ErrInvalid, t.Audience)
	}
	claims := map[string]any{}
	if err := t.Claims(&claims); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrInvalid, err)
	}
	id := v.identity(claims)
	if id.User == "" {
		return nil, fmt.Errorf("%w: claim %s is missing or not a string", ErrInvalid, v.claims.User)
	}
	id.Token = token
	until := now.Add(v.opts.CacheTTL)
	if t.Expiry.Before(until) {
		until = t.Expiry
	}
	v.cache.put(key, id, until, now)
	return id, nil
}

// verifierFor returns the issuer's go-oidc verifier, discovering the
// issuer on first use. A failed discovery is retried after a backoff.
func (v *Verifier) verifierFor(ctx context.Context, is *issuer) (*oidc.IDTokenVerifier, error) {
	is.mu.Lock()
	defer is.mu.Unlock()
	if is.verifier != nil {
		return is.verifier, nil
	}
	cfg := &oidc.Config{SkipClientIDCheck: true, SupportedSigningAlgs: algorithms, Now: v.opts.Now}
	keyCtx := oidc.ClientContext(context.Background(), v.opts.HTTPClient)
	if is.JWKSURL != "" {
		is.verifier = oidc.NewVerifier(is.URL, oidc.NewRemoteKeySet(keyCtx, is.JWKSURL), cfg)
		return is.verifier, nil
	}
	if !is.failedAt.IsZero() && v.opts.Now().Sub(is.failedAt) < discoveryBackoff {
		return nil, fmt.Errorf("%w: discovery of %s failed recently", ErrUnavailable, is.URL)
	}
	dctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, v.opts.HTTPClient), v.opts.Timeout)
	defer cancel()
	p, err := oidc.NewProvider(dctx, is.URL)
	if err != nil {
		is.failedAt = v.opts.Now()
		v.opts.Logger.Warn("bearer issuer discovery failed", "issuer", is.URL, "error", err.Error())
		return nil, fmt.Errorf("%w: discovery of %s: %v", ErrUnavailable, is.URL, err)
	}
	is.verifier = p.VerifierContext(keyCtx, cfg)
	return is.verifier, nil
}

// identity maps verified claims to an Identity. An email the token does
// not mark verified never matches an allow-list.
func (v *Verifier) identity(c map[string]any) *authz.Identity {
	id := &authz.Identity{
		Subject:           str(c["sub"]),
		User:              str(c[v.claims.User]),
		Email:             str(c[v.claims.Email]),
		EmailVerified:     boolean(c["email_verified"]),
		PreferredUsername: str(c["preferred_username"]),
		Groups:            list(c[v.claims.Groups]),
		Claims:            Flatten(c),
	}
	return id
}

// Flatten turns JSON claims into lists of strings, the form rules match:
// a string is a list of one (except "scope" and "scp", whose
// space-separated values are split), a list keeps its strings, booleans
// and numbers are written out; objects are left out.
func Flatten(c map[string]any) map[string][]string {
	out := make(map[string][]string, len(c))
	for k, val := range c {
		switch x := val.(type) {
		case string:
			if k == "scope" || k == "scp" {
				out[k] = strings.Fields(x)
				continue
			}
			out[k] = []string{x}
		case bool:
			out[k] = []string{strconv.FormatBool(x)}
		case float64:
			out[k] = []string{strconv.FormatFloat(x, 'f', -1, 64)}
		case json.Number:
			out[k] = []string{x.String()}
		case []any:
			if l := list(x); l != nil {
				out[k] = l
			}
		}
	}
	return out
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func boolean(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return strings.EqualFold(x, "true")
	}
	return false
}

func list(v any) []string {
	switch x := v.(type) {
	case string:
		if x == "" {
			return nil
		}
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
