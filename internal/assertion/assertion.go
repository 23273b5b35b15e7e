// Package assertion signs the identity assertion gatehouse sends to
// upstream apps: a short-lived ES256 JWT (iss, aud = the requested host,
// sub, email, groups, iat, nbf, exp) that lets an app trust who the user is
// without trusting the network, by checking it against the public keys
// gatehouse publishes at /.well-known/jwks.json.
//
// Keys rotate without a gap: of the configured keys the first signs and
// all are published, so a next key is published before it signs and an
// old key stays published after it stopped. Assertions are cached per
// (session, host) and re-signed once half their lifetime has passed, so
// the request path rarely signs.
package assertion

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/limitedfile"
)

// JWKSPath is where the public keys are served.
const JWKSPath = "/.well-known/jwks.json"

// DefaultHeader is the request header that carries the assertion.
const DefaultHeader = "X-Gatehouse-Assertion"

// Options are the settings of a Minter.
type Options struct {
	// Issuer is the "iss" claim, e.g. "https://auth.example.com".
	Issuer string
	// Lifetime of one assertion; default 60s.
	Lifetime time.Duration
	// CacheSize bounds the cached assertions; default 10000.
	CacheSize int
	Now       func() time.Time
}

// Minter signs identity assertions and serves the JWKS. It is safe for
// concurrent use.
type Minter struct {
	opts   Options
	signer jose.Signer
	jwks   []byte // the marshalled public key set

	// cache holds the assertions minted lately: at most CacheSize, the
	// least recently used dropped first, each reused until its refreshAt
	// on the injected clock. (Not golang-lru's expirable.LRU: it reads
	// the wall clock, and each one starts a goroutine that never ends.)
	cache *lru.Cache[cacheKey, *minted]
}

type cacheKey struct{ session, audience string }

// minted is one cached assertion and the identity it was minted for.
type minted struct {
	token     string
	refreshAt time.Time
	sub, user string
	email     string
	groups    []string
}

// claims is the assertion's payload.
type claims struct {
	jwt.Claims
	Email             string   `json:"email,omitempty"`
	Groups            []string `json:"groups,omitempty"`
	PreferredUsername string   `json:"preferred_username,omitempty"`
	User              string   `json:"user,omitempty"`
}

// New returns a Minter that signs with keys[0] and publishes all of keys.
// Every key must be an ECDSA P-256 private key.
func New(keys []*ecdsa.PrivateKey, opts Options) (*Minter, error) {
	if len(keys) == 0 {
		return nil, errors.New("assertion: no signing key")
	}
	if opts.Issuer == "" {
		return nil, errors.New("assertion: issuer required")
	}
	if opts.Lifetime <= 0 {
		opts.Lifetime = 60 * time.Second
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = 10000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	var set jose.JSONWebKeySet
	var first jose.JSONWebKey
	seen := map[string]bool{}
	for i, k := range keys {
		if k == nil || k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("assertion: key %d is not an EC P-256 key", i)
		}
		jwk := jose.JSONWebKey{Key: k, Algorithm: string(jose.ES256), Use: "sig"}
		tp, err := jwk.Thumbprint(crypto.SHA256) // RFC 7638 key ID
		if err != nil {
			return nil, fmt.Errorf("assertion: key %d: %w", i, err)
		}
		jwk.KeyID = base64.RawURLEncoding.EncodeToString(tp)
		if seen[jwk.KeyID] {
			return nil, fmt.Errorf("assertion: key %d is listed twice", i)
		}
		seen[jwk.KeyID] = true
		if i == 0 {
			first = jwk
		}
		set.Keys = append(set.Keys, jwk.Public())
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: first}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, fmt.Errorf("assertion: signer: %w", err)
	}
	data, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("assertion: marshal JWKS: %w", err)
	}
	cache, err := lru.New[cacheKey, *minted](opts.CacheSize)
	if err != nil {
		return nil, fmt.Errorf("assertion: cache: %w", err)
	}
	return &Minter{opts: opts, signer: signer, jwks: data, cache: cache}, nil
}

// Mint returns an assertion for id, addressed to audience (the requested
// canonical host). session identifies the credential (a session ID or a
// token hash) and keys the cache; it is never put in the assertion.
func (m *Minter) Mint(session, audience string, id *authz.Identity) (string, error) {
	now := m.opts.Now()
	key := cacheKey{session, audience}
	if c, ok := m.cache.Get(key); ok && now.Before(c.refreshAt) && c.matches(id) {
		return c.token, nil
	}

	cl := claims{
		Claims: jwt.Claims{
			Issuer:    m.opts.Issuer,
			Subject:   id.Subject,
			Audience:  jwt.Audience{audience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			Expiry:    jwt.NewNumericDate(now.Add(m.opts.Lifetime)),
		},
		Email:             id.Email,
		Groups:            id.Groups,
		PreferredUsername: id.PreferredUsername,
		User:              id.User,
	}
	if cl.Subject == "" {
		cl.Subject = id.User
	}
	tok, err := jwt.Signed(m.signer).Claims(cl).Serialize()
	if err != nil {
		return "", fmt.Errorf("assertion: sign: %w", err)
	}
	m.cache.Add(key, &minted{
		token: tok, refreshAt: now.Add(m.opts.Lifetime / 2),
		sub: id.Subject, user: id.User, email: id.Email, groups: slices.Clone(id.Groups),
	})
	return tok, nil
}

// matches reports whether a cached assertion still describes id, so that a
// session whose identity changed gets a fresh one.
func (c *minted) matches(id *authz.Identity) bool {
	return c.sub == id.Subject && c.user == id.User && c.email == id.Email && slices.Equal(c.groups, id.Groups)
}

// JWKS returns the published key set as JSON.
func (m *Minter) JWKS() []byte { return slices.Clone(m.jwks) }

// ServeHTTP serves the JWKS (mount it at JWKSPath). Keys change only on
// restart, so clients may cache it for five minutes.
func (m *Minter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(m.jwks)
}

// maxKeyFileSize bounds a key file read: a P-256 key in PEM is a few hundred
// bytes.
const maxKeyFileSize = 64 << 10

// LoadKeyFiles reads PEM EC P-256 private keys (SEC 1 "EC PRIVATE KEY" or
// PKCS #8 "PRIVATE KEY"), one per file, in order.
func LoadKeyFiles(paths []string) ([]*ecdsa.PrivateKey, error) {
	keys := make([]*ecdsa.PrivateKey, 0, len(paths))
	for _, p := range paths {
		data, err := limitedfile.Read(p, maxKeyFileSize)
		if err != nil {
			return nil, fmt.Errorf("assertion key: %w", err)
		}
		k, err := ParseKey(data)
		if err != nil {
			return nil, fmt.Errorf("assertion key %s: %w", p, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// ParseKey parses one PEM EC P-256 private key.
func ParseKey(data []byte) (*ecdsa.PrivateKey, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("no PEM private key found")
		}
		var key any
		var err error
		switch b.Type {
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(b.Bytes)
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		default:
			continue // e.g. "EC PARAMETERS" from openssl ecparam
		}
		if err != nil {
			return nil, fmt.Errorf("parse private key: %w", err)
		}
		ec, ok := key.(*ecdsa.PrivateKey)
		if !ok || ec.Curve != elliptic.P256() {
			return nil, errors.New("not an EC P-256 private key")
		}
		return ec, nil
	}
}
