package oidctest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// BackchannelLogoutEvent is the events member that makes a JWT a logout
// token (OIDC Back-Channel Logout 1.0, section 2.4).
const BackchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// LogoutTokenLifetime is the exp - iat of the logout tokens LogoutToken mints.
const LogoutTokenLifetime = 2 * time.Minute

// logoutToken is a logout token being minted.
type logoutToken struct {
	claims   map[string]any
	headers  map[jose.HeaderKey]any
	alg      jose.SignatureAlgorithm
	key      any  // signing key; nil for the provider's own
	unsigned bool // alg "none"
}

// LogoutOption changes a logout token that LogoutToken mints, so tests can
// craft invalid ones.
type LogoutOption func(*logoutToken)

// LogoutClaim sets claim name to value; a nil value removes the claim.
// Times may be given as time.Time.
func LogoutClaim(name string, value any) LogoutOption {
	return func(t *logoutToken) {
		if value == nil {
			delete(t.claims, name)
			return
		}
		if tm, ok := value.(time.Time); ok {
			value = tm.Unix()
		}
		t.claims[name] = value
	}
}

// LogoutHeader sets a JOSE header, such as "typ"; a nil value removes it.
func LogoutHeader(name string, value any) LogoutOption {
	return func(t *logoutToken) {
		if value == nil {
			delete(t.headers, jose.HeaderKey(name))
			return
		}
		t.headers[jose.HeaderKey(name)] = value
	}
}

// LogoutSignedWith signs the token with key and alg instead of the
// provider's key (the header still names the provider's key ID): another
// issuer's RSA key, or the client secret with HS256.
func LogoutSignedWith(alg jose.SignatureAlgorithm, key any) LogoutOption {
	return func(t *logoutToken) { t.alg, t.key = alg, key }
}

// LogoutUnsigned produces an unsecured JWT with alg "none".
func LogoutUnsigned() LogoutOption {
	return func(t *logoutToken) { t.unsigned = true }
}

// LogoutToken mints a logout token for the registered client, signed with
// the provider's key: iss, aud, iat (now), exp (now + LogoutTokenLifetime),
// a fresh jti, the back-channel logout event, sub and sid (each left out
// when empty), and the header typ "logout+jwt". opts change it.
func (p *Provider) LogoutToken(sub, sid string, opts ...LogoutOption) (string, error) {
	now := time.Now()
	t := &logoutToken{
		claims: map[string]any{
			"iss":    p.issuer,
			"aud":    p.Client().ID,
			"iat":    now.Unix(),
			"exp":    now.Add(LogoutTokenLifetime).Unix(),
			"jti":    randomString(16),
			"events": map[string]any{BackchannelLogoutEvent: map[string]any{}},
		},
		headers: map[jose.HeaderKey]any{jose.HeaderType: "logout+jwt", "kid": p.storage.keyID},
		alg:     jose.RS256,
	}
	if sub != "" {
		t.claims["sub"] = sub
	}
	if sid != "" {
		t.claims["sid"] = sid
	}
	for _, o := range opts {
		o(t)
	}
	payload, err := json.Marshal(t.claims)
	if err != nil {
		return "", fmt.Errorf("oidctest: logout token claims: %w", err)
	}
	if t.unsigned {
		h := map[string]any{"alg": "none"}
		for k, v := range t.headers {
			if k != "kid" {
				h[string(k)] = v
			}
		}
		hb, _ := json.Marshal(h)
		enc := base64.RawURLEncoding
		return enc.EncodeToString(hb) + "." + enc.EncodeToString(payload) + ".", nil
	}
	key := t.key
	if key == nil {
		key = p.storage.key
	}
	hdrs := maps.Clone(t.headers)
	kid, _ := hdrs["kid"].(string)
	delete(hdrs, "kid")
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: t.alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		&jose.SignerOptions{ExtraHeaders: hdrs})
	if err != nil {
		return "", fmt.Errorf("oidctest: logout token signer: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("oidctest: sign logout token: %w", err)
	}
	return jws.CompactSerialize()
}

// sendLogouts delivers logout tokens to the client's back-channel logout
// URI, one per provider session of subject (or one by subject alone when
// it has none). Failures are recorded, not returned: the OP's logout goes on.
func (p *Provider) sendLogouts(ctx context.Context, uri, subject string, sids []string) {
	if len(sids) == 0 {
		sids = []string{""}
	}
	c := &http.Client{Timeout: 5 * time.Second}
	for _, sid := range sids {
		tok, err := p.LogoutToken(subject, sid)
		status := 0
		if err == nil {
			var req *http.Request
			req, err = http.NewRequestWithContext(ctx, http.MethodPost, uri,
				strings.NewReader(url.Values{"logout_token": {tok}}.Encode()))
			if err == nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				var resp *http.Response
				if resp, err = c.Do(req); err == nil {
					status = resp.StatusCode
					var b bytes.Buffer
					_, _ = b.ReadFrom(resp.Body)
					resp.Body.Close()
				}
			}
		}
		p.storage.mu.Lock()
		p.storage.logouts = append(p.storage.logouts, LogoutDelivery{Subject: subject, SID: sid, Status: status, Err: err})
		p.storage.mu.Unlock()
	}
}

// LogoutDelivery is one logout token the provider sent to the client's
// back-channel logout URI.
type LogoutDelivery struct {
	Subject, SID string
	// Status is the client's answer; 0 when Err is set.
	Status int
	Err    error
}

// LogoutDeliveries returns the back-channel logouts sent so far, oldest first.
func (p *Provider) LogoutDeliveries() []LogoutDelivery {
	p.storage.mu.Lock()
	defer p.storage.mu.Unlock()
	return append([]LogoutDelivery(nil), p.storage.logouts...)
}
