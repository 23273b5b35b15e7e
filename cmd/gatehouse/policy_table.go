package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse/gatehouse/internal/authz"
)

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

// policyTest runs "gatehouse policy test": every case of a YAML table
// against the policy, failing when any expectation is not met.
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

// readPolicyTests reads and checks a table of policy tests.
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
