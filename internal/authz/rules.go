package authz

import (
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

// Action is what a Rule does with the requests it matches.
type Action uint8

// The rule actions.
const (
	// ActionAllow lets the request pass without a login and without identity.
	ActionAllow Action = iota + 1
	// ActionAuthenticate admits the users the policy's default allow-lists
	// (Policy.EmailDomains, Emails, Groups, AllowAnyAuthenticated) admit.
	ActionAuthenticate
	// ActionRequire admits the users the rule's own Requirement admits.
	ActionRequire
	// ActionDeny refuses the request with 403, signed in or not.
	ActionDeny
)

// String returns the action's name as written in the configuration.
func (a Action) String() string {
	switch a {
	case ActionAllow:
		return "allow"
	case ActionAuthenticate:
		return "authenticate"
	case ActionRequire:
		return "require"
	case ActionDeny:
		return "deny"
	}
	return "unknown"
}

// ParseAction returns the action named s ("allow", "authenticate",
// "require", "deny").
func ParseAction(s string) (Action, bool) {
	for a := ActionAllow; a <= ActionDeny; a++ {
		if a.String() == s {
			return a, true
		}
	}
	return 0, false
}

// Requirement admits a signed-in user who satisfies any one of its lists.
type Requirement struct {
	// Emails are lower-case verified addresses.
	Emails map[string]struct{}
	// EmailDomains are lower-case domains of verified addresses; "*" is any.
	EmailDomains []string
	// Groups admits members of any of these groups.
	Groups map[string]struct{}
	// Claims admits an identity whose claim (the key) has any of the values.
	Claims map[string][]string
}

// admits reports whether id satisfies any of the requirement's lists. An
// email counts only when verified, unless unverifiedOK.
func (q *Requirement) admits(id *Identity, unverifiedOK bool) bool {
	return q.admittedBy(id, unverifiedOK).ok
}

// admission names the allow-list entry that admitted an identity, for
// explanations: kind "group", "claim" (of the claim name), "email" or
// "email domain", and the value that matched.
type admission struct {
	kind, claim, value string
	ok                 bool
}

// admittedBy is admits, also naming the entry that admitted id. It
// allocates nothing.
func (q *Requirement) admittedBy(id *Identity, unverifiedOK bool) admission {
	for _, g := range id.Groups {
		if _, ok := q.Groups[g]; ok {
			return admission{kind: "group", value: g, ok: true}
		}
	}
	for name, want := range q.Claims {
		for _, v := range id.Claims[name] {
			if slices.Contains(want, v) {
				return admission{kind: "claim", claim: name, value: v, ok: true}
			}
		}
	}
	if !id.EmailVerified && !unverifiedOK {
		return admission{}
	}
	_, domain, ok := validEmail(id.Email)
	if !ok {
		return admission{}
	}
	if len(q.Emails) > 0 {
		if _, ok := q.Emails[lowerASCII(id.Email)]; ok {
			return admission{kind: "email", value: id.Email, ok: true}
		}
	}
	for _, d := range q.EmailDomains {
		if d == "*" || strings.EqualFold(d, domain) {
			return admission{kind: "email domain", value: domain, ok: true}
		}
	}
	return admission{}
}

// lowerASCII lower-cases s like strings.ToLower, allocating only when s
// has an upper-case ASCII letter or a non-ASCII byte.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' || s[i] >= 0x80 {
			return strings.ToLower(s)
		}
	}
	return s
}

// Rule is one entry of a policy's ordered rule list: when every condition
// it sets matches the request, its Action decides. Conditions left empty
// match every request. A Rule is built once per policy load (the regular
// expression compiled, hosts canonical) and only read afterwards.
type Rule struct {
	// Name labels the rule in decisions, logs and explanations.
	Name string
	// Hosts are canonical hosts (CanonicalHost); "*.example.com" matches
	// every subdomain of example.com at any depth, but not example.com.
	Hosts []string
	// Paths are path prefixes matched on segment boundaries: "/api" matches
	// "/api" and "/api/x" but not "/apiary"; "/api/" matches "/api/x" only.
	Paths []string
	// PathRegexp is matched against the path forms, never the query.
	PathRegexp *PathPattern
	// Methods are upper-case HTTP methods.
	Methods []string
	// Sources are the client address ranges the rule applies to.
	Sources []netip.Prefix
	// Action says what happens to a matching request.
	Action Action
	// Require is the rule's own allow-list, used by ActionRequire.
	Require Requirement
	// Providers, when set, are the IDs of the providers whose sessions
	// the rule accepts (authenticate and require rules only): a request
	// the rule matches, signed in through another provider, is refused
	// with 403 (ReasonProviderNotAccepted) whatever its allow-lists say.
	Providers []string
}

