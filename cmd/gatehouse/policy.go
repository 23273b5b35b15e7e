package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse/gatehouse/internal/assertion"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/bearer"
	"github.com/gatehouse/gatehouse/internal/check"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/policyfile"
	"github.com/gatehouse/gatehouse/internal/render"
)

const policyUsage = `Usage:
  gatehouse policy explain (--config FILE | --policy FILE) --url URL [--method M] [--email E] [--groups a,b] [--claim k=v]...
  gatehouse policy test    (--config FILE | --policy FILE) TESTFILE

explain prints which rule decides a request and why; test runs a YAML table
of expected verdicts (allow, login, deny) and exits 1 listing the failures.
Neither starts a server or contacts the provider.
`

// policyCmd runs "gatehouse policy explain|test".
func policyCmd(_ context.Context, args []string, stdout, stderr io.Writer, lookup func(string) (string, bool)) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, policyUsage)
		return errUsage
	}
	switch args[0] {
	case "explain":
		return policyExplain(args[1:], stdout, stderr, lookup)
	case "test":
		return policyTest(args[1:], stdout, stderr, lookup)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, policyUsage)
		return nil
	}
	fmt.Fprintf(stderr, "gatehouse policy: unknown command %q\n\n%s", args[0], policyUsage)
	return errUsage
}

// policySource is the --config / --policy pair every policy command takes.
type policySource struct{ config, policy *string }

func addPolicySource(fs *flag.FlagSet) policySource {
	return policySource{
		config: fs.String("config", "", "the gatehouse configuration file (access, with its policy_file if any)"),
		policy: fs.String("policy", "", "a policy file alone (as access.policy_file names), with default headers"),
	}
}

func (s policySource) load(lookup func(string) (string, bool), stderr io.Writer) (*authz.Policy, error) {
	switch {
	case (*s.config == "") == (*s.policy == ""):
		fmt.Fprintln(stderr, "gatehouse policy: give one of --config or --policy")
		return nil, errUsage
	case *s.config != "":
		cfg, err := config.Load(*s.config, lookup)
		if err != nil {
			return nil, err
		}
		return cfg.Policy()
	}
	// A policy file alone: the default login URL and header names.
	cfg := config.Default()
	cfg.Access.PolicyFile = *s.policy
	return cfg.LoadPolicy()
}

// claimFlags collects repeated --claim name=value flags.
type claimFlags map[string][]string

func (c claimFlags) String() string { return "" }

func (c claimFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return errors.New("want name=value")
	}
	c[k] = append(c[k], v)
	return nil
}

