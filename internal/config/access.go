package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse/gatehouse/internal/authz"
)

// AccessTokenHeader is the upstream header headers.access_token enables.
const AccessTokenHeader = authz.DefaultAccessTokenHeader

// maxPolicyFileSize bounds a policy file; a larger one is refused.
const maxPolicyFileSize = 4 << 20

// validateAccess checks the decision keys of a (file's) access section.
// prefix starts every path: "access." in the main configuration, "" in a
// policy file.
func validateAccess(errs *Errors, prefix string, a *Access) {
	checkDomains(errs, prefix+"email_domains", a.EmailDomains)
	checkEmails(errs, prefix+"emails", a.Emails)
	for i, r := range a.Skip {
		p := indexPath(prefix+"skip", i)
		if len(r.Methods) == 0 && r.Host == "" && r.Path == "" && r.PathRegex == "" {
			errs.add(p, "must set at least one of methods, host, path, path_regex")
		}
		if r.Path != "" && !strings.HasPrefix(r.Path, "/") {
			errs.add(p+".path", "must start with /")
		}
		checkRegexp(errs, p+".path_regex", r.PathRegex)
		checkMethods(errs, p+".methods", r.Methods)
	}
	names := map[string]string{}
	for i := range a.Rules {
		r := &a.Rules[i]
		p := indexPath(prefix+"rules", i)
		if r.Name != "" {
			if other, dup := names[r.Name]; dup {
				errs.add(p+".name", "%q is already the name of %s", r.Name, other)
			}
			names[r.Name] = p
		}
		for j, h := range r.Hosts {
			if _, ok := hostPattern(h); !ok {
				errs.add(indexPath(p+".hosts", j), `must be a host (app.example.com) or "*.example.com", not %q`, h)
			}
		}
		for j, path := range r.Paths {
			if n, ok := authz.NormalizePath(path); !ok || n != path {
				errs.add(indexPath(p+".paths", j), "must be a normalized path starting with / (no //, . or .. segments, no escapes), not %q", path)
			}
		}
		checkRegexp(errs, p+".path_regex", r.PathRegex)
		checkMethods(errs, p+".methods", r.Methods)
		for j, c := range r.ClientCIDRs {
			if _, err := parsePrefix(c); err != nil {
				errs.add(indexPath(p+".client_cidrs", j), "not an IP address or CIDR: %q", c)
			}
		}
		action, ok := authz.ParseAction(r.Action)
		switch {
		case r.Action == "":
			errs.add(p+".action", "required: allow, authenticate, require or deny")
		case !ok:
			errs.add(p+".action", "must be allow, authenticate, require or deny, not %q", r.Action)
		}
		q := r.Require
		empty := len(q.Emails) == 0 && len(q.EmailDomains) == 0 && len(q.Groups) == 0 && len(q.Claims) == 0
		switch {
		case action == authz.ActionRequire && empty:
			errs.add(p+".require", "required for action require: at least one of emails, email_domains, groups, claims")
		case ok && action != authz.ActionRequire && !empty:
			errs.add(p+".require", "only used with action require")
		}
		checkEmails(errs, p+".require.emails", q.Emails)
		checkDomains(errs, p+".require.email_domains", q.EmailDomains)
		for name, values := range q.Claims {
			if name == "" || len(values) == 0 {
				errs.add(p+".require.claims", "claim %q needs a non-empty name and at least one value", name)
			}
		}
	}
}

