package config

import (
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/internal/authz"
)

// AccessTokenHeader is the upstream header headers.access_token enables.
const AccessTokenHeader = authz.DefaultAccessTokenHeader

// CompilePolicy validates the decision keys of a (a policy file's content,
// or an access section) and compiles them, with the login URL, header names
// and oidc.allow_unverified_email of c, into a policy snapshot. Checking
// and compiling are one step: nothing is compiled that was not checked.
// Every problem is returned, named by its key as a policy file spells it
// ("rules[2].hosts[0]"); the policy is nil when there is any.
func (c *Config) CompilePolicy(a *Access) (*authz.Policy, Errors) {
	return c.compilePolicy("", a)
}

// compilePolicy is CompilePolicy with prefix before every path: "access."
// in the main configuration, "" in a policy file.
func (c *Config) compilePolicy(prefix string, a *Access) (*authz.Policy, Errors) {
	var errs Errors
	p := &authz.Policy{
		LoginURL:              c.LoginURL(),
		AllowAnyAuthenticated: a.AllowAnyAuthenticated,
		AllowUnverifiedEmail:  c.anyAllowsUnverified(),
		DefaultProvider:       c.LoginProviders()[0].ID,
		Providers:             c.providerIDs(),
		EmailDomains:          compileDomains(&errs, prefix+"email_domains", a.EmailDomains),
		Emails:                compileEmails(&errs, prefix+"emails", a.Emails),
		Groups:                set(a.Groups),
		Headers:               c.headerNames(),
	}
	for i := range a.Skip {
		p.Skip = append(p.Skip, compileSkip(&errs, indexPath(prefix+"skip", i), &a.Skip[i]))
	}
	names := map[string]string{}
	for i := range a.Rules {
		path := indexPath(prefix+"rules", i)
		checkRuleName(&errs, names, path, a.Rules[i].Name)
		p.Rules = append(p.Rules, c.compileRule(&errs, path, i, &a.Rules[i]))
	}
	if len(errs) > 0 {
		sortErrors(errs)
		return nil, errs
	}
	return p, nil
}

// headerNames returns the upstream identity headers c configures.
func (c *Config) headerNames() authz.HeaderNames {
	h := authz.HeaderNames{
		User:              c.Headers.User,
		Email:             c.Headers.Email,
		Groups:            c.Headers.Groups,
		PreferredUsername: c.Headers.PreferredUsername,
	}
	if c.Headers.AccessToken {
		h.AccessToken = AccessTokenHeader
	}
	if c.Headers.Authorization {
		h.Authorization = "Authorization"
	}
	if c.Assertion.Enabled {
		h.Assertion = c.Assertion.Header
	}
	return h
}

// compileSkip checks and compiles one skip route.
func compileSkip(errs *Errors, path string, r *SkipRoute) authz.Route {
	if len(r.Methods) == 0 && r.Host == "" && r.Path == "" && r.PathRegex == "" {
		errs.add(path, "must set at least one of methods, host, path, path_regex")
	}
	if r.Path != "" && !strings.HasPrefix(r.Path, "/") {
		errs.add(path+".path", "must start with /")
	}
	return authz.Route{
		Host:       authz.CanonicalHost(r.Host),
		PathPrefix: r.Path,
		Methods:    compileMethods(errs, path+".methods", r.Methods),
		PathRegexp: compileRegexp(errs, path+".path_regex", r.PathRegex),
	}
}

// checkRuleName refuses a rule name already used; names maps each name
// seen to the path of its rule.
func checkRuleName(errs *Errors, names map[string]string, path, name string) {
	if name == "" {
		return
	}
	if other, dup := names[name]; dup {
		errs.add(path+".name", "%q is already the name of %s", name, other)
	}
	names[name] = path
}

// compileRule checks and compiles the i-th rule, found at path.
func (c *Config) compileRule(errs *Errors, path string, i int, r *Rule) authz.Rule {
	rl := authz.Rule{
		Name:       r.Name,
		Hosts:      compileHosts(errs, path+".hosts", r.Hosts),
		Paths:      compilePaths(errs, path+".paths", r.Paths),
		PathRegexp: compileRegexp(errs, path+".path_regex", r.PathRegex),
		Methods:    compileMethods(errs, path+".methods", r.Methods),
		Sources:    compilePrefixes(errs, path+".client_cidrs", r.ClientCIDRs),
		Action:     compileAction(errs, path+".action", r.Action),
		Providers:  compileProviders(errs, path+".providers", r.Providers, c.providerIDs()),
	}
	if rl.Name == "" {
		rl.Name = indexPath("rules", i)
	}
	rl.Require = compileRequire(errs, path+".require", rl.Action, &r.Require)
	if len(rl.Providers) > 0 && (rl.Action == authz.ActionAllow || rl.Action == authz.ActionDeny) {
		errs.add(path+".providers", "only for action authenticate or require: action %s does not look at who signed in", rl.Action)
	}
	return rl
}

// compileProviders checks that a rule's providers are configured ones.
func compileProviders(errs *Errors, path string, ids, known []string) []string {
	for i, id := range ids {
		if !slices.Contains(known, id) {
			errs.add(indexPath(path, i), "%q is not a configured provider (%s)", id, strings.Join(known, ", "))
		}
	}
	return slices.Clone(ids)
}

