package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// runCmd runs gatehouse-dev with args and a context that is already
// cancelled, so a command that starts returns at once.
func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	code := run(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "dev-provider.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDevProviderRefusesPublicAddress: without --allow-public only loopback
// addresses are accepted, with an error that names the flag to pass.
func TestDevProviderRefusesPublicAddress(t *testing.T) {
	base := []string{"dev-provider", "--user", "a:b", "--redirect-uri", "http://127.0.0.1:4180/oauth2/callback"}
	for _, listen := range []string{"0.0.0.0:0", ":0", "192.0.2.10:9000", "[::]:0", "example.com:9000"} {
		code, out, errs := runCmd(t, append(base, "--listen", listen)...)
		if code != 1 || !strings.Contains(errs, "listen (--listen) \""+listen+"\" is not a loopback address") ||
			!strings.Contains(errs, "--allow-public") || out != "" {
			t.Errorf("--listen %s: code %d, stdout %q, stderr %q", listen, code, out, errs)
		}
	}
	// The same file setting is refused the same way: the file cannot allow it.
	f := writeFile(t, "listen: 0.0.0.0:0\nusers: [{name: a, password: b}]\nredirect_uris: [http://127.0.0.1:4180/oauth2/callback]\n")
	if code, _, errs := runCmd(t, "dev-provider", "--config", f); code != 1 || !strings.Contains(errs, "is not a loopback address") {
		t.Errorf("listen from the file: code %d, stderr %q", code, errs)
	}
	// Loopback, by name or address, starts.
	for _, listen := range []string{"127.0.0.1:0", "[::1]:0", "localhost:0"} {
		if listen == "[::1]:0" && !hasIPv6Loopback() {
			continue
		}
		code, out, errs := runCmd(t, append(base, "--listen", listen)...)
		if code != 0 || !strings.Contains(out, "issuer:") {
			t.Errorf("--listen %s: code %d, stdout %q, stderr %q", listen, code, out, errs)
		}
	}
}

func hasIPv6Loopback() bool {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// TestDevProviderAllowPublic: --allow-public listens on every interface,
// warns, and needs an issuer when the address is not one host.
func TestDevProviderAllowPublic(t *testing.T) {
	base := []string{"dev-provider", "--allow-public", "--listen", "0.0.0.0:0", "--user", "a:b", "--redirect-uri", "http://127.0.0.1:4180/oauth2/callback"}
	code, _, errs := runCmd(t, base...)
	if code != 1 || !strings.Contains(errs, "issuer (--issuer): required when listen (\"0.0.0.0:0\") is not one address") {
		t.Fatalf("without an issuer: code %d, stderr %q", code, errs)
	}
	code, out, errs := runCmd(t, append(base, "--issuer", "http://dev-idp.internal:9000")...)
	if code != 0 || !strings.Contains(errs, "warning: --allow-public") || !strings.Contains(errs, "beyond loopback") || strings.Contains(errs, "127.0.0.1") ||
		!strings.Contains(out, "issuer:         http://dev-idp.internal:9000") {
		t.Fatalf("with --allow-public: code %d, stdout %q, stderr %q", code, out, errs)
	}
}

// TestDevProviderFileErrors: every problem of a file is reported at once,
// each naming its key (and line, for the file's shape).
func TestDevProviderFileErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		want       []string
	}{
		{"unknown keys", `
listen: 127.0.0.1:0
redirect_uri: http://127.0.0.1:4180/oauth2/callback
users:
  - name: alice
    pasword: x
`, []string{
			"redirect_uri (line 3): unknown key",
			"users[0].pasword (line 6): unknown key",
			"users[0].password: required",
			"redirect_uris (--redirect-uri): at least one is needed",
		}},
		{"wrong types", `
redirect_uris: http://127.0.0.1:4180/oauth2/callback
client_id: [a, b]
users:
  name: alice
`, []string{
			"redirect_uris (line 2): must be a list of strings",
			"client_id (line 3): must be a string",
			"users (line 5): must be a list of users",
		}},
		{"bad values", `
issuer: ftp://idp
redirect_uris: [http://127.0.0.1:4180/oauth2/callback, /oauth2/callback]
post_logout_redirect_uris: ["https://app.example.com/#x"]
users:
  - {name: alice, password: a, email: alice}
  - {name: alice, password: b, groups: [ok, " "]}
  - {password: c}
  - {name: "x:y", password: d, groups: {a: b}}
`, []string{
			`issuer (--issuer) "ftp://idp": must be an absolute http:// or https:// URL`,
			`redirect_uris[1] (--redirect-uri) "/oauth2/callback": must be an absolute http:// or https:// URL`,
			`post_logout_redirect_uris[0] (--post-logout-redirect-uri) "https://app.example.com/#x": must not have a fragment`,
			`users[0].email "alice": not an email address`,
			`users[1].name "alice": already used by users[0]`,
			`users[1].groups[1]: empty group name`,
			`users[2].name: required`,
			`users[3].groups (line 9): must be a list of strings`,
		}},
		{"not a mapping", "- a\n- b\n", []string{"the file (line 1): must be a mapping of keys to values"}},
		{"bad YAML", "users: [\n", []string{"dev-provider.yaml: yaml:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCmd(t, "dev-provider", "--config", writeFile(t, tc.file))
			if code != 1 || out != "" {
				t.Errorf("code %d, stdout %q", code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errs)
				}
			}
		})
	}
	if code, _, errs := runCmd(t, "dev-provider", "--config", filepath.Join(t.TempDir(), "missing.yaml")); code != 1 ||
		!strings.Contains(errs, "dev provider file:") || !strings.Contains(errs, "missing.yaml") {
		t.Errorf("missing file: code %d, stderr %q", code, errs)
	}
	if code, _, errs := runCmd(t, "dev-provider", "--user", "nopassword", "--redirect-uri", "http://127.0.0.1:1/cb"); code != 1 ||
		!strings.Contains(errs, `--user "nopassword": want NAME:PASSWORD`) {
		t.Errorf("bad --user: code %d, stderr %q", code, errs)
	}
}

