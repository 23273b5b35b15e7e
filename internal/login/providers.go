package login

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/claim"
)

// DefaultProviderID is the ID of the provider that Config's own issuer
// fields describe (the single oidc: section of older configurations).
const DefaultProviderID = "oidc"

// Provider is one identity provider users may sign in through. Zero
// fields take the defaults Config documents for its own fields.
type Provider struct {
	// ID names the provider in configuration, sessions, rules and URLs
	// (/oauth2/start?provider=ID, /oauth2/callback/ID): lower-case
	// letters, digits, "-" and "_".
	ID string
	// Name labels the provider's button on the sign-in page; default its
	// issuer URL's host.
	Name         string
	IssuerURL    string
	ClientID     string
	ClientSecret string
	// RedirectURL is the absolute URL of this provider's callback, as
	// registered there; each provider's path must be its own.
	RedirectURL string
	Scopes      []string
	UserClaim   string
	EmailClaim  string
	// GroupsClaim names the groups claim, a dotted path into nested
	// objects where needed (Keycloak's realm_access.roles);
	// ExtraGroupsClaims are further claims whose values are groups too.
	GroupsClaim       string
	ExtraGroupsClaims []string
	// AllowUnverifiedEmail admits email_verified false or missing.
	AllowUnverifiedEmail bool
	// AuthParams are added to the authorization request (Google's hd
	// hint, say). They never replace the flow's own parameters.
	AuthParams map[string]string
	// Claims, if set, checks and completes the claims of every sign-in
	// and refresh before the identity is read from them (a Workspace
	// domain check, groups fetched from another API). An error refuses
	// the sign-in.
	Claims ClaimsHook
	// Connector, if set, makes this an OAuth 2 provider that is not an
	// OpenID provider (GitHub): IssuerURL then only names it, nothing is
	// discovered, and scopes need not include openid. Claims and the
	// claim names are not used.
	Connector Connector
}

// ClaimsHook checks or completes a provider's claims. client carries the
// calls to the provider's APIs and tok holds the access token for them.
type ClaimsHook interface {
	Claims(ctx context.Context, client *http.Client, tok *oauth2.Token, claims map[string]any) error
}

// ErrClaimsRefused is what a ClaimsHook returns (wrapped) when the claims
// say the user may not sign in through this provider; any other error
// means the hook could not decide (an API unreachable) and the sign-in
// fails with 503.
var ErrClaimsRefused = errors.New("login: claims refused")

// flowParams are the authorization request's parameters that the flow
// sets itself; Provider.AuthParams may not name them.
var flowParams = []string{"response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge", "code_challenge_method"}

var providerIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// ValidProviderID reports whether id may name a provider.
func ValidProviderID(id string) bool { return providerIDPattern.MatchString(id) }

// prov is one provider as the Handler uses it.
type prov struct {
	cfg          Provider
	disc         *discovery
	callbackPath string // the path of cfg.RedirectURL
	origin       string // scheme://host of cfg.RedirectURL
}

