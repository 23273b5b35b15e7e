package config

import (
	"net/netip"
	"slices"
	"strings"
)

// CookieKeys returns the decoded cookie keys; the first seals.
func (c *Config) CookieKeys() [][]byte {
	keys := make([][]byte, 0, len(c.Cookie.Secrets))
	for _, s := range c.Cookie.Secrets {
		k, _ := decodeKey(s) // validated by Load
		keys = append(keys, k)
	}
	return keys
}

// TrustedPrefixes returns trusted_proxies as prefixes.
func (c *Config) TrustedPrefixes() []netip.Prefix {
	out := make([]netip.Prefix, 0, len(c.TrustedProxies))
	for _, s := range c.TrustedProxies {
		if p, err := parsePrefix(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// ReturnHosts is redirect.allowed_domains plus the host gatehouse's own
// callbacks are on (oidc.redirect_url, providers[].redirect_url): a user may always be sent back to the
// host they signed in on.
func (c *Config) ReturnHosts() []string {
	return append(slices.Clone(c.Redirect.AllowedDomains), c.redirectHosts()...)
}

// LoginURL returns the absolute or host-relative URL of /oauth2/start.
func (c *Config) LoginURL() string {
	return strings.TrimSuffix(c.HTTP.PublicURL, "/") + "/oauth2/start"
}

// AdmitsNobody reports whether the access lists are empty, so that every
// signed-in user gets 403: valid, but worth a warning at startup.
func (c *Config) AdmitsNobody() bool {
	a := c.Access
	return !a.AllowAnyAuthenticated && len(a.EmailDomains) == 0 && len(a.Emails) == 0 && len(a.Groups) == 0 &&
		len(a.Rules) == 0 && a.PolicyFile == ""
}

// BearerIssuers returns every trusted bearer-token issuer: the provider's
// own when access.bearer.enabled, then access.bearer.issuers. The
// provider's entry carries oidc.client_id as its ClientID.
func (c *Config) BearerIssuers() []BearerIssuer {
	b := c.Access.Bearer
	ps := c.LoginProviders()
	var out []BearerIssuer
	if b.Enabled {
		out = append(out, BearerIssuer{IssuerURL: ps[0].IssuerURL, Audiences: b.Audiences})
	}
	out = append(out, b.Issuers...)
	for i := range out {
		for _, p := range ps {
			if out[i].IssuerURL == p.IssuerURL {
				out[i].ClientID, out[i].Provider = p.ClientID, p.ID
				break
			}
		}
	}
	return out
}

// AssertionIssuer returns the "iss" of identity assertions.
func (c *Config) AssertionIssuer() string {
	switch {
	case c.Assertion.Issuer != "":
		return c.Assertion.Issuer
	case c.HTTP.PublicURL != "":
		return strings.TrimSuffix(c.HTTP.PublicURL, "/")
	}
	return "gatehouse"
}
