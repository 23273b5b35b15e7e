// Package bearer verifies the JWTs that API and SDK clients send as
// "Authorization: Bearer <token>": access tokens of trusted OpenID
// providers, checked against the issuer's published keys (signature,
// issuer, audience, expiry, and type: ID tokens and logout tokens are
// never bearer credentials), then mapped to an authz.Identity that goes
// through the same rules as a browser session. Verified tokens are cached
// by their SHA-256 until they expire or a short TTL passes.
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
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/claim"
)

// Errors Verify returns; callers test with errors.Is.
var (
	// ErrInvalid: the token is malformed, from an untrusted issuer, badly
	// signed, for another audience, expired, or not an access token.
	// Answer 401 invalid_token.
	ErrInvalid = errors.New("bearer: invalid token")
	// ErrUnavailable: the issuer's discovery document or keys could not be
	// fetched in time (a *FetchError says which and why, or the deadline
	// passed). Answer 503: the token may well be valid.
	ErrUnavailable = errors.New("bearer: issuer unavailable")
)

// algorithms are the signature algorithms accepted: asymmetric only, so
// "none" and the HS* family (a shared secret, or a public key misused as
// one) are refused before any key is looked at.
var algorithms = []string{
	oidc.RS256, oidc.RS384, oidc.RS512, oidc.PS256, oidc.PS384, oidc.PS512,
	oidc.ES256, oidc.ES384, oidc.ES512, oidc.EdDSA,
}

// idTokenClaims are claims only ID tokens carry (OpenID Connect Core 1.0
// §2, §3.3.2.11): a token with any of them is refused.
var idTokenClaims = []string{"nonce", "at_hash", "c_hash"}

// clockSkew is the leeway for "nbf" and "iat" in the future. "exp" gets
// none.
const clockSkew = time.Minute

// Issuer is one trusted token issuer.
type Issuer struct {
	// URL is the issuer URL, exactly as the tokens' "iss" claim has it.
	URL string
	// Audiences: a token's "aud" must contain one of them. They name APIs;
	// ClientID may not be one.
	Audiences []string
	// JWKSURL, when set, is where the keys are; otherwise discovery
	// (URL + "/.well-known/openid-configuration") says.
	JWKSURL string
	// ClientID, when set, is gatehouse's own login client at this issuer:
	// the audience of the ID tokens and logout tokens it receives. A token
	// whose "aud" contains it is refused.
	ClientID string
	// Provider is the ID of the configured sign-in provider with this
	// issuer, which the token's Identity names (for rules that name
	// providers). Empty for an issuer that is no sign-in provider: its
	// identities then name "bearer:" and the issuer URL, which no
	// provider ID can be, so such a rule never takes them for the
	// default provider's.
	Provider string
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
	// Timeout bounds each Verify, discovery and key fetch included; past
	// it Verify returns ErrUnavailable while the fetch goes on in the
	// background. Default DefaultTimeout.
	Timeout time.Duration
	// FetchTimeout bounds each discovery or key fetch; default 10s.
	FetchTimeout time.Duration
	// KeyRefetchInterval is the least time between two fetches of an
	// issuer's keys; default DefaultKeyRefetchInterval.
	KeyRefetchInterval time.Duration
	// KeyMaxAge is how long fetched keys are used before a background
	// refresh; default DefaultKeyMaxAge.
	KeyMaxAge time.Duration
	// HTTPClient fetches discovery documents and keys; default a client
	// with FetchTimeout.
	HTTPClient *http.Client
	Now        func() time.Time
	Logger     *slog.Logger
}

// DefaultTimeout is the default Options.Timeout: well below the auth
// timeouts of the shipped proxy configurations (nginx 5s, Traefik 30s);
// Envoy's 250ms ext_authz deadline bounds a check through it anyway.
const DefaultTimeout = 2 * time.Second

// Verifier verifies bearer tokens. It is safe for concurrent use.
type Verifier struct {
	issuers map[string]*issuer
	claims  Claims
	opts    Options
	cache   *cache
	algs    []jose.SignatureAlgorithm
}

// issuer is a trusted issuer and its keys.
type issuer struct {
	Issuer
	keys *keySet
}

