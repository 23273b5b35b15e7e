package probe

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// maxDocument bounds a discovery document or key set read.
const maxDocument = 1 << 20

// discovery is the part of an OpenID provider's metadata gatehouse uses.
type discovery struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	JWKSURI               string   `json:"jwks_uri"`
	CodeChallengeMethods  []string `json:"code_challenge_methods_supported"`
	ResponseTypes         []string `json:"response_types_supported"`
}

// provider reads the discovery document of issuer and the signing keys it
// names (or those at jwksURL, when set, which skips discovery), as sign-in
// and token checks will. path is the setting that names issuer.
func (p *prober) provider(ctx context.Context, path, issuer, jwksURL string) []Finding {
	if jwksURL != "" {
		if err := p.keys(ctx, jwksURL); err != nil {
			return []Finding{fail(strings.TrimSuffix(path, "issuer_url")+"jwks_url", "%v", err)}
		}
		return nil
	}
	where := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	var d discovery
	if err := p.getJSON(ctx, where, &d); err != nil {
		return []Finding{fail(path, "discovery: %v", err)}
	}
	var out []Finding
	if d.Issuer != issuer {
		out = append(out, fail(path, "discovery at %s names the issuer %q, not %q: sign-in would refuse every token; copy the issuer exactly, trailing slash included", where, d.Issuer, issuer))
	}
	for _, e := range []struct{ name, value string }{
		{"authorization_endpoint", d.AuthorizationEndpoint}, {"token_endpoint", d.TokenEndpoint}, {"jwks_uri", d.JWKSURI},
	} {
		if e.value == "" {
			out = append(out, fail(path, "discovery at %s has no %s", where, e.name))
		}
	}
	if len(d.ResponseTypes) > 0 && !slices.Contains(d.ResponseTypes, "code") {
		out = append(out, fail(path, "the provider does not offer the authorization code flow (response_types_supported: %v)", d.ResponseTypes))
	}
	if len(d.CodeChallengeMethods) > 0 && !slices.Contains(d.CodeChallengeMethods, "S256") {
		out = append(out, warn(path, "the provider lists PKCE methods %v without S256, which gatehouse sends", d.CodeChallengeMethods))
	}
	if d.JWKSURI != "" {
		if err := p.keys(ctx, d.JWKSURI); err != nil {
			out = append(out, fail(path, "%v", err))
		}
	}
	return out
}

// keys reads the key set at u and checks it holds at least one key.
func (p *prober) keys(ctx context.Context, u string) error {
	var set struct {
		Keys []struct {
			Kty string `json:"kty"`
		} `json:"keys"`
	}
	if err := p.getJSON(ctx, u, &set); err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	if len(set.Keys) == 0 {
		return fmt.Errorf("signing keys: %s holds no key", u)
	}
	for i, k := range set.Keys {
		if k.Kty == "" {
			return fmt.Errorf("signing keys: key %d at %s has no kty", i, u)
		}
	}
	return nil
}

// getJSON decodes the JSON document at u, of at most maxDocument bytes,
// into v.
func (p *prober) getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", u, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := p.opts.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %s", u, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxDocument+1))
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	if len(data) > maxDocument {
		return fmt.Errorf("GET %s: larger than %d bytes", u, maxDocument)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("GET %s: not a JSON document: %w", u, err)
	}
	return nil
}

// unwrapURLError drops the method and URL a *url.Error repeats.
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// callbackHost checks that the host of a provider's redirect URL (at
// path) resolves: the provider sends every browser there after sign-in.
func (p *prober) callbackHost(ctx context.Context, path, redirectURL string) []Finding {
	u, err := url.Parse(redirectURL)
	if err != nil || u.Hostname() == "" {
		return nil // validation reports it
	}
	host := u.Hostname()
	if net.ParseIP(host) != nil || host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return nil
	}
	if _, err := p.opts.LookupHost(ctx, host); err != nil {
		return []Finding{fail(path, "the host %s does not resolve (%v): browsers coming back from the provider cannot reach gatehouse", host, err)}
	}
	return nil
}
