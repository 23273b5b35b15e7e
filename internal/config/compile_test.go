package config

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/authz"
)

// TestCompilePolicyReportsWhatItCannotCompile: the step that compiles a
// policy is the step that validates it, so keys nobody checked come back
// as errors naming their field, never as a panic (a path_regex) or a rule
// compiled with an empty host, an invalid prefix or no action.
func TestCompilePolicyReportsWhatItCannotCompile(t *testing.T) {
	c := Default()
	for name, tc := range map[string]struct {
		access Access
		want   string
	}{
		"skip path_regex": {Access{Skip: []SkipRoute{{PathRegex: "("}}}, "skip[0].path_regex: not a valid regular expression"},
		"rule path_regex": {Access{Rules: []Rule{{PathRegex: "(", Action: "deny"}}}, "rules[0].path_regex: not a valid regular expression"},
		"rule host":       {Access{Rules: []Rule{{Hosts: []string{"http://x"}, Action: "allow"}}}, "rules[0].hosts[0]: must be a host"},
		"rule cidr":       {Access{Rules: []Rule{{ClientCIDRs: []string{"10.0.0.0/33"}, Action: "allow"}}}, "rules[0].client_cidrs[0]: not an IP address or CIDR"},
		"rule action":     {Access{Rules: []Rule{{Action: "permit"}}}, "rules[0].action: must be allow, authenticate, require or deny"},
	} {
		t.Run(name, func(t *testing.T) {
			p, errs := c.CompilePolicy(&tc.access)
			if p != nil {
				t.Errorf("compiled a policy from invalid keys: %+v", p)
			}
			if !strings.Contains(Errors(errs).Error(), tc.want) {
				t.Errorf("got %v, want %q", errs, tc.want)
			}
		})
	}
}

// TestPolicyOfUnloadedConfig: a Config built by hand (not by Load) gets
// its policy through the same step, and an invalid one is an error.
func TestPolicyOfUnloadedConfig(t *testing.T) {
	c := Default()
	c.Access.Rules = []Rule{{Action: "maybe"}}
	if p, err := c.Policy(); err == nil || !strings.Contains(err.Error(), "access.rules[0].action") {
		t.Errorf("got %+v, %v; want an error naming access.rules[0].action", p, err)
	}
	c.Access.Rules = []Rule{{Action: "deny"}}
	if p, err := c.Policy(); err != nil || len(p.Rules) != 1 || p.Rules[0].Action != authz.ActionDeny {
		t.Errorf("got %+v, %v", p, err)
	}
}

// TestLoadCompilesOnce: the policy Load compiled is the one Policy returns.
func TestLoadCompilesOnce(t *testing.T) {
	c, err := Load("testdata/valid.yaml", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	p1, err1 := c.Policy()
	p2, err2 := c.Policy()
	if err1 != nil || err2 != nil || p1 == nil || p1 != p2 {
		t.Errorf("Policy() = %p, %v then %p, %v; want Load's snapshot both times", p1, err1, p2, err2)
	}
}

// TestLoadReportsPolicyFileWithEveryOtherProblem: a broken policy file does
// not hide the main configuration's own problems (one pass collects all).
func TestLoadReportsPolicyFileWithEveryOtherProblem(t *testing.T) {
	base, err := os.ReadFile("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	main := strings.Split(string(base), "access:")[0]
	pf := writeFile(t, "rules: [{action: maybe}]\n")
	_, err = Load(writeFile(t, main+"access:\n  policy_file: "+pf+"\nlog:\n  level: loud\n"), env(nil))
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("want Errors, got %v", err)
	}
	for _, want := range []string{"access.policy_file: " + pf + ": rules[0].action", "log.level: must be debug"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}