func validateBearer(errs *Errors, c *Config) {
	b := &c.Access.Bearer
	if !b.Enabled && len(b.Issuers) == 0 {
		return
	}
	if b.Enabled && len(b.Audiences) == 0 {
		errs.add("access.bearer.audiences", "required when access.bearer.enabled: the audiences of the APIs whose access tokens are accepted (not oidc.client_id)")
	}
	checkAPIAudiences(errs, "access.bearer.audiences", b.Audiences, c.OIDC.ClientID)
	for i, is := range b.Issuers {
		p := indexPath("access.bearer.issuers", i)
		required(errs, p+".issuer_url", is.IssuerURL)
		if is.IssuerURL != "" {
			checkURL(errs, p+".issuer_url", is.IssuerURL)
		}
		if is.IssuerURL == c.OIDC.IssuerURL && b.Enabled {
			errs.add(p+".issuer_url", "is oidc.issuer_url, already trusted through access.bearer.enabled; set access.bearer.audiences instead")
		}
		if len(is.Audiences) == 0 {
			errs.add(p+".audiences", "required: the audiences a token must be issued for")
		}
		clientID := ""
		if is.IssuerURL == c.OIDC.IssuerURL {
			clientID = c.OIDC.ClientID
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

func validateAssertion(errs *Errors, a *Assertion) {
	if !a.Enabled {
		return
	}
	if a.Lifetime < 10*time.Second || a.Lifetime > time.Hour {
		errs.add("assertion.lifetime", "must be between 10s and 1h")
	}
	switch {
	case a.KeyFile != "" && len(a.KeyFiles) > 0:
		errs.add("assertion.key_files", "set either assertion.key_file or assertion.key_files, not both")
	case a.KeyFile == "" && len(a.KeyFiles) == 0:
		errs.add("assertion.key_file", "required when assertion.enabled (a PEM EC P-256 key: openssl ecparam -name prime256v1 -genkey -noout -out assertion.pem)")
	}
	for i, f := range a.KeyFiles {
		required(errs, indexPath("assertion.key_files", i), f)
	}
}

func checkDomains(errs *Errors, path string, ds []string) {
	for i, d := range ds {
		if d == "" || strings.ContainsAny(d, "@ /") {
			errs.add(indexPath(path, i), "must be a domain such as example.com, or *")
		}
	}
}

func checkEmails(errs *Errors, path string, es []string) {
	for i, e := range es {
		if strings.Count(e, "@") != 1 || strings.HasPrefix(e, "@") || strings.HasSuffix(e, "@") {
			errs.add(indexPath(path, i), "must be one email address, not %q", e)
		}
	}
}

func checkRegexp(errs *Errors, path, re string) {
	if re == "" {
		return
	}
	if _, err := authz.CompilePathPattern(re); err != nil {
		errs.add(path, "not a valid regular expression: %v", err)
	}
}

// mustPathPattern compiles a path_regex that checkRegexp accepted.
func mustPathPattern(re string) *authz.PathPattern {
	pp, err := authz.CompilePathPattern(re)
	if err != nil {
		panic("config: path_regex was not validated: " + err.Error())
	}
	return pp
}

func checkMethods(errs *Errors, path string, ms []string) {
	for j, m := range ms {
		if !validToken(m) {
			errs.add(indexPath(path, j), "not an HTTP method: %q", m)
		}
	}
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

// hasDecisionKeys reports whether a sets any key a policy file may hold.
func (a *Access) hasDecisionKeys() bool {
	return len(a.EmailDomains) > 0 || len(a.Emails) > 0 || len(a.Groups) > 0 ||
		a.AllowAnyAuthenticated || len(a.Skip) > 0 || len(a.Rules) > 0
}

// loadPolicyFile reads access.policy_file into c.Access during Load.
func loadPolicyFile(c *Config, errs *Errors) {
	file := c.Access.PolicyFile
	if file == "" {
		return
	}
	if c.Access.hasDecisionKeys() {
		errs.add("access.policy_file", "with a policy file, email_domains, emails, groups, allow_any_authenticated, skip and rules belong in it, not in the main configuration")
		return
	}
	a, err := LoadPolicyFile(file)
	if err != nil {
		var fe Errors
		if errors.As(err, &fe) {
			for _, e := range fe {
				errs.add("access.policy_file", "%s: %s", file, e.Error())
			}
			return
		}
		errs.add("access.policy_file", "%v", err)
		return
	}
	c.Access.EmailDomains, c.Access.Emails, c.Access.Groups = a.EmailDomains, a.Emails, a.Groups
	c.Access.AllowAnyAuthenticated, c.Access.Skip, c.Access.Rules = a.AllowAnyAuthenticated, a.Skip, a.Rules
}

// LoadPolicyFile reads and validates a policy file: a YAML mapping with the
// decision keys of the access section (email_domains, emails, groups,
// allow_any_authenticated, skip, rules). The error, when it is about the
// content, wraps an Errors naming every problem by its path in the file.
func LoadPolicyFile(path string) (*Access, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read policy file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPolicyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read policy file: %w", err)
	}
	if len(data) > maxPolicyFileSize {
		return nil, fmt.Errorf("policy file %s: larger than %d bytes", path, maxPolicyFileSize)
	}
	return ParsePolicy(data)
}

// ParsePolicy decodes and validates the content of a policy file.
func ParsePolicy(data []byte) (*Access, error) {
	var a Access
	var errs Errors
	var root yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&root); err != nil && !errors.Is(err, io.EOF) {
		errs.add("(file)", "not valid YAML: %v", err)
	} else if len(root.Content) > 0 {
		decodeNode(root.Content[0], reflect.ValueOf(&a).Elem(), "", &errs)
	}
	if a.PolicyFile != "" {
		errs.add("policy_file", "only in the main configuration")
	}
	if !reflect.DeepEqual(a.Bearer, Bearer{}) {
		errs.add("bearer", "only in the main configuration (access.bearer)")
	}
	if len(errs) == 0 {
		validateAccess(&errs, "", &a)
	}
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Path < errs[j].Path })
		return nil, errs
	}
	return &a, nil
}

