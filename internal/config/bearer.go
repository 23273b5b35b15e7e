package config

import "time"

// validateBearer checks access.bearer: the issuers whose access tokens
// are trusted, and the limits of checking them.
func validateBearer(errs *Errors, c *Config) {
	b := &c.Access.Bearer
	if !b.Enabled && len(b.Issuers) == 0 {
		return
	}
	if b.Enabled && len(b.Audiences) == 0 {
		errs.add("access.bearer.audiences", "required when access.bearer.enabled: the audiences of the APIs whose access tokens are accepted (not oidc.client_id)")
	}
	ps := c.LoginProviders()
	checkAPIAudiences(errs, "access.bearer.audiences", b.Audiences, ps[0].ClientID)
	for i, is := range b.Issuers {
		p := indexPath("access.bearer.issuers", i)
		required(errs, p+".issuer_url", is.IssuerURL)
		if is.IssuerURL != "" {
			checkURL(errs, p+".issuer_url", is.IssuerURL)
		}
		if is.IssuerURL == ps[0].IssuerURL && b.Enabled {
			errs.add(p+".issuer_url", "is oidc.issuer_url, already trusted through access.bearer.enabled; set access.bearer.audiences instead")
		}
		if len(is.Audiences) == 0 {
			errs.add(p+".audiences", "required: the audiences a token must be issued for")
		}
		clientID := "" // the ID tokens' audience, of a provider with this issuer
		for _, p := range ps {
			if is.IssuerURL == p.IssuerURL {
				clientID = p.ClientID
				break
			}
		}
		checkAPIAudiences(errs, p+".audiences", is.Audiences, clientID)
		if is.JWKSURL != "" {
			checkURL(errs, p+".jwks_url", is.JWKSURL)
		}
	}
	positive(errs, "access.bearer.cache_ttl", b.CacheTTL)
	if b.CacheSize <= 0 {
		errs.add("access.bearer.cache_size", "must be positive")
	}
	positive(errs, "access.bearer.timeout", b.Timeout)
	if b.Timeout > maxBearerTimeout {
		errs.add("access.bearer.timeout", "must be at most %s, below the shipped proxies' auth timeouts (nginx 5s)", maxBearerTimeout)
	}
}

// maxBearerTimeout keeps a token check answering before the shipped nginx
// configuration gives up on auth_request (proxy_read_timeout 5s).
const maxBearerTimeout = 4 * time.Second

// checkAPIAudiences requires non-empty audiences other than clientID, the
// login client's ID: the audience of ID tokens, never of an API.
func checkAPIAudiences(errs *Errors, path string, audiences []string, clientID string) {
	for i, a := range audiences {
		p := indexPath(path, i)
		required(errs, p, a)
		if clientID != "" && a == clientID {
			errs.add(p, "is oidc.client_id, the audience of the ID and logout tokens gatehouse's login receives; a bearer token must be an access token for an API audience")
		}
	}
}
