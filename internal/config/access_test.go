package config

import (
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/authz"
)

const validRules = `
email_domains: [example.com]
skip:
  - path: /healthz
rules:
  - name: public
    hosts: ["App.Example.com."]
    paths: [/public]
    action: allow
  - hosts: ["*.Example.COM"]
    path_regex: ^/admin(/|$)
    methods: [post, get]
    client_cidrs: [10.0.0.0/8, 192.168.1.1]
    action: require
    require:
      emails: [Boss@Example.com]
      email_domains: [.partner.org]
      groups: [admins]
      claims: {role: [admin]}
  - action: deny
`

func TestPolicyFileCompiles(t *testing.T) {
	c := Default()
	p, err := c.PolicyFromFile([]byte(validRules))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Rules) != 3 || len(p.Skip) != 1 {
		t.Fatalf("policy = %+v", p)
	}
	r0, r1 := p.Rules[0], p.Rules[1]
	if r0.Name != "public" || r0.Hosts[0] != "app.example.com" || r0.Action != authz.ActionAllow {
		t.Errorf("rule 0 = %+v", r0)
	}
	if r1.Name != "rules[1]" || r1.Hosts[0] != "*.example.com" || r1.Methods[0] != "POST" || r1.PathRegexp == nil ||
		r1.Sources[1] != netip.MustParsePrefix("192.168.1.1/32") || r1.Action != authz.ActionRequire {
		t.Errorf("rule 1 = %+v", r1)
	}
	if _, ok := r1.Require.Emails["boss@example.com"]; !ok || r1.Require.EmailDomains[0] != "partner.org" || r1.Require.Claims["role"][0] != "admin" {
		t.Errorf("require = %+v", r1.Require)
	}
	if p.Rules[2].Action != authz.ActionDeny {
		t.Errorf("rule 2 = %+v", p.Rules[2])
	}
	id := &authz.Identity{Email: "x@other.org", EmailVerified: true, Claims: map[string][]string{"role": {"admin"}}}
	d := authz.Decide(p, &authz.Request{Method: "GET", Scheme: "https", Host: "x.example.com", Path: "/admin", ClientIP: netip.MustParseAddr("10.1.1.1")}, authz.ValidSession, id)
	if d.Outcome != authz.Allow || d.Rule != "rules[1]" {
		t.Errorf("decision %v by %s", d.Outcome, d.Rule)
	}
}

const brokenRules = `
rules:
  - name: a
    hosts: ["", "*.", "a.*.com", "http://x", "a..b"]
    paths: [api, /a/../b, /a//b, /a%2fb]
    path_regex: "("
    methods: ["GE T"]
    client_cidrs: [10.0.0.0/33]
    action: permit
  - name: a
    action: require
  - action: allow
    require: {groups: [x]}
  - action: require
    require: {emails: [a@b@c], email_domains: ["a b"], claims: {"": [x], k: []}}
  - {}
unknown: 1
`

