package config

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func absPath(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		panic(err)
	}
	return a
}

// TestWarnings: each risky combination → its exact warning; the base
// configuration has none.
func TestWarnings(t *testing.T) {
	exampleToken := writeFile(t, "replace-me-with-openssl-rand-hex-32\n")
	for name, tc := range map[string]struct {
		yaml string
		want []string
	}{
		"none": {base, nil},
		"cookie without Secure on an https site": {strings.Replace(base, "cookie:\n", "cookie:\n  secure: false\n", 1), []string{
			"cookie.secure: false, but oidc.redirect_url is https: the session cookie would also be sent over plain HTTP, where anyone on the path can take it; set cookie.secure: true",
		}},
		"Secure cookie on a plain-HTTP site": {strings.Replace(base, "https://app.example.com/oauth2/callback", "http://app.example.com/oauth2/callback", 1), []string{
			"cookie.secure: true, but oidc.redirect_url is plain http on app.example.com: browsers drop Secure cookies there, so sign-in cannot complete; serve gatehouse over https (cookie.secure: false only for development)",
		}},
		"plain HTTP on localhost without Secure is fine": {strings.Replace(strings.Replace(base, "https://app.example.com/oauth2/callback", "http://localhost:4180/oauth2/callback", 1), "cookie:\n", "cookie:\n  secure: false\n", 1), nil},
		"public provider, anyone admitted": {strings.Replace(base, "https://login.example.com", "https://accounts.google.com", 1) + "  allow_any_authenticated: true\n  rules:\n    - {name: open, paths: [/wiki], action: authenticate}\n", []string{
			"access.allow_any_authenticated: true with oidc.issuer_url at Google: anyone can create an account at Google, so this admits anyone on the internet; list email_domains, emails or groups instead",
			"access.rules[0]: action authenticate with oidc.issuer_url at Google: anyone can create an account at Google, so this admits anyone on the internet; list email_domains, emails or groups instead",
		}},
		"public provider, any domain": {strings.Replace(strings.Replace(base, "https://login.example.com", "https://login.microsoftonline.com/common/v2.0", 1), "[example.com]", `[example.com, "*"]`, 1), []string{
			`access.email_domains[1]: "*" with oidc.issuer_url at Microsoft (the common endpoint, any tenant): anyone can create an account at Microsoft (the common endpoint, any tenant), so this admits anyone on the internet; list email_domains, emails or groups instead`,
		}},
		"one tenant of Microsoft is not public": {strings.Replace(base, "https://login.example.com", "https://login.microsoftonline.com/0d5b0fd4-7a0c-4c4b-9a7a-4f5c0e7a7d2e/v2.0", 1) + "  allow_any_authenticated: true\n", nil},
		"gitlab.com": {strings.Replace(base, "https://login.example.com", "https://gitlab.com", 1) + "  allow_any_authenticated: true\n", []string{
			"access.allow_any_authenticated: true with oidc.issuer_url at GitLab.com: anyone can create an account at GitLab.com, so this admits anyone on the internet; list email_domains, emails or groups instead",
		}},
		"example secrets": {strings.Replace(strings.Replace(base, "s3cret", "example-client-secret", 1), "3q2+7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "3q2+7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=, ZXhhbXBsZS1rZXktZXhhbXBsZS1rZXktZXhhbXBsZS0", 1) + "session:\n  store: redis\nredis:\n  addrs: [127.0.0.1:6379]\n  password: replace-me\n", []string{
			"oidc.client_secret: is an example value published in gatehouse's own repository, known to everyone: use the secret your provider issued for this client",
			"cookie.secrets[1]: is an example value published in gatehouse's own repository, known to everyone: generate your own with: openssl rand -base64 32",
			"redis.password: is an example value published in gatehouse's own repository, known to everyone: set a password of your own on the Redis server",
		}},
		"example admin token": {base + "admin:\n  addr: 127.0.0.1:9090\n  token_file: " + exampleToken + "\n", []string{
			"admin.token_file: is an example value published in gatehouse's own repository, known to everyone: generate your own with: openssl rand -hex 32",
		}},
		"plain text": {strings.Replace(base, "https://login.example.com", "http://idp.internal", 1) + "session:\n  store: redis\nredis:\n  addrs: [127.0.0.1:6379, redis.internal:6379]\n  master_name: m\n  password: pw\nadmin:\n  addr: 0.0.0.0:9090\n  token_file: /t\n", []string{
			"oidc.issuer_url: plain http to idp.internal: the client secret, tokens and signing keys cross the network unencrypted, and anyone on the path can forge them; use https",
			"redis.tls.enabled: false, but redis.password is set and redis.addrs[1] (redis.internal:6379) is not on loopback: the password and the session records cross the network unencrypted",
			"admin.addr: 0.0.0.0:9090 is not loopback and admin.tls is not set: the admin token and /metrics cross the network unencrypted; set admin.tls or bind to 127.0.0.1",
		}},
		"v2 session records": {base + "session:\n  store: redis\nredis:\n  addrs: [127.0.0.1:6379]\n  record_format: v2\n", []string{
			`redis.record_format: "v2": session records are written in the slower JSON format of earlier releases, for a rolling upgrade from one; set "v3" (the default) once every replica runs this release`,
		}},
		"plain text on loopback is fine": {strings.Replace(base, "https://login.example.com", "http://127.0.0.1:5556", 1) + "admin:\n  addr: 127.0.0.1:9090\n  token_file: /t\n", nil},
		"callback on another host than public_url": {base + "http:\n  public_url: https://auth.example.com\n", []string{
			"oidc.redirect_url: on app.example.com, but http.public_url is on auth.example.com: the provider sends people back to a host where gatehouse's /oauth2/ endpoints are not, or the login cookie is not; use https://auth.example.com/oauth2/callback",
		}},
		"cookie domain that does not cover the callback": {strings.Replace(base, "cookie:\n", "cookie:\n  domain: .example.org\n", 1), []string{
			"cookie.domain: .example.org does not cover app.example.com, the host of oidc.redirect_url: browsers refuse the session cookie set at the callback",
		}},
		"cookie domain that covers the callback": {strings.Replace(base, "cookie:\n", "cookie:\n  domain: .example.com\n", 1), nil},
		"example secrets from the example files": {strings.Replace(strings.Replace(base, "client_secret: s3cret", "client_secret_file: "+absPath("../../examples/secrets/client_secret"), 1), "secrets: [3q2+7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=]", "secrets_file: "+absPath("../../examples/secrets/cookie_secrets"), 1), []string{
			"oidc.client_secret_file: is an example value published in gatehouse's own repository, known to everyone: use the secret your provider issued for this client",
			"cookie.secrets_file: is an example value published in gatehouse's own repository, known to everyone: generate your own with: openssl rand -base64 32",
		}},
		"admits nobody": {strings.Replace(base, "access:\n  email_domains: [example.com]\n", "", 1), []string{
			"access: email_domains, emails and groups are empty and allow_any_authenticated is false: every signed-in user will get 403",
		}},
	} {
		t.Run(name, func(t *testing.T) {
			r := checkText(t, tc.yaml, nil)
			if len(r.Errors) > 0 {
				t.Fatalf("not valid: %v", r.Errors)
			}
			sameLines(t, "warnings", warningStrings(r.Warnings), tc.want)
		})
	}
}

