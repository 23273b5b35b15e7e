package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// base is a valid configuration without warnings.
const base = `oidc:
  issuer_url: https://login.example.com
  client_id: gatehouse
  client_secret: s3cret
  redirect_url: https://app.example.com/oauth2/callback
cookie:
  secrets: [3q2+7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=]
access:
  email_domains: [example.com]
`

func checkText(t *testing.T, yaml string, vars map[string]string) Report {
	t.Helper()
	r, err := Check(writeFile(t, yaml), env(vars))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func errorStrings(es Errors) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Error())
	}
	return out
}

func warningStrings(ws Warnings) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.String())
	}
	return out
}

func sameLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\ngot\n  %s\nwant\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestCheckMessages: input → the exact problems, all of them in one run.
// Unknown keys come with the key they were most likely meant to be, and no
// problem is told twice: a key taken for another, or a value of the wrong
// type, silences what validation would say about that setting.
func TestCheckMessages(t *testing.T) {
	for name, tc := range map[string]struct {
		yaml string
		want []string
	}{
		"base is valid": {base, nil},
		"three problems at once (the README's)": {`oidc:
  issuer: https://login.example.com
  client_secret: s3cret
  redirect_url: https://app.example.com/oauth2/callback
cookie:
  secrets: ["MDEyMzQ1Njc4OWFiY2RlZg=="]
access:
  email_domains: [example.com]
`, []string{
			"cookie.secrets[0]: key decodes to 16 bytes, want 32 (generate one with: openssl rand -base64 32)",
			"oidc.client_id: required",
			"oidc.issuer: unknown key (line 2); did you mean oidc.issuer_url?",
		}},
		"a typo": {base + "session:\n  lifetme: 1h\n", []string{
			"session.lifetme: unknown key (line 11); did you mean session.lifetime?",
		}},
		"letter case and separators": {base + "http:\n  PublicURL: https://app.example.com\n", []string{
			"http.PublicURL: unknown key (line 11); did you mean http.public_url?",
		}},
		"a cut word": {base + "redis:\n  key: x\n  pass: y\n", []string{
			"redis.key: unknown key (line 11)", // too short to guess
			"redis.pass: unknown key (line 12); did you mean redis.password?",
		}},
		"a lengthened word": {base + "session:\n  store_name: redis\n", []string{
			"session.store_name: unknown key (line 11); did you mean session.store?",
		}},
		"the same consonants": {base + "redis:\n  adress: [127.0.0.1:6379]\n", []string{
			"redis.adress: unknown key (line 11); did you mean redis.addrs?",
		}},
		"a plural": {base + "redirect:\n  allowed_domain: [example.com]\n", []string{
			"redirect.allowed_domain: unknown key (line 11); did you mean redirect.allowed_domains?",
		}},
		"a misspelt section, and the problems inside it": {base + "sesion:\n  lifetime: forever\n  stor: redis\n", []string{
			"sesion: unknown key (line 10); did you mean session?",
			"sesion.lifetime: want a duration such as 30s or 12h (line 11)",
			"sesion.stor: unknown key (line 12); did you mean sesion.store?",
		}},
		"a section in the wrong place": {base + "session:\n  store: redis\n  redis:\n    addrs: [127.0.0.1:6379]\n", []string{
			"session.redis: unknown key (line 12); did you mean the top-level redis?",
		}},
		"a key in the wrong section": {base + "session:\n  secure: false\n", []string{
			"session.secure: unknown key (line 11); did you mean cookie.secure?",
		}},
		"a top-level key that belongs in a section": {strings.Replace(base, "  client_id: gatehouse\n", "", 1) + "client_id: gatehouse\n", []string{
			"client_id: unknown key (line 9); did you mean oidc.client_id?",
		}},
		"nothing close": {base + "http:\n  frobnicate: 1\n", []string{
			"http.frobnicate: unknown key (line 11)",
		}},
		"a key taken for another is not also required": {strings.Replace(base, "client_id:", "clientid:", 1), []string{
			"oidc.clientid: unknown key (line 3); did you mean oidc.client_id?",
		}},
		"a badly typed value is not also required": {strings.Replace(base, "client_id: gatehouse", "client_id: [a, b]", 1), []string{
			"oidc.client_id: want a string (line 3)",
		}},
		"a section that is not a mapping hides its own required keys, not others'": {"oidc: 5\n" + base[strings.Index(base, "cookie:"):], []string{
			"oidc: must be a mapping (line 1)",
		}},
		"a list that is not a list": {base + "  skip: {path: /x}\n", []string{
			"access.skip: must be a list (line 10)",
		}},
		"problems inside lists": {base + "  rules:\n    - {name: a, hots: [x.example.com], action: allow}\n", []string{
			"access.rules[0].hots: unknown key (line 11); did you mean access.rules[0].hosts?",
		}},
		"decoding and validation problems together": {strings.Replace(base, "issuer_url: https://login.example.com", "issuer_url: login.example.com", 1) + "session:\n  lifetime: forever\n  stor: redis\n", []string{
			`oidc.issuer_url: must be an absolute http(s) URL, not "login.example.com"`,
			"session.lifetime: want a duration such as 30s or 12h (line 11)",
			"session.stor: unknown key (line 12); did you mean session.store?",
		}},
		"a secret file that cannot be read speaks for its secret": {strings.Replace(base, "secrets: [3q2+7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=]", "secrets_file: /nonexistent/keys", 1), []string{
			"cookie.secrets_file: cannot read secret file: /nonexistent/keys: no such file or directory",
		}},
		"not YAML at all": {"oidc: [\n", nil},
	} {
		t.Run(name, func(t *testing.T) {
			r := checkText(t, tc.yaml, nil)
			got := errorStrings(r.Errors)
			if name == "not YAML at all" {
				if len(got) == 0 || !strings.HasPrefix(got[0], "(file): not valid YAML: ") {
					t.Errorf("got %q", got)
				}
				return
			}
			sameLines(t, "problems", got, tc.want)
			if (r.Config == nil) != (len(tc.want) > 0) {
				t.Errorf("Config = %v with %d problems", r.Config != nil, len(tc.want))
			}
		})
	}
}