func policyExplain(args []string, stdout, stderr io.Writer, lookup func(string) (string, bool)) error {
	fs := newFlagSet("policy explain", "Prints which rule decides a request and why.", stderr)
	src := addPolicySource(fs)
	rawURL := fs.String("url", "", "the request URL, e.g. https://app.example.com/admin (required)")
	method := fs.String("method", "GET", "the request method")
	clientIP := fs.String("client-ip", "", "the client address, for client_cidrs")
	api := fs.Bool("api", false, "ask as an API client (401 instead of a login redirect)")
	var id identityFlags
	id.claims = claimFlags{}
	fs.StringVar(&id.email, "email", "", "the signed-in user's email; without --email, --user, --groups and --claim the request is anonymous")
	fs.BoolVar(&id.unverified, "email-unverified", false, "the email is not verified by the provider")
	fs.StringVar(&id.user, "user", "", "the signed-in user's name (default: the email)")
	fs.StringVar(&id.groups, "groups", "", "comma-separated groups")
	fs.Var(id.claims, "claim", "a claim as name=value (repeatable)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *rawURL == "" {
		fmt.Fprintln(stderr, "policy explain: --url is required")
		fs.Usage()
		return errUsage
	}
	p, err := src.load(lookup, stderr)
	if err != nil {
		return err
	}
	r, err := requestFor(*method, *rawURL, *clientIP, *api)
	if err != nil {
		return err
	}
	ident := id.identity()
	state := authz.NoSession
	if ident != nil {
		state = authz.ValidSession
	}
	d, steps := authz.Explain(p, r, state, ident)
	fmt.Fprintf(stdout, "request:  %s %s://%s%s", r.Method, r.Scheme, authz.CanonicalHost(r.Host), r.Path)
	if r.ClientIP.IsValid() {
		fmt.Fprintf(stdout, " from %s", r.ClientIP)
	}
	fmt.Fprintln(stdout)
	fmt.Fprintf(stdout, "identity: %s\n\n", describeIdentity(ident))
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	for _, s := range steps {
		label := s.Kind
		if s.Index >= 0 {
			label = fmt.Sprintf("%s[%d]", s.Kind, s.Index)
			if s.Kind == "rule" {
				label = fmt.Sprintf("rules[%d]", s.Index)
			}
		}
		name := ""
		if s.Name != "" && s.Name != label {
			name = fmt.Sprintf("%q", s.Name)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", label, name, s.Detail)
	}
	_ = tw.Flush()
	fmt.Fprintf(stdout, "\nverdict:  %s (%d, reason %s, decided by %s)\n", verdictOf(d), render.For(p, r, &d).Status, d.Reason, d.Rule)
	return nil
}

// identityFlags is a signed-in user as flags or a test case describe it.
type identityFlags struct {
	email, user, groups string
	unverified          bool
	claims              claimFlags
}

func (f identityFlags) identity() *authz.Identity {
	if f.email == "" && f.user == "" && f.groups == "" && len(f.claims) == 0 {
		return nil
	}
	id := &authz.Identity{User: f.user, Email: f.email, EmailVerified: !f.unverified, Claims: f.claims}
	if id.User == "" {
		id.User = f.email
	}
	id.Subject = id.User
	for _, g := range strings.Split(f.groups, ",") {
		if g = strings.TrimSpace(g); g != "" {
			id.Groups = append(id.Groups, g)
		}
	}
	return id
}

func describeIdentity(id *authz.Identity) string {
	if id == nil {
		return "anonymous (no session)"
	}
	var parts []string
	if id.Email != "" {
		v := "verified"
		if !id.EmailVerified {
			v = "unverified"
		}
		parts = append(parts, fmt.Sprintf("email %s (%s)", id.Email, v))
	}
	if id.User != id.Email {
		parts = append(parts, "user "+id.User)
	}
	if len(id.Groups) > 0 {
		parts = append(parts, "groups "+strings.Join(id.Groups, ","))
	}
	for k, v := range id.Claims {
		parts = append(parts, fmt.Sprintf("claim %s=%s", k, strings.Join(v, ",")))
	}
	return strings.Join(parts, ", ")
}

// requestFor builds the core's request for a URL with the constructor
// every adapter uses, so a URL an adapter refuses (a fragment, "..;", an
// encoded dot segment) is refused here too; the query is never matched.
func requestFor(method, rawURL, clientIP string, api bool) (*authz.Request, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok || (scheme != "http" && scheme != "https") {
		return nil, fmt.Errorf("url %q: want an absolute http(s) URL", rawURL)
	}
	host, target := rest, "/"
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		host, target = rest[:i], rest[i:]
		if target[0] != '/' {
			target = "/" + target
		}
	}
	req, err := authz.NewRequest(strings.ToUpper(method), scheme, host, target)
	if err != nil {
		return nil, fmt.Errorf("url %q: every adapter refuses it with 400: %w", rawURL, err)
	}
	r := &req
	r.Accept = "text/html"
	if api {
		r.Accept = "application/json"
	}
	if clientIP != "" {
		a, err := netip.ParseAddr(clientIP)
		if err != nil {
			return nil, fmt.Errorf("client ip %q: %w", clientIP, err)
		}
		r.ClientIP = a
	}
	return r, nil
}

// verdictOf names a decision as policy tests do.
func verdictOf(d authz.Decision) string {
	switch d.Outcome {
	case authz.Allow:
		return "allow"
	case authz.Unauthenticated:
		return "login"
	case authz.Forbidden:
		if d.Reason == authz.ReasonSpoofedHeader || d.Reason == authz.ReasonBadRequest {
			return "refuse"
		}
		return "deny"
	}
	return d.Outcome.String()
}

// policyTestFile is the YAML table "gatehouse policy test" runs.
type policyTestFile struct {
	Tests []policyTestCase `yaml:"tests"`
}