// New returns a Verifier for the given issuers. It does no I/O: discovery
// happens on the first token of each issuer.
func New(issuers []Issuer, claims Claims, opts Options) (*Verifier, error) {
	opts = withDefaults(opts)
	if claims.User == "" {
		claims.User = "sub"
	}
	if claims.Email == "" {
		claims.Email = "email"
	}
	if claims.Groups == "" {
		claims.Groups = "groups"
	}
	c, err := newCache(opts.CacheSize)
	if err != nil {
		return nil, err
	}
	v := &Verifier{issuers: map[string]*issuer{}, claims: claims, opts: opts, cache: c}
	for _, a := range algorithms {
		v.algs = append(v.algs, jose.SignatureAlgorithm(a))
	}
	for _, is := range issuers {
		if is.URL == "" || len(is.Audiences) == 0 {
			return nil, fmt.Errorf("bearer: issuer %q needs a URL and at least one audience", is.URL)
		}
		if is.ClientID != "" && slices.Contains(is.Audiences, is.ClientID) {
			return nil, fmt.Errorf("bearer: issuer %q: audience %q is the login client ID, the audience of ID tokens, not of an API", is.URL, is.ClientID)
		}
		if _, dup := v.issuers[is.URL]; dup {
			return nil, fmt.Errorf("bearer: issuer %q listed twice", is.URL)
		}
		v.issuers[is.URL] = &issuer{Issuer: is, keys: &keySet{
			issuer: is.URL, jwksURL: is.JWKSURL, client: opts.HTTPClient, timeout: opts.FetchTimeout,
			interval: opts.KeyRefetchInterval, maxAge: opts.KeyMaxAge, now: opts.Now, log: opts.Logger,
		}}
	}
	return v, nil
}

func withDefaults(opts Options) Options {
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = time.Minute
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = 10000
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.FetchTimeout <= 0 {
		opts.FetchTimeout = 10 * time.Second
	}
	if opts.KeyRefetchInterval <= 0 {
		opts.KeyRefetchInterval = DefaultKeyRefetchInterval
	}
	if opts.KeyMaxAge <= 0 {
		opts.KeyMaxAge = DefaultKeyMaxAge
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: opts.FetchTimeout}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return opts
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

// Verify checks token and returns who it speaks for; it returns within
// Options.Timeout (or ctx's deadline, if sooner). The identity's Token is
// the token itself; the identity may be shared with other requests bearing
// the same token and must not be modified. The error wraps ErrInvalid or
// ErrUnavailable; its text never contains the token.
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
		return nil, fmt.Errorf("%w: issuer %q is not trusted", ErrInvalid, clip(unverified.Issuer))
	}
	ctx, cancel := context.WithTimeout(ctx, v.opts.Timeout)
	defer cancel()
	std, claims, err := verifySignature(ctx, is, parsed)
	if err != nil {
		return nil, err
	}
	if err := checkClaims(is, std, now); err != nil {
		return nil, err
	}
	if err := checkType(is, headerType(parsed), std.Audience, claims); err != nil {
		return nil, err
	}
	id := v.identity(claims)
	id.Provider = is.Provider
	if id.Provider == "" {
		id.Provider = "bearer:" + is.URL
	}
	if id.User == "" {
		return nil, fmt.Errorf("%w: claim %s is missing or not a string", ErrInvalid, v.claims.User)
	}
	id.Token = token
	until := now.Add(v.opts.CacheTTL)
	if exp := std.Expiry.Time(); exp.Before(until) {
		until = exp
	}
	v.cache.put(key, id, until, now)
	return id, nil
}

// verifySignature checks the token's signature with the issuer's keys and
// returns its claims.
func verifySignature(ctx context.Context, is *issuer, t *jwt.JSONWebToken) (*jwt.Claims, map[string]any, error) {
	if len(t.Headers) != 1 {
		return nil, nil, fmt.Errorf("%w: want exactly one signature", ErrInvalid)
	}
	h := t.Headers[0]
	keys, err := is.keys.lookup(ctx, h.KeyID)
	if err != nil {
		return nil, nil, err
	}
	for _, k := range keys {
		if k.Algorithm != "" && k.Algorithm != h.Algorithm {
			continue
		}
		std, claims := &jwt.Claims{}, map[string]any{}
		if t.Claims(k.Key, std, &claims) == nil {
			return std, claims, nil
		}
	}
	return nil, nil, fmt.Errorf("%w: signature does not verify with any key of %s", ErrInvalid, is.URL)
}

