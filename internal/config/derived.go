package config

import (
	"net/netip"
	"net/url"
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
// callback is on (oidc.redirect_url): a user may always be sent back to the
// host they signed in on.
func (c *Config) ReturnHosts() []string {
	hosts := slices.Clone(c.Redirect.AllowedDomains)
	if u, err := url.Parse(c.OIDC.RedirectURL); err == nil && u.Hostname() != "" {
		h := u.Hostname()
		if strings.Contains(h, ":") {
			h = "[" + h + "]"
		}
		hosts = append(hosts, h)
	}
	return hosts
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
	var out []BearerIssuer
	if b.Enabled {
		out = append(out, BearerIssuer{IssuerURL: c.OIDC.IssuerURL, Audiences: b.Audiences})
	}
	out = append(out, b.Issuers...)
	for i := range out {
		if out[i].IssuerURL == c.OIDC.IssuerURL {
			out[i].ClientID = c.OIDC.ClientID
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