// TestPolicyFileKeysAreSuggested: a policy file's unknown keys get the same
// suggestions, named by their path in the file.
func TestPolicyFileKeysAreSuggested(t *testing.T) {
	pf := writeFile(t, "emials: [ann@example.com]\nrules:\n  - {name: x, paths: [/a], acton: deny}\n")
	r := checkText(t, strings.Replace(base, "access:\n  email_domains: [example.com]\n", "access:\n  policy_file: "+pf+"\n", 1), nil)
	sameLines(t, "problems", errorStrings(r.Errors), []string{
		"access.policy_file: " + pf + ": emials: unknown key (line 1); did you mean emails?",
		"access.policy_file: " + pf + ": rules[0].acton: unknown key (line 3); did you mean rules[0].action?",
	})
}

// TestEnvironmentOnly: without a file, the environment alone is checked,
// and its relative paths are the working directory's.
func TestEnvironmentOnly(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile("secret", []byte("from-cwd\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{
		"GATEHOUSE_OIDC_ISSUER_URL":         "https://login.example.com",
		"GATEHOUSE_OIDC_CLIENT_ID":          "gatehouse",
		"GATEHOUSE_OIDC_CLIENT_SECRET_FILE": "secret",
		"GATEHOUSE_OIDC_REDIRECT_URL":       "https://app.example.com/oauth2/callback",
		"GATEHOUSE_COOKIE_SECRETS":          "3q2+7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"GATEHOUSE_ACCESS_EMAILS":           "ann@example.com",
	}
	r, err := Check("", env(vars))
	if err != nil || len(r.Errors) > 0 {
		t.Fatalf("%v %v", err, r.Errors)
	}
	if r.Config.OIDC.ClientSecret != "from-cwd" || r.Config.OIDC.ClientSecretFile != "secret" {
		t.Errorf("client secret %q from %q", r.Config.OIDC.ClientSecret, r.Config.OIDC.ClientSecretFile)
	}
	delete(vars, "GATEHOUSE_OIDC_CLIENT_ID")
	vars["GATEHOUSE_SESSION_TIMEOUT"] = "soon"
	r, _ = Check("", env(vars))
	sameLines(t, "problems", errorStrings(r.Errors), []string{
		"oidc.client_id: required (set GATEHOUSE_OIDC_CLIENT_ID)",
		"session.timeout: from GATEHOUSE_SESSION_TIMEOUT: want a duration such as 30s or 12h",
	})
}

// TestBoundedReads: the configuration file and secret files are read with
// a bound, and a larger one is a clear problem, not memory without end.
func TestBoundedReads(t *testing.T) {
	big := writeFile(t, strings.Repeat("x", maxSecretFileSize+1))
	r := checkText(t, strings.Replace(base, "client_secret: s3cret", "client_secret_file: "+big, 1), nil)
	sameLines(t, "problems", errorStrings(r.Errors), []string{
		"oidc.client_secret_file: cannot read secret file: read " + big + ": larger than 65536 bytes: file too large",
	})
	huge := filepath.Join(t.TempDir(), "huge.yaml")
	if err := os.WriteFile(huge, []byte(base+"#"+strings.Repeat("x", maxConfigFileSize)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Check(huge, nil); err == nil || !strings.Contains(err.Error(), "larger than 4194304 bytes") {
		t.Errorf("a config file over the bound: %v", err)
	}
	if _, err := Check(filepath.Join(t.TempDir(), "none.yaml"), nil); err == nil || !strings.Contains(err.Error(), "config file: read ") {
		t.Errorf("a missing config file: %v", err)
	}
}

// TestPolicyFileTooLarge: a policy file is read with its bound, by the one
// reader that reloads use too.
func TestPolicyFileTooLarge(t *testing.T) {
	pf := writeFile(t, "emails: [ann@example.com]\n#"+strings.Repeat("x", MaxPolicyFileSize))
	r := checkText(t, strings.Replace(base, "access:\n  email_domains: [example.com]\n", "access:\n  policy_file: "+pf+"\n", 1), nil)
	sameLines(t, "problems", errorStrings(r.Errors), []string{
		"access.policy_file: policy file: read " + pf + ": larger than 4194304 bytes: file too large",
	})
	if _, err := ReadPolicyFile(pf); err == nil || !strings.Contains(err.Error(), "larger than 4194304 bytes") {
		t.Errorf("ReadPolicyFile: %v", err)
	}
}
