// Package providers knows the identity providers gatehouse has presets
// for: a preset fills a provider's issuer URL, scopes and claim names from
// a few parameters (a tenant, a realm, a domain), so that a provider is a
// few lines of configuration. It is plain data and checks, imported by
// the configuration; the provider-specific work at sign-in (Google's
// Workspace domain, Entra ID's group overage) is in package
// providers/claimhooks.
package providers

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// The presets.
const (
	Google   = "google"
	Entra    = "entra"
	GitHub   = "github"
	GitLab   = "gitlab"
	Keycloak = "keycloak"
	Okta     = "okta"
	Auth0    = "auth0"
)

// Names lists the presets, as the configuration spells them.
func Names() []string { return []string{Google, Entra, GitHub, GitLab, Keycloak, Okta, Auth0} }

// Default base URLs.
const (
	GoogleIssuer       = "https://accounts.google.com"
	EntraAuthority     = "https://login.microsoftonline.com"
	EntraGraph         = "https://graph.microsoft.com"
	GitLabCom          = "https://gitlab.com"
	GitHubCom          = "https://github.com"
	entraTenantPattern = `^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[a-zA-Z0-9-]+(\.[a-zA-Z0-9-]+)+)$`
)

var entraTenant = regexp.MustCompile(entraTenantPattern)

// Params are a provider's settings that presets read. Field names are the
// configuration's keys.
type Params struct {
	// IssuerURL, when set, is used as it is (a preset's other
	// parameters then only fill scopes and claims).
	IssuerURL string
	// BaseURL is the provider's server: a self-managed GitLab, a Keycloak
	// server, an Entra ID authority other than the public cloud's.
	BaseURL string
	// Tenant is the Entra ID tenant: its ID or a verified domain.
	Tenant string
	// Realm is the Keycloak realm.
	Realm string
	// Domain is the Okta or Auth0 domain (example.okta.com,
	// example.eu.auth0.com).
	Domain string
	// Domains are Google Workspace domains: only accounts whose hd claim
	// is one of them may sign in.
	Domains []string
	// GraphURL is Microsoft Graph's base URL, for Entra ID group overage.
	GraphURL string
}

// Resolved is what a preset fills in; empty fields leave the provider's
// own setting (or gatehouse's default) in force.
type Resolved struct {
	Name              string
	IssuerURL         string
	Scopes            []string
	UserClaim         string
	EmailClaim        string
	GroupsClaim       string
	ExtraGroupsClaims []string
	AuthParams        map[string]string
	GraphURL          string
	// OAuth2 marks a provider that speaks OAuth 2 but not OpenID Connect
	// (GitHub): IssuerURL is its base URL, which names it in sessions.
	OAuth2 bool
}

// Problem is a parameter a preset refuses; Field is its configuration key.
type Problem struct {
	Field, Msg string
}

func (p Problem) String() string { return p.Field + ": " + p.Msg }