type policyTestCase struct {
	Name      string        `yaml:"name"`
	URL       string        `yaml:"url"`
	Method    string        `yaml:"method"`
	ClientIP  string        `yaml:"client_ip"`
	Anonymous bool          `yaml:"anonymous"`
	Identity  *testIdentity `yaml:"identity"`
	Expect    string        `yaml:"expect"`
	Rule      string        `yaml:"rule"`
}

type testIdentity struct {
	Email           string              `yaml:"email"`
	EmailUnverified bool                `yaml:"email_unverified"`
	User            string              `yaml:"user"`
	Groups          []string            `yaml:"groups"`
	Claims          map[string][]string `yaml:"claims"`
}

func policyTest(args []string, stdout, stderr io.Writer, lookup func(string) (string, bool)) error {
	fs := newFlagSet("policy test (--config FILE | --policy FILE) TESTFILE",
		"Runs a YAML table of requests and expected verdicts against the policy:\n\n"+
			"  tests:\n"+
			"    - name: admins reach the admin pages\n"+
			"      url: https://app.example.com/admin\n"+
			"      method: GET               # default GET\n"+
			"      identity: {email: a@example.com, groups: [admins], claims: {role: [x]}}\n"+
			"      expect: allow             # allow, login, deny, or refuse (400)\n"+
			"      rule: admin               # optional: the rule that must decide\n"+
			"    - url: https://app.example.com/admin\n"+
			"      anonymous: true\n"+
			"      expect: login\n\n"+
			"Exits 1 and lists the failures when any expectation is not met.", stderr)
	src := addPolicySource(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "policy test: want exactly one TESTFILE")
		fs.Usage()
		return errUsage
	}
	p, err := src.load(lookup, stderr)
	if err != nil {
		return err
	}
	cases, err := readPolicyTests(fs.Arg(0))
	if err != nil {
		return err
	}
	var failed []string
	for i, tc := range cases {
		name := tc.Name
		if name == "" {
			name = fmt.Sprintf("tests[%d] %s %s", i, tc.method(), tc.URL)
		}
		if err := tc.run(p); err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", name, err))
			fmt.Fprintf(stdout, "FAIL  %s: %v\n", name, err)
			continue
		}
		fmt.Fprintf(stdout, "ok    %s\n", name)
	}
	fmt.Fprintf(stdout, "%d tests, %d failed\n", len(cases), len(failed))
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d policy tests failed:\n  %s", len(failed), len(cases), strings.Join(failed, "\n  "))
	}
	return nil
}

func readPolicyTests(path string) ([]policyTestCase, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read tests: %w", err)
	}
	var f policyTestFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(f.Tests) == 0 {
		return nil, fmt.Errorf("%s: no tests (want a top-level tests: list)", path)
	}
	var problems []string
	for i, tc := range f.Tests {
		switch {
		case tc.URL == "":
			problems = append(problems, fmt.Sprintf("tests[%d].url: required", i))
		case !slices.Contains([]string{"allow", "login", "deny", "refuse"}, tc.Expect):
			problems = append(problems, fmt.Sprintf("tests[%d].expect: must be allow, login, deny or refuse, not %q", i, tc.Expect))
		case tc.Anonymous && tc.Identity != nil:
			problems = append(problems, fmt.Sprintf("tests[%d]: set anonymous or identity, not both", i))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s:\n  %s", path, strings.Join(problems, "\n  "))
	}
	return f.Tests, nil
}

func (tc *policyTestCase) method() string {
	if tc.Method == "" {
		return "GET"
	}
	return strings.ToUpper(tc.Method)
}

