package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/render"
)

// policyExplain runs "gatehouse policy explain": it prints which rule
// decides one request and why.
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
	fs.StringVar(&id.provider, "provider", "", "the ID of the provider the user signed in through (default: the first)")
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
	printSteps(stdout, steps)
	fmt.Fprintf(stdout, "\nverdict:  %s (%d, reason %s, decided by %s)\n", verdictOf(d), render.For(p, r, &d).Status, d.Reason, d.Rule)
	return nil
}

// printSteps prints the rules and routes Explain went through, one a line.
func printSteps(w io.Writer, steps []authz.Step) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
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
}

// describeIdentity says who the request is from, as explain prints it.
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
