package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const explainPolicy = `
email_domains: [example.com]
skip:
  - path: /healthz
rules:
  - name: public
    paths: [/public]
    action: allow
  - name: admin
    hosts: ["*.example.com"]
    paths: [/admin]
    action: require
    require: {groups: [ops], claims: {level: ["9"]}}
`

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func runPolicy(args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	err := policyCmd(context.Background(), args, &out, &errOut, func(string) (string, bool) { return "", false })
	return out.String(), errOut.String(), err
}

func TestPolicyExplain(t *testing.T) {
	pf := writeTemp(t, "policy.yaml", explainPolicy)
	out, _, err := runPolicy("explain", "--policy", pf, "--url", "https://App.Example.com/admin/x?y=/public", "--method", "post", "--email", "a@example.com", "--groups", "dev")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"request:  POST https://app.example.com/admin/x",
		"identity: email a@example.com (verified), groups dev",
		`skip[0]`, `skip route does not match (path /healthz)`,
		`rules[0]  "public"  path "/admin/x" has none of the prefixes /public`,
		`rules[1]  "admin"   matches; action require: signed in, but not on the allow-list`,
		"verdict:  deny (403, reason not_allowed, decided by admin)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	out, _, err = runPolicy("explain", "--policy", pf, "--url", "https://app.example.com/admin", "--claim", "level=9", "--user", "bot")
	if err != nil || !strings.Contains(out, "allowed: claim level=9") || !strings.Contains(out, "verdict:  allow (200") {
		t.Errorf("claim explain: %v\n%s", err, out)
	}
	out, _, _ = runPolicy("explain", "--policy", pf, "--url", "https://other.org/x")
	if !strings.Contains(out, "identity: anonymous") || !strings.Contains(out, "default") || !strings.Contains(out, "verdict:  login (302, reason no_session, decided by default)") {
		t.Errorf("default explain:\n%s", out)
	}
	// Usage errors.
	for _, args := range [][]string{
		{"explain", "--url", "https://a/"},                                 // no policy
		{"explain", "--policy", pf},                                        // no url
		{"explain", "--policy", pf, "--config", pf, "--url", "https://a/"}, // both
		{"frobnicate"},
		{},
	} {
		if _, _, err := runPolicy(args...); !errors.Is(err, errUsage) {
			t.Errorf("%q: got %v, want usage error", args, err)
		}
	}
	for _, u := range []string{"ftp://a/", "/relative", "https://a/x%2fy"} {
		if _, _, err := runPolicy("explain", "--policy", pf, "--url", u); err == nil || errors.Is(err, errUsage) {
			t.Errorf("url %q: got %v", u, err)
		}
	}
	bad := writeTemp(t, "bad.yaml", "rules: [{action: nope}]\n")
	if _, _, err := runPolicy("explain", "--policy", bad, "--url", "https://a/"); err == nil || !strings.Contains(err.Error(), "rules[0].action") {
		t.Errorf("bad policy: %v", err)
	}
}

func TestPolicyTest(t *testing.T) {
	pf := writeTemp(t, "policy.yaml", explainPolicy)
	pass := writeTemp(t, "pass.yaml", `
tests:
  - url: https://app.example.com/public?x=/admin
    anonymous: true
    expect: allow
    rule: public
  - name: ops only
    url: https://x.example.com/admin
    identity: {email: a@example.com, groups: [ops]}
    expect: allow
  - url: https://x.example.com/admin#/public
    anonymous: true
    expect: refuse
  - url: https://x.example.com/admin
    identity: {email: a@example.com, email_unverified: true, claims: {level: ["1"]}}
    expect: deny
`)
	out, _, err := runPolicy("test", "--policy", pf, pass)
	if err != nil || !strings.Contains(out, "ok    ops only") || !strings.Contains(out, "4 tests, 0 failed") {
		t.Fatalf("%v\n%s", err, out)
	}
	fail := writeTemp(t, "fail.yaml", `
tests:
  - name: wrong verdict
    url: https://app.example.com/admin
    anonymous: true
    expect: allow
  - name: wrong rule
    url: https://app.example.com/public
    anonymous: true
    expect: allow
    rule: admin
  - url: https://app.example.com/ok
    identity: {email: z@example.com}
    expect: allow
`)
	out, _, err = runPolicy("test", "--policy", pf, fail)
	if err == nil || errors.Is(err, errUsage) {
		t.Fatalf("failures must be an error: %v", err)
	}
	for _, want := range []string{"2 of 3 policy tests failed", "wrong verdict: got login (reason no_session, decided by admin), want allow", "wrong rule: decided by public, want admin"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
	if !strings.Contains(out, "FAIL  wrong verdict") || !strings.Contains(out, "3 tests, 2 failed") {
		t.Errorf("output:\n%s", out)
	}
	for name, content := range map[string]string{
		"unknown key":   "tests: [{url: https://a/, expect: allow, anonymus: true}]",
		"bad expect":    "tests: [{url: https://a/, expect: maybe}]",
		"both":          "tests: [{url: https://a/, expect: deny, anonymous: true, identity: {email: a@b.c}}]",
		"no tests":      "{}",
		"no url":        "tests: [{expect: deny}]",
		"not yaml list": "tests: 3",
	} {
		if _, _, err := runPolicy("test", "--policy", pf, writeTemp(t, "t.yaml", content)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, _, err := runPolicy("test", "--policy", pf); !errors.Is(err, errUsage) {
		t.Errorf("no test file: %v", err)
	}
}

// docsBase is prepended to the configuration excerpts of docs/policy.md.
const docsBase = `
http:
  public_url: https://auth.example.com
oidc:
  issuer_url: https://login.example.com
  client_id: gatehouse
  client_secret: s3cret
  redirect_url: https://auth.example.com/oauth2/callback
cookie:
  secrets: [3q2+7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=]
  domain: .example.com
`

// TestPolicyDocExamples loads every YAML example of docs/policy.md and runs
// each "# policy tests" block against the example before it.
func TestPolicyDocExamples(t *testing.T) {
	data, err := os.ReadFile("../../docs/policy.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(data), "```yaml\n")[1:]
	var flag, source string
	ran := 0
	for i, b := range blocks {
		body, _, ok := strings.Cut(b, "```")
		if !ok {
			t.Fatalf("block %d is not closed", i)
		}
		first, _, _ := strings.Cut(body, "\n")
		switch strings.TrimSpace(first) {
		case "# policy file":
			flag, source = "--policy", writeTemp(t, "policy.yaml", body)
			if _, _, err := runPolicy("explain", flag, source, "--url", "https://app.example.com/"); err != nil {
				t.Errorf("block %d: %v", i, err)
			}
		case "# gatehouse.yaml (excerpt)":
			flag, source = "--config", writeTemp(t, "gatehouse.yaml", docsBase+body)
			if _, _, err := runPolicy("explain", flag, source, "--url", "https://app.example.com/"); err != nil {
				t.Errorf("block %d: %v", i, err)
			}
		case "# policy tests":
			if source == "" {
				t.Fatalf("block %d: tests before any policy", i)
			}
			out, _, err := runPolicy("test", flag, source, writeTemp(t, "tests.yaml", body))
			if err != nil {
				t.Errorf("block %d: %v\n%s", i, err, out)
			}
			ran++
		default:
			t.Errorf("block %d: first line %q names no kind", i, first)
		}
	}
	if ran != 3 {
		t.Errorf("ran %d test blocks, want 3 (one per example)", ran)
	}
}