// run decides the case and returns an error describing a mismatch.
func (tc *policyTestCase) run(p *authz.Policy) error {
	r, err := requestFor(tc.method(), tc.URL, tc.ClientIP, false)
	switch {
	case errors.Is(err, authz.ErrBadRequest) && tc.Expect == "refuse":
		return nil // refused with 400 before any rule, as expected
	case err != nil:
		return err
	}
	var id *authz.Identity
	state := authz.NoSession
	if tc.Identity != nil {
		f := identityFlags{email: tc.Identity.Email, user: tc.Identity.User, groups: strings.Join(tc.Identity.Groups, ","),
			unverified: tc.Identity.EmailUnverified, claims: tc.Identity.Claims}
		if id = f.identity(); id == nil {
			return errors.New("identity: set at least one of email, user, groups, claims")
		}
		state = authz.ValidSession
	}
	d := authz.Decide(p, r, state, id)
	if got := verdictOf(d); got != tc.Expect {
		return fmt.Errorf("got %s (reason %s, decided by %s), want %s", got, d.Reason, d.Rule, tc.Expect)
	}
	if tc.Rule != "" && d.Rule != tc.Rule {
		return fmt.Errorf("decided by %s, want %s", d.Rule, tc.Rule)
	}
	return nil
}

// accessWiring holds what the access policy adds to a running gatehouse:
// the bearer-token verifier and the assertion minter (both optional), and,
// once watch is called, the policy file reloader.
type accessWiring struct {
	bearer   *bearer.Verifier     // nil unless bearer tokens are trusted
	minter   *assertion.Minter    // nil unless assertion.enabled
	reloader *policyfile.Reloader // nil without access.policy_file, or before watch
	idToken  bool
}

// newAccessWiring builds the verifier and minter a configuration asks for.
// It reads the assertion key files and does no network I/O.
func newAccessWiring(cfg *config.Config, logger *slog.Logger) (*accessWiring, error) {
	w := &accessWiring{idToken: cfg.Headers.Token == "id"}
	if issuers := cfg.BearerIssuers(); len(issuers) > 0 {
		var list []bearer.Issuer
		for _, is := range issuers {
			list = append(list, bearer.Issuer{URL: is.IssuerURL, Audiences: is.Audiences, JWKSURL: is.JWKSURL, ClientID: is.ClientID})
		}
		v, err := bearer.New(list,
			bearer.Claims{User: cfg.OIDC.UserClaim, Email: cfg.OIDC.EmailClaim, Groups: cfg.OIDC.GroupsClaim},
			bearer.Options{CacheTTL: cfg.Access.Bearer.CacheTTL, CacheSize: cfg.Access.Bearer.CacheSize,
				Timeout: cfg.Access.Bearer.Timeout, FetchTimeout: cfg.OIDC.Timeout, Logger: logger})
		if err != nil {
			return nil, fmt.Errorf("access.bearer: %w", err)
		}
		w.bearer = v
	}
	if cfg.Assertion.Enabled {
		keys, err := assertion.LoadKeyFiles(cfg.Assertion.AssertionKeyFiles())
		if err != nil {
			return nil, fmt.Errorf("assertion.key_files: %w", err)
		}
		m, err := assertion.New(keys, assertion.Options{Issuer: cfg.AssertionIssuer(), Lifetime: cfg.Assertion.Lifetime})
		if err != nil {
			return nil, fmt.Errorf("assertion: %w", err)
		}
		w.minter = m
	}
	return w, nil
}

// checkOptions adds the verifier, minter and token choice to opts.
func (w *accessWiring) checkOptions(opts check.Options) check.Options {
	if w.bearer != nil {
		opts.Bearer = w.bearer
	}
	if w.minter != nil {
		opts.Assertion = w.minter
	}
	opts.SendIDToken = w.idToken
	return opts
}

// jwks returns the handler for assertion.JWKSPath, or nil when assertions
// are off.
func (w *accessWiring) jwks() http.Handler {
	if w.minter == nil {
		return nil
	}
	return w.minter
}

// watch starts polling access.policy_file (until ctx ends), swapping good
// policies into checker. It returns the reloader (nil without a policy
// file): call its Reload on SIGHUP and show its Status on /readyz.
func (w *accessWiring) watch(ctx context.Context, cfg *config.Config, checker *check.Checker, logger *slog.Logger, onReload func(bool)) *policyfile.Reloader {
	if cfg.Access.PolicyFile == "" {
		return nil
	}
	w.reloader = policyfile.New(cfg.Access.PolicyFile, cfg.PolicyFromFile, checker.SetPolicy, policyfile.Options{Logger: logger, OnReload: onReload})
	go w.reloader.Run(ctx)
	return w.reloader
}