// compileAction returns the action named s; 0 (with an error) when s names
// none.
func compileAction(errs *Errors, path, s string) authz.Action {
	action, ok := authz.ParseAction(s)
	switch {
	case s == "":
		errs.add(path, "required: allow, authenticate, require or deny")
	case !ok:
		errs.add(path, "must be allow, authenticate, require or deny, not %q", s)
	}
	return action
}

// compileRequire checks a rule's require section against its action (0
// when the action is invalid) and compiles it; only action require keeps
// it.
func compileRequire(errs *Errors, path string, action authz.Action, q *Require) authz.Requirement {
	empty := len(q.Emails) == 0 && len(q.EmailDomains) == 0 && len(q.Groups) == 0 && len(q.Claims) == 0
	switch {
	case action == authz.ActionRequire && empty:
		errs.add(path, "required for action require: at least one of emails, email_domains, groups, claims")
	case action != 0 && action != authz.ActionRequire && !empty:
		errs.add(path, "only used with action require")
	}
	req := authz.Requirement{
		Emails:       compileEmails(errs, path+".emails", q.Emails),
		EmailDomains: compileDomains(errs, path+".email_domains", q.EmailDomains),
		Groups:       set(q.Groups),
		Claims:       q.Claims,
	}
	for name, values := range q.Claims {
		if name == "" || len(values) == 0 {
			errs.add(path+".claims", "claim %q needs a non-empty name and at least one value", name)
		}
	}
	if action != authz.ActionRequire {
		return authz.Requirement{}
	}
	return req
}

// compileHosts returns the canonical forms of rule hosts.
func compileHosts(errs *Errors, path string, hosts []string) []string {
	var out []string
	for i, h := range hosts {
		hp, ok := hostPattern(h)
		if !ok {
			errs.add(indexPath(path, i), `must be a host (app.example.com) or "*.example.com", not %q`, h)
		}
		out = append(out, hp)
	}
	return out
}

// hostPattern returns the canonical form of a rule host: an exact host or
// "*." followed by one.
func hostPattern(h string) (string, bool) {
	rest, wild := strings.CutPrefix(h, "*.")
	if rest == "" || strings.ContainsAny(rest, "*/:@\\ ?#[]") {
		return "", false
	}
	c := authz.CanonicalHost(rest)
	if c == "" || strings.HasPrefix(c, ".") || strings.Contains(c, "..") {
		return "", false
	}
	if wild {
		return "*." + c, true
	}
	return c, true
}

// compilePaths checks that rule paths are already normalized, as the
// request paths they are compared with are.
func compilePaths(errs *Errors, path string, paths []string) []string {
	for i, p := range paths {
		if n, ok := authz.NormalizePath(p); !ok || n != p {
			errs.add(indexPath(path, i), "must be a normalized path starting with / (no //, . or .. segments, no escapes), not %q", p)
		}
	}
	return paths
}

// compileRegexp compiles a path_regex; nil when re is empty or invalid.
func compileRegexp(errs *Errors, path, re string) *authz.PathPattern {
	if re == "" {
		return nil
	}
	pp, err := authz.CompilePathPattern(re)
	if err != nil {
		errs.add(path, "not a valid regular expression: %v", err)
		return nil
	}
	return pp
}

// compileMethods returns the methods in upper case.
func compileMethods(errs *Errors, path string, ms []string) []string {
	var out []string
	for i, m := range ms {
		if !validToken(m) {
			errs.add(indexPath(path, i), "not an HTTP method: %q", m)
		}
		out = append(out, strings.ToUpper(m))
	}
	return out
}

// compilePrefixes parses client_cidrs: addresses or CIDRs.
func compilePrefixes(errs *Errors, path string, cidrs []string) []netip.Prefix {
	var out []netip.Prefix
	for i, s := range cidrs {
		pf, err := parsePrefix(s)
		if err != nil {
			errs.add(indexPath(path, i), "not an IP address or CIDR: %q", s)
		}
		out = append(out, pf)
	}
	return out
}

// compileDomains returns email domains in lower case without a leading dot.
func compileDomains(errs *Errors, path string, ds []string) []string {
	var out []string
	for i, d := range ds {
		if d == "" || strings.ContainsAny(d, "@ /") {
			errs.add(indexPath(path, i), "must be a domain such as example.com, or *")
		}
		out = append(out, strings.ToLower(strings.TrimPrefix(d, ".")))
	}
	return out
}

// compileEmails returns the set of lower-cased email addresses.
func compileEmails(errs *Errors, path string, es []string) map[string]struct{} {
	m := make(map[string]struct{}, len(es))
	for i, e := range es {
		if strings.Count(e, "@") != 1 || strings.HasPrefix(e, "@") || strings.HasSuffix(e, "@") {
			errs.add(indexPath(path, i), "must be one email address, not %q", e)
		}
		m[strings.ToLower(e)] = struct{}{}
	}
	return m
}

func set(ss []string) map[string]struct{} {
	m := make(map[string]struct{}, len(ss))
	for _, s := range ss {
		m[s] = struct{}{}
	}
	return m
}

// sortErrors orders errs by path, keeping the order of one path's problems.
func sortErrors(errs Errors) {
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Path < errs[j].Path })
}
