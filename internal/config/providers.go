package config

import (
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/internal/providers"
)

// DefaultProviderID is the provider ID of the oidc section.
const DefaultProviderID = "oidc"

var providerID = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// usesProviders reports whether the providers list is in force (the oidc
// section is then unused).
func (c *Config) usesProviders() bool { return len(c.Providers) > 0 }

// oidcSet reports whether any setting of the oidc section's own (not a
// default) is set.
func (c *Config) oidcSet() bool {
	o := c.OIDC
	return o.IssuerURL != "" || o.ClientID != "" || o.ClientSecret != "" || o.ClientSecretFile != "" || o.RedirectURL != ""
}

// LoginProviders returns the providers users sign in through, the default
// first: the providers list, or the oidc section as provider "oidc".
// Presets have been applied by Load.
func (c *Config) LoginProviders() []Provider {
	if c.usesProviders() {
		return slices.Clone(c.Providers)
	}
	o := c.OIDC
	return []Provider{{
		ID: DefaultProviderID, IssuerURL: o.IssuerURL, ClientID: o.ClientID, ClientSecret: o.ClientSecret, ClientSecretFile: o.ClientSecretFile,
		RedirectURL: o.RedirectURL, Scopes: o.Scopes, UserClaim: o.UserClaim, EmailClaim: o.EmailClaim,
		GroupsClaim: o.GroupsClaim, AllowUnverifiedEmail: o.AllowUnverifiedEmail,
	}}
}

// eachProvider calls fn with each provider of LoginProviders and the path
// prefix of its settings: "oidc." or "providers[i].".
func (c *Config) eachProvider(fn func(path string, p Provider)) {
	for i, p := range c.LoginProviders() {
		path := "oidc."
		if c.usesProviders() {
			path = indexPath("providers", i) + "."
		}
		fn(path, p)
	}
}

// PresetParams returns what p's preset reads.
func (p *Provider) PresetParams() providers.Params {
	return providers.Params{IssuerURL: p.IssuerURL, BaseURL: p.BaseURL, Tenant: p.Tenant, Realm: p.Realm,
		Domain: p.Domain, Domains: p.Domains, GraphURL: p.GraphURL}
}

// resolvePresets fills each provider's unset settings from its preset
// and gatehouse's defaults; a preset's problems are named by the
// provider's path.
func (c *Config) resolvePresets(errs *Errors) {
	for i := range c.Providers {
		p := &c.Providers[i]
		path := indexPath("providers", i)
		if p.Preset != "" {
			r, probs := providers.Resolve(p.Preset, p.PresetParams())
			for _, pr := range probs {
				errs.add(path+"."+pr.Field, "%s", pr.Msg)
			}
			p.IssuerURL = r.IssuerURL
			if p.Name == "" {
				p.Name = r.Name
			}
			if len(p.Scopes) == 0 {
				p.Scopes = r.Scopes
			}
			p.UserClaim = cmpOr(p.UserClaim, r.UserClaim)
			p.EmailClaim = cmpOr(p.EmailClaim, r.EmailClaim)
			p.GroupsClaim = cmpOr(p.GroupsClaim, r.GroupsClaim)
			p.ExtraGroupsClaims = r.ExtraGroupsClaims
			p.AuthParams = r.AuthParams
			p.OAuth2 = r.OAuth2
			if p.Preset == providers.Entra && p.GraphURL == "" {
				p.GraphURL = r.GraphURL
			}
		}
		if len(p.Scopes) == 0 {
			p.Scopes = []string{"openid", "email", "profile"}
		}
		p.UserClaim = cmpOr(p.UserClaim, "sub")
		p.EmailClaim = cmpOr(p.EmailClaim, "email")
		p.GroupsClaim = cmpOr(p.GroupsClaim, "groups")
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// validateProviders checks the providers list against itself and the oidc
// section.
func (c *Config) validateProviders(errs *Errors) {
	if !c.usesProviders() {
		return
	}
	if c.oidcSet() {
		errs.add("oidc", "set either oidc or providers, not both (the oidc section is one provider; list it under providers with id: oidc)")
	}
	ids := map[string]string{}
	paths := map[string]string{}
	for i := range c.Providers {
		p := &c.Providers[i]
		path := indexPath("providers", i)
		switch other, dup := ids[p.ID]; {
		case p.ID == "":
			errs.add(path+".id", "required: a short name such as google or corp")
		case !providerID.MatchString(p.ID):
			errs.add(path+".id", "%q must be 1-32 lower-case letters, digits, - or _, starting with a letter or digit", p.ID)
		case dup:
			errs.add(path+".id", "%q is already the ID of %s", p.ID, other)
		}
		ids[p.ID] = path
		if p.IssuerURL != "" {
			checkURL(errs, path+".issuer_url", p.IssuerURL)
		} else if p.Preset == "" {
			errs.add(path+".issuer_url", "required (or a preset)")
		}
		required(errs, path+".client_id", p.ClientID)
		if p.ClientSecret == "" && p.ClientSecretFile == "" {
			errs.add(path+".client_secret", "required (or client_secret_file)")
		}
		required(errs, path+".redirect_url", p.RedirectURL)
		if p.RedirectURL != "" {
			if u := checkURL(errs, path+".redirect_url", p.RedirectURL); u != nil {
				if !strings.HasPrefix(u.EscapedPath(), "/oauth2/") {
					errs.add(path+".redirect_url", "must be on gatehouse's /oauth2/ path, e.g. https://auth.example.com/oauth2/callback/%s", p.ID)
				} else if other, dup := paths[u.EscapedPath()]; dup {
					errs.add(path+".redirect_url", "path %s is also the callback of %s; give each provider its own (/oauth2/callback/%s)", u.EscapedPath(), other, p.ID)
				}
				paths[u.EscapedPath()] = path
			}
		}
		if !p.OAuth2 && !slices.Contains(p.Scopes, "openid") {
			errs.add(path+".scopes", `must include "openid"`)
		}
		if p.Preset == providers.Google && p.AllowUnverifiedEmail {
			errs.add(path+".allow_unverified_email", "not with preset google: a Google sign-in needs a verified email")
		}
		if p.Preset == providers.Entra && p.EmailClaim != "email" && p.EmailClaim != "upn" {
			errs.add(path+".email_claim", "must be email or upn with preset entra, not %q (preferred_username may be changed by users and is never verified)", p.EmailClaim)
		}
	}
}

// providerIDs returns the IDs of LoginProviders.
func (c *Config) providerIDs() []string {
	var ids []string
	for _, p := range c.LoginProviders() {
		ids = append(ids, p.ID)
	}
	return ids
}

// anyAllowsUnverified reports whether some provider admits unverified
// emails (sessions of the others never carry one).
func (c *Config) anyAllowsUnverified() bool {
	return slices.ContainsFunc(c.LoginProviders(), func(p Provider) bool { return p.AllowUnverifiedEmail })
}

// redirectHosts are the hosts of every provider's callback.
func (c *Config) redirectHosts() []string {
	var hosts []string
	for _, p := range c.LoginProviders() {
		if u, err := url.Parse(p.RedirectURL); err == nil && u.Hostname() != "" {
			h := u.Hostname()
			if strings.Contains(h, ":") {
				h = "[" + h + "]"
			}
			if !slices.Contains(hosts, h) {
				hosts = append(hosts, h)
			}
		}
	}
	return hosts
}