// TestDevProviderPrintsWorkingSettings starts the provider from a file and
// flags, reads what it prints, and checks it against the running provider:
// the issuer serves discovery, the printed secret is the generated one in
// the snippet, and flags override the file.
func TestDevProviderPrintsWorkingSettings(t *testing.T) {
	f := writeFile(t, `
listen: 127.0.0.1:1
client_id: from-file
redirect_uris: [http://127.0.0.1:4180/oauth2/callback]
users:
  - {name: alice, password: a, email: alice@example.com, groups: [admins]}
`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"dev-provider", "--config", f, "--listen", "127.0.0.1:0", "--client-id", "from-flag",
			"--user", "bob:b:bob@example.org:dev,ops"}, pw, &errb)
		pw.Close()
	}()
	var out strings.Builder
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "Stop with Ctrl-C") {
			break
		}
	}
	go io.Copy(io.Discard, pr)
	printed := out.String()
	i := strings.Index(printed, "oidc:\n")
	j := strings.Index(printed, "\n  Stop with")
	if i < 0 || j < i {
		t.Fatalf("no oidc: snippet in:\n%s\nstderr: %s", printed, errb.String())
	}
	var snippet struct {
		OIDC struct {
			IssuerURL    string `yaml:"issuer_url"`
			ClientID     string `yaml:"client_id"`
			ClientSecret string `yaml:"client_secret"`
			RedirectURL  string `yaml:"redirect_url"`
		} `yaml:"oidc"`
	}
	if err := yaml.Unmarshal([]byte(printed[i:j]), &snippet); err != nil {
		t.Fatalf("snippet: %v\n%s", err, printed[i:j])
	}
	s := snippet.OIDC
	if s.ClientID != "from-flag" || len(s.ClientSecret) < 40 || s.RedirectURL != "http://127.0.0.1:4180/oauth2/callback" ||
		!strings.Contains(printed, "client secret:  "+s.ClientSecret+"\n") ||
		!strings.Contains(printed, `alice        email "alice@example.com", groups [admins]`) ||
		!strings.Contains(printed, `bob          email "bob@example.org", groups [dev, ops]`) {
		t.Fatalf("printed:\n%s", printed)
	}
	if strings.Contains(printed, "127.0.0.1:1\n") || !strings.HasPrefix(s.IssuerURL, "http://127.0.0.1:") {
		t.Fatalf("--listen did not override the file: issuer %q", s.IssuerURL)
	}
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(s.IssuerURL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var disc struct {
		Issuer string `json:"issuer"`
	}
	err = json.NewDecoder(resp.Body).Decode(&disc)
	resp.Body.Close()
	if err != nil || disc.Issuer != s.IssuerURL {
		t.Fatalf("discovery: %v, issuer %q, want %q", err, disc.Issuer, s.IssuerURL)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit code %d, stderr %s", code, errb.String())
	}
}