// providers returns c's providers: c.Providers, or the one c's own fields
// describe, with defaults filled in and every problem found.
func (c Config) providers() ([]Provider, error) {
	ps := c.Providers
	if len(ps) == 0 {
		ps = []Provider{{
			ID: DefaultProviderID, IssuerURL: c.IssuerURL, ClientID: c.ClientID, ClientSecret: c.ClientSecret,
			RedirectURL: c.RedirectURL, Scopes: c.Scopes, UserClaim: c.UserClaim, EmailClaim: c.EmailClaim,
			GroupsClaim: c.GroupsClaim, AllowUnverifiedEmail: c.AllowUnverifiedEmail,
		}}
	}
	out := make([]Provider, len(ps))
	var errs []error
	ids := map[string]bool{}
	paths := map[string]string{}
	for i, p := range ps {
		where := fmt.Sprintf("login: provider %q", p.ID)
		if !ValidProviderID(p.ID) {
			errs = append(errs, fmt.Errorf("login: provider %d: ID %q must be 1-32 lower-case letters, digits, - or _", i, p.ID))
		} else if ids[p.ID] {
			errs = append(errs, fmt.Errorf("%s: ID used twice", where))
		}
		ids[p.ID] = true
		if len(p.Scopes) == 0 {
			p.Scopes = []string{"openid", "email", "profile"}
		}
		p.Scopes = slices.Clone(p.Scopes)
		if p.UserClaim == "" {
			p.UserClaim = "sub"
		}
		if p.EmailClaim == "" {
			p.EmailClaim = "email"
		}
		if p.GroupsClaim == "" {
			p.GroupsClaim = "groups"
		}
		if _, err := absoluteHTTP(p.IssuerURL); err != nil {
			errs = append(errs, fmt.Errorf("%s: issuer URL: %w", where, err))
		}
		if p.ClientID == "" {
			errs = append(errs, fmt.Errorf("%s: client ID is required", where))
		}
		if ru, err := absoluteHTTP(p.RedirectURL); err != nil {
			errs = append(errs, fmt.Errorf("%s: redirect URL: %w", where, err))
		} else if other, dup := paths[ru.EscapedPath()]; dup {
			errs = append(errs, fmt.Errorf("%s: redirect URL path %s is also provider %q's; each needs its own", where, ru.EscapedPath(), other))
		} else {
			paths[ru.EscapedPath()] = p.ID
		}
		for k := range p.AuthParams {
			if slices.Contains(flowParams, k) {
				errs = append(errs, fmt.Errorf("%s: auth parameter %q is the flow's own", where, k))
			}
		}
		if p.Connector == nil && !slices.Contains(p.Scopes, "openid") {
			errs = append(errs, fmt.Errorf(`%s: scopes must include "openid"`, where))
		}
		out[i] = p
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// byID returns the provider with this ID; "" is the default (the first).
func (h *Handler) byID(id string) (*prov, bool) {
	if id == "" {
		return h.provs[0], true
	}
	for _, p := range h.provs {
		if p.cfg.ID == id {
			return p, true
		}
	}
	return nil, false
}

// byCallback returns the provider whose callback path is path: its
// RedirectURL's path, or CallbackPath/ID; CallbackPath itself is the
// default provider's.
func (h *Handler) byCallback(path string) (*prov, bool) {
	for _, p := range h.provs {
		if path == p.callbackPath || path == CallbackPath+"/"+p.cfg.ID {
			return p, true
		}
	}
	if path == CallbackPath {
		return h.provs[0], true
	}
	return nil, false
}

// DefaultProvider is the ID of the provider of sessions that name none.
func (h *Handler) DefaultProvider() string { return h.provs[0].cfg.ID }

// ProviderIDs lists the configured providers' IDs, the default first.
func (h *Handler) ProviderIDs() []string {
	ids := make([]string, len(h.provs))
	for i, p := range h.provs {
		ids[i] = p.cfg.ID
	}
	return ids
}

// name is what the pages call the provider.
func (p *prov) name(fallback string) string {
	if p.cfg.Name != "" {
		return p.cfg.Name
	}
	if fallback != "" {
		return fallback
	}
	if u, err := url.Parse(p.cfg.IssuerURL); err == nil && u.Host != "" {
		return u.Host
	}
	return "your sign-in provider"
}

// groupsOf reads the provider's groups claims: each a claim name or a
// dotted path into nested objects, their values joined without repeats.
func (p *prov) groupsOf(claims map[string]any) []string {
	var out []string
	for _, name := range append([]string{p.cfg.GroupsClaim}, p.cfg.ExtraGroupsClaims...) {
		for _, g := range stringsAt(claims, name) {
			if !slices.Contains(out, g) {
				out = append(out, g)
			}
		}
	}
	return out
}

// stringsAt is claim.Strings of the value at path: a claim name, or, when
// no claim has that very name, a dotted path into nested objects.
func stringsAt(claims map[string]any, path string) []string {
	if v, ok := claims[path]; ok {
		return claim.StringsOf(v)
	}
	parts := strings.Split(path, ".")
	var cur any = claims
	for _, part := range parts {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return claim.StringsOf(cur)
}