// LoadPolicy builds the current policy: from access.policy_file, read
// again, when it is set (for hot reload), else from the configuration.
func (c *Config) LoadPolicy() (*authz.Policy, error) {
	if c.Access.PolicyFile == "" {
		return c.Policy(), nil
	}
	a, err := LoadPolicyFile(c.Access.PolicyFile)
	if err != nil {
		return nil, fmt.Errorf("policy file %s: %w", c.Access.PolicyFile, err)
	}
	return c.PolicyFor(a), nil
}

// PolicyFromFile compiles the content of a policy file (as read by a
// reloader) with the login URL and header names of c.
func (c *Config) PolicyFromFile(data []byte) (*authz.Policy, error) {
	a, err := ParsePolicy(data)
	if err != nil {
		return nil, err
	}
	return c.PolicyFor(a), nil
}

// PolicyFor compiles the decision keys of a, which must have been
// validated (by Load or LoadPolicyFile), into a policy snapshot, with the
// login URL, header names and oidc.allow_unverified_email of c.
func (c *Config) PolicyFor(a *Access) *authz.Policy {
	p := &authz.Policy{
		LoginURL:              c.LoginURL(),
		AllowAnyAuthenticated: a.AllowAnyAuthenticated,
		AllowUnverifiedEmail:  c.OIDC.AllowUnverifiedEmail,
		EmailDomains:          lowerDomains(a.EmailDomains),
		Emails:                lowerSet(a.Emails),
		Groups:                set(a.Groups),
		Headers: authz.HeaderNames{
			User:              c.Headers.User,
			Email:             c.Headers.Email,
			Groups:            c.Headers.Groups,
			PreferredUsername: c.Headers.PreferredUsername,
		},
	}
	if c.Headers.AccessToken {
		p.Headers.AccessToken = AccessTokenHeader
	}
	if c.Headers.Authorization {
		p.Headers.Authorization = "Authorization"
	}
	if c.Assertion.Enabled {
		p.Headers.Assertion = c.Assertion.Header
	}
	for _, r := range a.Skip {
		rt := authz.Route{Host: authz.CanonicalHost(r.Host), PathPrefix: r.Path, Methods: upper(r.Methods)}
		if r.PathRegex != "" {
			rt.PathRegexp = mustPathPattern(r.PathRegex)
		}
		p.Skip = append(p.Skip, rt)
	}
	for i, r := range a.Rules {
		rl := authz.Rule{Name: r.Name, Paths: r.Paths, Methods: upper(r.Methods)}
		if rl.Name == "" {
			rl.Name = indexPath("rules", i)
		}
		rl.Action, _ = authz.ParseAction(r.Action) // validated
		for _, h := range r.Hosts {
			hp, _ := hostPattern(h)
			rl.Hosts = append(rl.Hosts, hp)
		}
		if r.PathRegex != "" {
			rl.PathRegexp = mustPathPattern(r.PathRegex)
		}
		for _, s := range r.ClientCIDRs {
			pf, _ := parsePrefix(s) // validated
			rl.Sources = append(rl.Sources, pf)
		}
		if rl.Action == authz.ActionRequire {
			rl.Require = authz.Requirement{
				Emails:       lowerSet(r.Require.Emails),
				EmailDomains: lowerDomains(r.Require.EmailDomains),
				Groups:       set(r.Require.Groups),
				Claims:       r.Require.Claims,
			}
		}
		p.Rules = append(p.Rules, rl)
	}
	return p
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

func upper(ms []string) []string {
	var out []string
	for _, m := range ms {
		out = append(out, strings.ToUpper(m))
	}
	return out
}

func lowerDomains(ds []string) []string {
	var out []string
	for _, d := range ds {
		out = append(out, strings.ToLower(strings.TrimPrefix(d, ".")))
	}
	return out
}

func lowerSet(ss []string) map[string]struct{} {
	m := make(map[string]struct{}, len(ss))
	for _, s := range ss {
		m[strings.ToLower(s)] = struct{}{}
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

// StandalonePolicy compiles a policy file's decision keys with the default
// login URL and header names, for tools that check a policy without the
// main configuration (gatehouse policy test --policy).
func StandalonePolicy(a *Access) *authz.Policy {
	c := Default()
	return c.PolicyFor(a)
}