func TestPolicyErrorsByPath(t *testing.T) {
	c := Default()
	_, err := c.PolicyFromFile([]byte(`
policy_file: x
bearer: {enabled: true}
rules:
  - name: a
    hosts: ["", "*.", "a.*.com", "http://x", "a..b"]
    paths: [api, /a/../b, /a//b, /a%2fb]
    path_regex: "("
    methods: ["GE T"]
    client_cidrs: [10.0.0.0/33]
    action: permit
  - name: a
    action: require
  - action: allow
    require: {groups: [x]}
  - action: require
    require: {emails: [a@b@c], email_domains: ["a b"], claims: {"": [x], k: []}}
`))
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("want Errors, got %v", err)
	}
	// Decoding problems stop first; fix them and see the rest.
	for _, want := range []string{"policy_file: only in the main configuration", "bearer: only in the main configuration"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	_, err = c.PolicyFromFile([]byte(brokenRules))
	msg := err.Error()
	if !strings.Contains(msg, "unknown: unknown key") {
		t.Errorf("unknown key not reported: %s", msg)
	}
	_, err = c.PolicyFromFile([]byte(strings.Replace(brokenRules, "unknown: 1", "", 1)))
	msg = err.Error()
	for _, want := range []string{
		"rules[0].hosts[0]: must be a host", "rules[0].hosts[1]", "rules[0].hosts[2]", "rules[0].hosts[3]", "rules[0].hosts[4]",
		"rules[0].paths[0]: must be a normalized path", "rules[0].paths[1]", "rules[0].paths[2]", "rules[0].paths[3]",
		"rules[0].path_regex: not a valid regular expression",
		"rules[0].methods[0]: not an HTTP method",
		"rules[0].client_cidrs[0]: not an IP address or CIDR",
		"rules[0].action: must be allow, authenticate, require or deny",
		`rules[1].name: "a" is already the name of rules[0]`,
		"rules[1].require: required for action require",
		"rules[2].require: only used with action require",
		"rules[3].require.emails[0]: must be one email address",
		"rules[3].require.email_domains[0]: must be a domain",
		`rules[3].require.claims: claim ""`, `rules[3].require.claims: claim "k"`,
		"rules[4].action: required",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
}

func TestMainConfigWithPolicyFile(t *testing.T) {
	base, err := os.ReadFile("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The decision keys move to the policy file.
	main := strings.Split(string(base), "access:")[0]
	pf := writeFile(t, validRules)
	c, err := Load(writeFile(t, main+"access:\n  policy_file: "+pf+"\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if p, err := c.Policy(); err != nil || len(p.Rules) != 3 || p.LoginURL != "https://auth.example.com/oauth2/start" {
		t.Errorf("policy from file = %+v, %v", p, err)
	}
	// LoadPolicy reads the file again: a change shows, a broken file errs.
	if err := os.WriteFile(pf, []byte("rules: [{action: deny}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if p, err := c.LoadPolicy(); err != nil || len(p.Rules) != 1 {
		t.Errorf("reload: %v %+v", err, p)
	}
	if err := os.WriteFile(pf, []byte("rules: [{action: maybe}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.LoadPolicy(); err == nil || !strings.Contains(err.Error(), "rules[0].action") {
		t.Errorf("broken policy file: %v", err)
	}

	// Both in the main file and a policy file: refused.
	_, err = Load(writeFile(t, string(base)+"  policy_file: "+pf+"\n"), env(nil))
	if err == nil || !strings.Contains(err.Error(), "access.policy_file: with a policy file") {
		t.Errorf("got %v", err)
	}
	// A broken policy file stops startup, naming file and field.
	_, err = Load(writeFile(t, main+"access:\n  policy_file: "+pf+"\n"), env(nil))
	if err == nil || !strings.Contains(err.Error(), "access.policy_file: "+pf+": rules[0].action") {
		t.Errorf("got %v", err)
	}
	_, err = Load(writeFile(t, main+"access:\n  policy_file: /nonexistent/p.yaml\n"), env(nil))
	if err == nil || !strings.Contains(err.Error(), "access.policy_file: policy file: /nonexistent/p.yaml: no such file") {
		t.Errorf("got %v", err)
	}
}

func TestRulesInMainConfig(t *testing.T) {
	base, _ := os.ReadFile("testdata/valid.yaml")
	c, err := Load(writeFile(t, string(base)+`  rules:
    - hosts: [api.example.com]
      action: authenticate
  bearer:
    enabled: true
    audiences: [https://api.example.com]
    issuers:
      - issuer_url: https://ci.example.com
        audiences: [gatehouse-ci]
        jwks_url: https://ci.example.com/keys
headers:
  access_token: true
  authorization: true
  token: id
assertion:
  enabled: true
  key_files: [a.pem, b.pem]
`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Policy()
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Rules) != 1 || p.Headers.AccessToken != AccessTokenHeader || p.Headers.Authorization != "Authorization" || p.Headers.Assertion != "X-Gatehouse-Assertion" {
		t.Errorf("policy = %+v", p)
	}
	is := c.BearerIssuers()
	if len(is) != 2 || is[0].IssuerURL != "https://login.example.com" || is[0].Audiences[0] != "https://api.example.com" || is[1].JWKSURL == "" {
		t.Errorf("issuers = %+v", is)
	}
	if is[0].ClientID != "gatehouse" || is[1].ClientID != "" {
		t.Errorf("client IDs = %q, %q; want the login client for the provider only", is[0].ClientID, is[1].ClientID)
	}
	if c.Access.Bearer.Timeout != 2*time.Second {
		t.Errorf("access.bearer.timeout = %v, want 2s by default", c.Access.Bearer.Timeout)
	}
	if c.AssertionIssuer() != "https://auth.example.com" || c.Assertion.Lifetime.Seconds() != 60 || len(c.Assertion.AssertionKeyFiles()) != 2 {
		t.Errorf("assertion = %+v", c.Assertion)
	}

	_, err = Load(writeFile(t, string(base)+`  bearer:
    issuers:
      - issuer_url: not-a-url
      - issuer_url: https://x.example.com
        jwks_url: ftp://x
    cache_size: 0
headers:
  token: refresh
  email: X-Gatehouse-Assertion
assertion:
  enabled: true
  lifetime: 1s
`), env(nil))
	msg := err.Error()
	for _, want := range []string{
		"access.bearer.issuers[0].issuer_url: must be an absolute http(s) URL",
		"access.bearer.issuers[0].audiences: required",
		"access.bearer.issuers[1].jwks_url: must be an absolute",
		"access.bearer.cache_size: must be positive",
		`headers.token: must be "access" or "id"`,
		"assertion.lifetime: must be between 10s and 1h",
		"assertion.key_file: required when assertion.enabled",
		"assertion.header: same header as headers.email",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
}

// TestBearerNeedsAPIAudiences: the provider's tokens are trusted only for
// audiences named explicitly, never oidc.client_id (the audience of the ID
// tokens a sign-out URL exposes), and the check deadline stays below the
// shipped proxies' auth timeouts.
func TestBearerNeedsAPIAudiences(t *testing.T) {
	base, _ := os.ReadFile("testdata/valid.yaml")
	for name, tc := range map[string]struct{ yaml, want string }{
		"enabled without audiences": {"  bearer:\n    enabled: true\n",
			"access.bearer.audiences: required when access.bearer.enabled"},
		"client ID as an audience": {"  bearer:\n    enabled: true\n    audiences: [api, gatehouse]\n",
			"access.bearer.audiences[1]: is oidc.client_id"},
		"provider listed as an issuer with the client ID": {"  bearer:\n    issuers:\n      - issuer_url: https://login.example.com\n        audiences: [gatehouse]\n",
			"access.bearer.issuers[0].audiences[0]: is oidc.client_id"},
		"no timeout": {"  bearer:\n    enabled: true\n    audiences: [api]\n    timeout: 0s\n",
			"access.bearer.timeout: must be a positive duration"},
		"timeout past nginx's": {"  bearer:\n    enabled: true\n    audiences: [api]\n    timeout: 5s\n",
			"access.bearer.timeout: must be at most 4s"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(writeFile(t, string(base)+tc.yaml), env(nil))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}

	// The provider listed under issuers (bearer.enabled off) is still known
	// as the login client's issuer.
	c, err := Load(writeFile(t, string(base)+"  bearer:\n    issuers:\n      - issuer_url: https://login.example.com\n        audiences: [api]\n    timeout: 500ms\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if is := c.BearerIssuers(); len(is) != 1 || is[0].ClientID != "gatehouse" || c.Access.Bearer.Timeout != 500*time.Millisecond {
		t.Errorf("issuers = %+v, timeout %v", is, c.Access.Bearer.Timeout)
	}
}