// acceptsProvider reports whether the rule accepts a session from the
// provider with this ID ("" is the policy's default provider).
func (rl *Rule) acceptsProvider(id, defaultID string) bool {
	if len(rl.Providers) == 0 {
		return true
	}
	if id == "" {
		id = defaultID
	}
	return slices.Contains(rl.Providers, id)
}

// Condition names the first condition of a rule a request failed.
type Condition uint8

// The rule conditions, in the order they are tested.
const (
	CondMatched Condition = iota
	CondMethod
	CondHost
	CondPath
	CondPathRegexp
	CondSource
)

// String names the condition as the configuration does.
func (c Condition) String() string {
	switch c {
	case CondMatched:
		return "matched"
	case CondMethod:
		return "methods"
	case CondHost:
		return "hosts"
	case CondPath:
		return "paths"
	case CondPathRegexp:
		return "path_regex"
	case CondSource:
		return "client_cidrs"
	}
	return "unknown"
}

// Match returns CondMatched when the rule matches the view v of a request
// from client, or the first condition that did not. host must be the
// request's CanonicalHost. Match allocates nothing.
func (rl *Rule) Match(v View, host string, client netip.Addr) Condition {
	if len(rl.Methods) > 0 && !slices.Contains(rl.Methods, v.Method) {
		return CondMethod
	}
	if len(rl.Hosts) > 0 && !hostMatchesAny(rl.Hosts, host) {
		return CondHost
	}
	if len(rl.Paths) > 0 && !pathMatchesAny(rl.Paths, v.Path, v.Fold) {
		return CondPath
	}
	if rl.PathRegexp != nil && !rl.PathRegexp.match(v.Path, v.Fold) {
		return CondPathRegexp
	}
	if len(rl.Sources) > 0 && !sourceMatchesAny(rl.Sources, client) {
		return CondSource
	}
	return CondMatched
}

// PathPattern is a compiled path_regex: the expression as written, for
// rules that open, and its case-insensitive twin, for rules that restrict.
type PathPattern struct {
	exact, fold *regexp.Regexp
}

// CompilePathPattern compiles a path regular expression (RE2 syntax).
func CompilePathPattern(expr string) (*PathPattern, error) {
	exact, err := regexp.Compile(expr)
	if err != nil {
		return nil, err
	}
	fold, err := regexp.Compile("(?i:" + expr + ")")
	if err != nil {
		return nil, err
	}
	return &PathPattern{exact: exact, fold: fold}, nil
}

// String returns the expression as written.
func (pp *PathPattern) String() string { return pp.exact.String() }

func (pp *PathPattern) match(path string, fold bool) bool {
	if fold {
		return pp.fold.MatchString(path)
	}
	return pp.exact.MatchString(path)
}

// HostMatches reports whether the canonical host matches pattern, an exact
// canonical host or "*.suffix".
func HostMatches(pattern, host string) bool {
	if strings.HasPrefix(pattern, "*.") {
		suffix := pattern[1:] // ".example.com"
		return len(host) > len(suffix) && strings.HasSuffix(host, suffix)
	}
	return pattern == host
}

func hostMatchesAny(patterns []string, host string) bool {
	for _, p := range patterns {
		if HostMatches(p, host) {
			return true
		}
	}
	return false
}

func pathMatchesAny(prefixes []string, path string, fold bool) bool {
	for _, p := range prefixes {
		if pathHasPrefix(path, p, fold) {
			return true
		}
	}
	return false
}

func sourceMatchesAny(prefixes []netip.Prefix, a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.Unmap()
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// matchRule returns the index of the first rule matching the request's
// canonical view, or -1.
func (p *Policy) matchRule(r *Request, host string) int {
	for i := range p.Rules {
		if p.Rules[i].Match(r.CanonicalView(), host, r.ClientIP) == CondMatched {
			return i
		}
	}
	return -1
}