// checkClaims checks issuer, expiry (required, no leeway), not-before and
// issued-at (a minute of clock skew) and audience.
func checkClaims(is *issuer, c *jwt.Claims, now time.Time) error {
	if c.Expiry == nil {
		return fmt.Errorf("%w: no exp", ErrInvalid)
	}
	if !now.Before(c.Expiry.Time()) {
		return fmt.Errorf("%w: expired at %s", ErrInvalid, c.Expiry.Time().UTC().Format(time.RFC3339))
	}
	if err := c.ValidateWithLeeway(jwt.Expected{Issuer: is.URL, Time: now}, clockSkew); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if !slices.ContainsFunc(c.Audience, func(a string) bool { return slices.Contains(is.Audiences, a) }) {
		return fmt.Errorf("%w: audience %q is not accepted", ErrInvalid, []string(c.Audience))
	}
	return nil
}

// headerType returns the token's "typ" header, lower case, without an
// "application/" prefix (RFC 7515 §4.1.9).
func headerType(t *jwt.JSONWebToken) string {
	typ, _ := t.Headers[0].ExtraHeaders[jose.HeaderType].(string)
	return strings.TrimPrefix(strings.ToLower(typ), "application/")
}

// checkType refuses what is not an access token (DESIGN: "a bearer
// credential is an access token for an API audience; ID tokens and logout
// tokens never are"):
//   - a "typ" header other than at+jwt (RFC 9068), JWT or none, such as
//     logout+jwt (OIDC Back-Channel Logout) or secevent+jwt;
//   - an "events" claim (logout tokens, security event tokens);
//   - a claim only ID tokens carry: nonce, at_hash, c_hash;
//   - a "typ" claim of "ID" or "Logout" (Keycloak marks its tokens so);
//   - an audience that is gatehouse's own login client, whatever the rest.
func checkType(is *issuer, typ string, aud jwt.Audience, c map[string]any) error {
	switch typ {
	case "at+jwt", "jwt", "":
	default:
		return fmt.Errorf("%w: typ %q is not an access token", ErrInvalid, typ)
	}
	if _, ok := c["events"]; ok {
		return fmt.Errorf("%w: an events claim: a logout or security event token", ErrInvalid)
	}
	for _, name := range idTokenClaims {
		if _, ok := c[name]; ok {
			return fmt.Errorf("%w: a %s claim: an ID token", ErrInvalid, name)
		}
	}
	if t, ok := c["typ"].(string); ok && (strings.EqualFold(t, "ID") || strings.EqualFold(t, "Logout")) {
		return fmt.Errorf("%w: typ claim %q: not an access token", ErrInvalid, t)
	}
	if is.ClientID != "" && slices.Contains(aud, is.ClientID) {
		return fmt.Errorf("%w: audience %q is the login client: an ID or logout token", ErrInvalid, is.ClientID)
	}
	return nil
}

// identity maps verified claims to an Identity. An email the token does
// not mark verified never matches an allow-list.
func (v *Verifier) identity(c map[string]any) *authz.Identity {
	id := &authz.Identity{
		Subject:           claim.String(c, "sub"),
		User:              claim.String(c, v.claims.User),
		Email:             claim.String(c, v.claims.Email),
		EmailVerified:     claim.Bool(c, "email_verified"),
		PreferredUsername: claim.String(c, "preferred_username"),
		Groups:            claim.Strings(c, v.claims.Groups),
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
			if l := claim.StringsOf(x); l != nil {
				out[k] = l
			}
		}
	}
	return out
}

// clip shortens an unverified, attacker-chosen value for an error message.
func clip(s string) string {
	const limit = 200
	if len(s) <= limit {
		return s
	}
	return strings.ToValidUTF8(s[:limit], "") + "…"
}
