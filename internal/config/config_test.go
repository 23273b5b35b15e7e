package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadValidFile(t *testing.T) {
	c, err := Load("testdata/valid.yaml", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Session.Lifetime != 12*time.Hour || c.Session.Store != "redis" || c.Redis.KeyPrefix != "gh:" {
		t.Errorf("decoded wrong values: %+v", c.Session)
	}
	if c.Cookie.Name != "_gatehouse" || !c.Cookie.Secure {
		t.Errorf("defaults lost: %+v", c.Cookie)
	}
	if len(c.CookieKeys()) != 1 || len(c.CookieKeys()[0]) != 32 {
		t.Errorf("cookie keys = %v", c.CookieKeys())
	}
	p, err := c.Policy()
	if err != nil {
		t.Fatal(err)
	}
	if p.LoginURL != "https://auth.example.com/oauth2/start" || len(p.Skip) != 2 || p.Skip[1].PathRegexp == nil {
		t.Errorf("policy = %+v", p)
	}
}

func TestLoadReportsEveryProblemByPath(t *testing.T) {
	file := writeFile(t, `
oidc:
  issuer_url: "not a url"
  client_idd: typo
cookie:
  secrets: ["c2hvcnQ=", "%%%"]
session:
  lifetime: forever
  store: postgres
access:
  emails: ["a@b@c.com"]
  skip:
    - path_regex: "("
    - {}
unknown_top: 1
`)
	_, err := Load(file, env(nil))
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("want Errors, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"oidc.client_idd: unknown key", "unknown_top: unknown key", "session.lifetime: want a duration",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}

	// Decoding errors stop before validation; fix them and see the rest.
	file = writeFile(t, `
oidc:
  issuer_url: "not a url"
cookie:
  secrets: ["c2hvcnQ=", "%%%"]
session:
  store: postgres
access:
  emails: ["a@b@c.com"]
  skip:
    - path_regex: "("
    - {}
trusted_proxies: ["10.0.0.0/33"]
redirect:
  allowed_domains: ["https://evil.com"]
`)
	_, err = Load(file, env(nil))
	msg = err.Error()
	for _, want := range []string{
		"oidc.issuer_url: must be an absolute http(s) URL",
		"oidc.client_id: required",
		"oidc.client_secret: required",
		"oidc.redirect_url: required",
		"cookie.secrets[0]: key decodes to 5 bytes, want 32",
		"cookie.secrets[1]: not valid base64",
		`session.store: must be "memory" or "redis"`,
		"access.emails[0]: must be one email address",
		"access.skip[0].path_regex: not a valid regular expression",
		"access.skip[1]: must set at least one of",
		"trusted_proxies[0]: not an IP address or CIDR",
		"redirect.allowed_domains[0]: must be a host",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "c2hvcnQ=") {
		t.Error("error message leaks a secret value")
	}
}

func TestEnvOverridesFileAndSecretsFromFiles(t *testing.T) {
	secret := writeFile(t, "from-file\n")
	keys := writeFile(t, "# current key first\n3q2+7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
	c, err := Load("", env(map[string]string{
		"GATEHOUSE_OIDC_ISSUER_URL":         "https://login.example.com",
		"GATEHOUSE_OIDC_CLIENT_ID":          "gh",
		"GATEHOUSE_OIDC_CLIENT_SECRET_FILE": secret,
		"GATEHOUSE_OIDC_REDIRECT_URL":       "https://auth.example.com/oauth2/callback",
		"GATEHOUSE_OIDC_SCOPES":             "openid, email ,groups",
		"GATEHOUSE_COOKIE_SECRETS_FILE":     keys,
		"GATEHOUSE_COOKIE_SECURE":           "false",
		"GATEHOUSE_SESSION_TIMEOUT":         "100ms",
		"GATEHOUSE_REDIS_DB":                "3",
		"GATEHOUSE_ACCESS_EMAIL_DOMAINS":    "example.com,example.org",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.OIDC.ClientSecret != "from-file" {
		t.Errorf("client secret = %q", c.OIDC.ClientSecret)
	}
	if strings.Join(c.OIDC.Scopes, " ") != "openid email groups" {
		t.Errorf("scopes = %q", c.OIDC.Scopes)
	}
	if len(c.CookieKeys()) != 2 || c.Cookie.Secure || c.Session.Timeout != 100*time.Millisecond || c.Redis.DB != 3 {
		t.Errorf("env not applied: %+v", c)
	}
	if len(c.Access.EmailDomains) != 2 {
		t.Errorf("email domains = %q", c.Access.EmailDomains)
	}

	_, err = Load("testdata/valid.yaml", env(map[string]string{
		"GATEHOUSE_SESSION_LIFETIME": "soon",
		"GATEHOUSE_COOKIE_SECURE":    "maybe",
	}))
	if err == nil || !strings.Contains(err.Error(), "session.lifetime: from GATEHOUSE_SESSION_LIFETIME") ||
		!strings.Contains(err.Error(), "cookie.secure: from GATEHOUSE_COOKIE_SECURE") {
		t.Errorf("bad env values not reported by path: %v", err)
	}
}

func TestSecretAndFileBothSet(t *testing.T) {
	_, err := Load("testdata/valid.yaml", env(map[string]string{"GATEHOUSE_OIDC_CLIENT_SECRET_FILE": "/nonexistent"}))
	if err == nil || !strings.Contains(err.Error(), "oidc.client_secret_file: set either") {
		t.Errorf("got %v", err)
	}
}

func TestEnvName(t *testing.T) {
	if got := EnvName("oidc.issuer_url"); got != "GATEHOUSE_OIDC_ISSUER_URL" {
		t.Errorf("EnvName = %q", got)
	}
}

func TestEmptyFileIsDefaults(t *testing.T) {
	_, err := Load(writeFile(t, ""), env(nil))
	if err == nil || !strings.Contains(err.Error(), "oidc.issuer_url: required") {
		t.Errorf("got %v", err)
	}
}

func FuzzLoad(f *testing.F) {
	data, _ := os.ReadFile("testdata/valid.yaml")
	f.Add(string(data))
	f.Add("a: [")
	f.Add("access: {skip: [ {path: 1} ]}")
	f.Add("&a [*a]")
	f.Fuzz(func(t *testing.T, s string) {
		p := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(p, env(nil))
		if err == nil {
			if p, err := c.Policy(); err != nil || p == nil {
				t.Fatalf("a loaded config has no policy: %v", err) // Load compiled it
			}
		}
	})
}

func TestUnknownEnv(t *testing.T) {
	got := UnknownEnv([]string{
		"PATH=/bin",
		"GATEHOUSE_OIDC_ISSUER_URL=x",
		"GATEHOUSE_OIDC_ISSUERURL=typo",
		"GATEHOUSE_COOKIE_SECRETS_FILE=/f",
		"GATEHOUSE_SESSION_LIFE=1h",
		"GATEHOUSE_TEST_REDIS=127.0.0.1:6379",
	})
	if strings.Join(got, ",") != "GATEHOUSE_OIDC_ISSUERURL,GATEHOUSE_SESSION_LIFE" {
		t.Errorf("UnknownEnv = %v", got)
	}
}