// Resolve returns what preset fills in for p, or the problems with p. An
// unknown preset is a problem of the field "preset".
func Resolve(preset string, p Params) (Resolved, []Problem) {
	var probs []Problem
	bad := func(field, format string, args ...any) {
		probs = append(probs, Problem{field, fmt.Sprintf(format, args...)})
	}
	unused := func(fields ...string) {
		vals := map[string]bool{
			"base_url": p.BaseURL != "", "tenant": p.Tenant != "", "realm": p.Realm != "",
			"domain": p.Domain != "", "domains": len(p.Domains) > 0, "graph_url": p.GraphURL != "",
		}
		for _, f := range []string{"base_url", "tenant", "realm", "domain", "domains", "graph_url"} {
			if vals[f] && !slices.Contains(fields, f) {
				bad(f, "is not a setting of preset %s", preset)
			}
		}
	}
	var r Resolved
	switch preset {
	case Google:
		unused("domains")
		r = Resolved{Name: "Google", IssuerURL: GoogleIssuer, Scopes: []string{"openid", "email", "profile"},
			UserClaim: "sub", EmailClaim: "email"}
		for i, d := range p.Domains {
			if !validDomain(d) {
				bad(fmt.Sprintf("domains[%d]", i), "%q is not a domain name", d)
			}
		}
		// hd is only a hint for the account chooser: the hd claim is
		// what claimhooks checks.
		switch len(p.Domains) {
		case 0:
		case 1:
			r.AuthParams = map[string]string{"hd": strings.ToLower(p.Domains[0])}
		default:
			r.AuthParams = map[string]string{"hd": "*"}
		}
	case Entra:
		unused("tenant", "base_url", "graph_url")
		base := baseURL(p.BaseURL, EntraAuthority, "base_url", bad)
		switch t := strings.ToLower(p.Tenant); {
		case p.Tenant == "" && p.IssuerURL == "":
			bad("tenant", "required for preset entra: your tenant's ID (a GUID) or one of its verified domains")
		case t == "common" || t == "organizations" || t == "consumers":
			bad("tenant", "%q is a multi-tenant endpoint, whose tokens name each user's own tenant as issuer; name your tenant", p.Tenant)
		case p.Tenant != "" && !entraTenant.MatchString(p.Tenant):
			bad("tenant", "%q is neither a tenant ID (GUID) nor a domain", p.Tenant)
		}
		r = Resolved{Name: "Microsoft", IssuerURL: base + "/" + p.Tenant + "/v2.0",
			Scopes:    []string{"openid", "email", "profile", "offline_access", "User.Read"},
			UserClaim: "oid", EmailClaim: "email", GroupsClaim: "groups",
			GraphURL: baseURL(p.GraphURL, EntraGraph, "graph_url", bad)}
	case GitHub:
		unused("base_url")
		if p.IssuerURL != "" {
			bad("issuer_url", "not a setting of preset github, which is not an OpenID provider; a GitHub Enterprise Server is base_url")
		}
		// Profile, email addresses, organization and team membership.
		r = Resolved{Name: "GitHub", IssuerURL: baseURL(p.BaseURL, GitHubCom, "base_url", bad),
			Scopes: []string{"read:user", "user:email", "read:org"}, OAuth2: true}
		return r, probs
	case GitLab:
		unused("base_url")
		// GitLab's ID token carries groups_direct; userinfo carries groups
		// (direct and inherited), which login fetches when the ID token
		// lacks the groups claim.
		r = Resolved{Name: "GitLab", IssuerURL: baseURL(p.BaseURL, GitLabCom, "base_url", bad),
			Scopes: []string{"openid", "email", "profile"}, UserClaim: "sub", EmailClaim: "email",
			GroupsClaim: "groups", ExtraGroupsClaims: []string{"groups_direct"}}
	case Keycloak:
		unused("base_url", "realm")
		r = Resolved{Name: "Keycloak", Scopes: []string{"openid", "email", "profile"}, UserClaim: "sub",
			EmailClaim: "email", GroupsClaim: "groups", ExtraGroupsClaims: []string{"realm_access.roles"}}
		if p.IssuerURL == "" {
			if p.BaseURL == "" {
				bad("base_url", "required for preset keycloak (or issuer_url): the server's URL, e.g. https://sso.example.com")
			}
			if p.Realm == "" {
				bad("realm", "required for preset keycloak (or issuer_url)")
			} else if strings.ContainsAny(p.Realm, "/?#% ") {
				bad("realm", "%q is not a realm name", p.Realm)
			}
			if p.BaseURL != "" {
				r.IssuerURL = baseURL(p.BaseURL, "", "base_url", bad) + "/realms/" + url.PathEscape(p.Realm)
			}
		}
	case Okta:
		unused("domain")
		r = Resolved{Name: "Okta", Scopes: []string{"openid", "email", "profile"}, UserClaim: "sub",
			EmailClaim: "email", GroupsClaim: "groups"}
		// Okta's default custom authorization server; an org
		// authorization server (https://DOMAIN) is set with issuer_url.
		r.IssuerURL = domainIssuer(p, "/oauth2/default", "okta", bad)
	case Auth0:
		unused("domain")
		// Auth0's issuer ends in a slash, and go-oidc compares it exactly.
		r = Resolved{Name: "Auth0", Scopes: []string{"openid", "email", "profile", "offline_access"}, UserClaim: "sub",
			EmailClaim: "email", GroupsClaim: "groups"}
		r.IssuerURL = domainIssuer(p, "/", "auth0", bad)
	default:
		bad("preset", "must be one of %s, not %q", strings.Join(Names(), ", "), preset)
	}
	if p.IssuerURL != "" {
		r.IssuerURL = p.IssuerURL
	}
	return r, probs
}

// domainIssuer is https://DOMAIN + suffix, unless issuer_url is set.
func domainIssuer(p Params, suffix, preset string, bad func(field, format string, args ...any)) string {
	if p.IssuerURL != "" {
		return ""
	}
	if p.Domain == "" {
		bad("domain", "required for preset %s (or issuer_url), e.g. example.%s.com", preset, preset)
		return ""
	}
	if !validDomain(p.Domain) {
		bad("domain", "%q is not a domain name (no scheme or path)", p.Domain)
		return ""
	}
	return "https://" + strings.ToLower(p.Domain) + suffix
}

// baseURL checks an https base URL (http only on loopback) and returns it
// without a trailing slash; def when raw is empty.
func baseURL(raw, def, field string, bad func(field, format string, args ...any)) string {
	if raw == "" {
		return def
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" ||
		(u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname()))) {
		bad(field, "%q must be an https URL without query (http only on loopback)", raw)
		return def
	}
	return strings.TrimSuffix(raw, "/")
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

var domainPattern = regexp.MustCompile(`^([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?\.)+[a-zA-Z]{2,}$`)

func validDomain(d string) bool { return len(d) <= 253 && domainPattern.MatchString(d) }
