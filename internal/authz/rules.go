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
// email counts only when verified, or when unverifiedOK (the policy's
// AllowUnverifiedEmail).
func (q *Requirement) admits(id *Identity, unverifiedOK bool) bool {
	for _, g := range id.Groups {
		if _, ok := q.Groups[g]; ok {
			return true
		}
	}
	for name, want := range q.Claims {
		for _, v := range id.Claims[name] {
			if slices.Contains(want, v) {
				return true
			}
		}
	}
	if !id.EmailVerified && !unverifiedOK {
		return false
	}
	_, domain, ok := validEmail(id.Email)
	if !ok {
		return false
	}
	if len(q.Emails) > 0 {
		if _, ok := q.Emails[lowerASCII(id.Email)]; ok {
			return true
		}
	}
	for _, d := range q.EmailDomains {
		if d == "*" || strings.EqualFold(d, domain) {
			return true
		}
	}
	return false
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

// Check returns CondMatched when the rule matches the request, or the first
// condition that did not. host must be the request's CanonicalHost. A rule
// that restricts (deny, require, authenticate) matches a path when any of
// the request's path forms matches, whatever its letter case; a rule that
// opens (allow) only when every form matches exactly, so neither can be
// escaped or widened by what some upstream folds. Check allocates nothing.
func (rl *Rule) Check(r *Request, host string) Condition {
	open := rl.Action == ActionAllow
	if len(rl.Methods) > 0 && !matchMethods(r, open, rl.Methods) {
		return CondMethod
	}
	if len(rl.Hosts) > 0 && !hostMatchesAny(rl.Hosts, host) {
		return CondHost
	}
	if len(rl.Paths) > 0 && !matchPaths(r, open, func(p string, fold bool) bool { return pathMatchesAny(rl.Paths, p, fold) }) {
		return CondPath
	}
	if rl.PathRegexp != nil && !matchPaths(r, open, rl.PathRegexp.match) {
		return CondPathRegexp
	}
	if len(rl.Sources) > 0 && !sourceMatchesAny(rl.Sources, r.ClientIP) {
		return CondSource
	}
	return CondMatched
}

// matchMethods matches the request's method and the one a method-override
// header names (Request.MethodOverride) against methods: for a rule that
// opens, both must be listed; for one that restricts, either.
func matchMethods(r *Request, open bool, methods []string) bool {
	m := slices.Contains(methods, r.Method)
	if r.MethodOverride == "" || r.MethodOverride == r.Method {
		return m
	}
	o := slices.Contains(methods, r.MethodOverride)
	if open {
		return m && o
	}
	return m || o
}

// matchPaths applies match to the request's path forms: for a rule that
// opens, every form must match exactly; for one that restricts, any form
// may match, ignoring letter case.
func matchPaths(r *Request, open bool, match func(path string, fold bool) bool) bool {
	for _, p := range r.paths() {
		if m := match(p, !open); m != open {
			return m
		}
	}
	return open
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

// matchRule returns the index of the first rule matching the request, or -1.
func (p *Policy) matchRule(r *Request, host string) int {
	for i := range p.Rules {
		if p.Rules[i].Check(r, host) == CondMatched {
			return i
		}
	}
	return -1
}
