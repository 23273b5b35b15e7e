package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/config"
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

// identityFlags is a signed-in user as flags or a test case describe it.
type identityFlags struct {
	email, user, groups string
	provider            string // "" is the default provider
	unverified          bool
	claims              claimFlags
}

func (f identityFlags) identity() *authz.Identity {
	if f.email == "" && f.user == "" && f.groups == "" && len(f.claims) == 0 {
		return nil
	}
	id := &authz.Identity{User: f.user, Email: f.email, EmailVerified: !f.unverified, Claims: f.claims, Provider: f.provider}
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