// TestExampleSecretsAreKnown scans the repository's examples, deployment
// files and documentation for the secrets they show (files in a secrets
// folder, values of secret and password keys, and any base64 cookie key of
// 32 bytes) and fails for one that exampleSecrets does not know, so a
// configuration copied from them gets its warning.
func TestExampleSecretsAreKnown(t *testing.T) {
	keyValue := regexp.MustCompile(`(?i)[\w-]*(?:secret|password)s?["']?[ \t]*(?::[ \t]+|=)\[?[ \t]*["']?([^"'\s#,\]]+)`)
	b64 := regexp.MustCompile(`[A-Za-z0-9+/_-]{42,44}={0,2}`)
	placeholder := func(v string) bool {
		// Shorter values are words of prose ("client_secret: is ..."),
		// not secrets anyone would copy.
		return len(v) < 6 || strings.ContainsAny(v[:1], "$/.<{|>(`") || strings.Contains(v, "{{") || strings.HasPrefix(v, "...")
	}
	found := map[string]string{}
	scan := func(file string) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		inSecrets := filepath.Base(filepath.Dir(file)) == "secrets" && !strings.HasSuffix(file, ".sh") && filepath.Base(file) != ".gitignore"
		for i, line := range strings.Split(string(data), "\n") {
			where := file + ":" + strconv.Itoa(i+1)
			trimmed := strings.TrimSpace(line)
			if inSecrets && trimmed != "" && !strings.HasPrefix(trimmed, "#") {
				found[trimmed] = where
			}
			for _, m := range keyValue.FindAllStringSubmatch(line, -1) {
				if !placeholder(m[1]) {
					found[m[1]] = where
				}
			}
			for _, m := range b64.FindAllString(line, -1) {
				if k, err := decodeKey(m); err == nil && len(k) == 32 {
					found[m] = where
				}
			}
		}
	}
	root := "../.."
	scan(filepath.Join(root, "README.md"))
	for _, dir := range []string{"examples", "deploy", "docs"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if d.Name() == "node_modules" || d.Name() == "check" {
					return filepath.SkipDir
				}
				return nil
			}
			switch ext := filepath.Ext(p); {
			case ext == ".go" || ext == ".sum" || ext == ".mod" || ext == ".png" || ext == ".svg" || ext == ".sh":
				return nil
			}
			scan(p)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	known := exampleSecrets()
	for v, where := range found {
		if !slices.Contains(known, v) && !isExampleSecret(v) {
			t.Errorf("%s shows the secret %q, which exampleSecrets does not list", where, v)
		}
	}
	if len(found) == 0 {
		t.Fatal("the scan found no secret at all")
	}
	for _, k := range known {
		if _, err := base64.StdEncoding.DecodeString(k); err == nil && len(k) == 44 && !isExampleSecret(k) {
			t.Errorf("%q is listed but not recognized", k)
		}
	}
}
