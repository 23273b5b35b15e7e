package authz

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// HeaderNames are the request headers that carry identity to the upstream.
// The first four are always sent; the others only when named.
type HeaderNames struct {
	User              string
	Email             string
	Groups            string
	PreferredUsername string
	// AccessToken, when set (usually DefaultAccessTokenHeader), carries
	// Identity.Token. When it is not, DefaultAccessTokenHeader is still
	// listed, empty, so a client-sent one is removed by every proxy.
	AccessToken string
	// Authorization, when set (always "Authorization"), carries
	// "Bearer " + Identity.Token.
	Authorization string
	// Assertion, when set (default "X-Gatehouse-Assertion"), carries the
	// signed identity assertion; Decide lists it with an empty value and
	// the caller that mints assertions fills it in (see SetUpstream).
	Assertion string
}

// DefaultAccessTokenHeader is the usual HeaderNames.AccessToken, the header
// oauth2-proxy users know. Decide lists it with an empty value when no
// access-token header is configured, so it never passes from the client.
const DefaultAccessTokenHeader = "X-Auth-Request-Access-Token"

// DefaultHeaderNames are the X-Auth-Request-* headers nginx and oauth2-proxy
// users expect.
func DefaultHeaderNames() HeaderNames {
	return HeaderNames{
		User:              "X-Auth-Request-User",
		Email:             "X-Auth-Request-Email",
		Groups:            "X-Auth-Request-Groups",
		PreferredUsername: "X-Auth-Request-Preferred-Username",
	}
}

// All returns the identity header names in the fixed order in which
// Decision.UpstreamHeaders lists them: the configured ones, and
// DefaultAccessTokenHeader when no access-token header is configured.
func (h HeaderNames) All() []string {
	token := h.AccessToken
	if token == "" {
		token = DefaultAccessTokenHeader
	}
	all := []string{h.User, h.Email, h.Groups, h.PreferredUsername, token}
	for _, n := range []string{h.Authorization, h.Assertion} {
		if n != "" {
			all = append(all, n)
		}
	}
	return all
}

// count is len(h.All()) without allocating.
func (h HeaderNames) count() int {
	n := 5 // the four, and AccessToken or DefaultAccessTokenHeader
	for _, s := range [...]string{h.Authorization, h.Assertion} {
		if s != "" {
			n++
		}
	}
	return n
}

// Route selects requests that need no login. Every non-empty field must
// match. Routes look at the path only, never the query or fragment.
type Route struct {
	Methods    []string     // upper-case; empty means any
	Host       string       // canonical host; empty means any
	PathPrefix string       // e.g. "/healthz"; empty means any
	PathRegexp *PathPattern // matched against the path forms only
}

// Match reports whether the view v of a request is selected by the route.
// host must be the request's CanonicalHost.
func (rt *Route) Match(v View, host string) bool { return rt.Check(v, host) == CondMatched }

// Check returns CondMatched when the route selects the view v, or the
// first condition that did not match. It allocates nothing.
func (rt *Route) Check(v View, host string) Condition {
	if len(rt.Methods) > 0 && !slices.Contains(rt.Methods, v.Method) {
		return CondMethod
	}
	if rt.Host != "" && rt.Host != host {
		return CondHost
	}
	if rt.PathPrefix != "" && !pathHasPrefix(v.Path, rt.PathPrefix, v.Fold) {
		return CondPath
	}
	if rt.PathRegexp != nil && !rt.PathRegexp.match(v.Path, v.Fold) {
		return CondPathRegexp
	}
	return CondMatched
}

// pathHasPrefix matches prefix on segment boundaries when prefix does not
// end in "/": "/api" matches "/api" and "/api/x" but not "/apiary". With
// fold, letter case is ignored.
func pathHasPrefix(path, prefix string, fold bool) bool {
	n := len(prefix) // bytes of path the prefix covers
	switch {
	case !fold:
		if !strings.HasPrefix(path, prefix) {
			return false
		}
	default:
		var ok bool
		if n, ok = prefixFold(path, prefix); !ok {
			return false
		}
	}
	if len(path) == n || strings.HasSuffix(prefix, "/") {
		return true
	}
	return path[n] == '/'
}

// prefixFold reports whether path starts with prefix under Unicode simple
// case folding (as strings.EqualFold compares), and how many bytes of
// path the prefix covers.
func prefixFold(path, prefix string) (int, bool) {
	i := 0
	for _, pr := range prefix {
		if i >= len(path) {
			return 0, false
		}
		r, size := utf8.DecodeRuneInString(path[i:])
		if r != pr && !equalFoldRune(r, pr) {
			return 0, false
		}
		i += size
	}
	return i, true
}

// equalFoldRune reports whether a and b are equal under simple folding.
func equalFoldRune(a, b rune) bool {
	for f := unicode.SimpleFold(a); f != a; f = unicode.SimpleFold(f) {
		if f == b {
			return true
		}
	}
	return false
}

// Policy is an immutable snapshot of who may pass. Build it once per
// configuration load and share it between requests.
type Policy struct {
	// LoginURL is where unauthenticated browsers are sent, e.g.
	// "https://auth.example.com/oauth2/start"; "?rd=<original URL>" is added.
	LoginURL string
	// Skip routes are allowed without a login, and without identity. They
	// are checked before Rules.
	Skip []Route
	// Rules are checked in order after Skip; the first that matches decides.
	// When none matches, the default allow-lists below decide.
	Rules []Rule
	// EmailDomains admits verified emails at these lower-case domains.
	// "*" admits every domain.
	EmailDomains []string
	// Emails admits these lower-case verified addresses.
	Emails map[string]struct{}
	// Groups admits members of any of these groups.
	Groups map[string]struct{}
	// AllowAnyAuthenticated admits every signed-in user; without it empty
	// allow-lists admit nobody.
	AllowAnyAuthenticated bool
	// AllowUnverifiedEmail lets an email the provider does not vouch for
	// (email_verified false or missing) match Emails and EmailDomains, here
	// and in every rule's Requirement (oidc.allow_unverified_email).
	AllowUnverifiedEmail bool
	// Headers names the identity headers sent upstream.
	Headers HeaderNames
	// DefaultProvider is the provider ID of an Identity whose Provider is
	// empty (sessions written before there were several providers), for
	// rules that name providers.
	DefaultProvider string
	// Providers, when set, are the IDs of the configured sign-in
	// providers: a session naming any other (a provider since removed
	// from the configuration) is refused like one a rule does not accept.
	// Bearer identities of issuers that are no sign-in provider (Provider
	// "bearer:...") are not sessions and pass.
	Providers []string
}

// knownProvider reports whether id (an Identity's Provider) is a
// configured provider, or no check applies.
func (p *Policy) knownProvider(id string) bool {
	return len(p.Providers) == 0 || id == "" || strings.HasPrefix(id, "bearer:") || slices.Contains(p.Providers, id)
}

// admits reports whether the identity is on the policy's default
// allow-lists.
func (p *Policy) admits(id *Identity) bool {
	if p.AllowAnyAuthenticated {
		return true
	}
	q := Requirement{Emails: p.Emails, EmailDomains: p.EmailDomains, Groups: p.Groups}
	return q.admits(id, p.AllowUnverifiedEmail)
}

// UsesClaims reports whether any rule requires a claim value, so that a
// caller knows whether Identity.Claims must be filled.
func (p *Policy) UsesClaims() bool {
	for i := range p.Rules {
		if len(p.Rules[i].Require.Claims) > 0 {
			return true
		}
	}
	return false
}
