package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/oidctest"
)

// withAdmin asks startInstance for an admin listener (which needs a token).
func withAdmin(t *testing.T, env map[string]string) {
	t.Helper()
	token := filepath.Join(t.TempDir(), "admin-token")
	if err := os.WriteFile(token, []byte(strings.Repeat("t", 40)), 0o600); err != nil {
		t.Fatal(err)
	}
	env["GATEHOUSE_ADMIN_ADDR"] = "auto"
	env["GATEHOUSE_ADMIN_TOKEN_FILE"] = token
}

func getBody(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// TestReadyzNamesButDoesNotDescribe: with Redis unreachable, the public
// /readyz is 503 and names the session store, but prints none of the
// error (addresses, dial errors); the admin listener's /readyz has the
// detail.
func TestReadyzNamesButDoesNotDescribe(t *testing.T) {
	p := oidctest.Start(t, oidctest.Options{})
	env := baseEnv(t, p, "gatehouse-test:readyz-detail:")
	env["GATEHOUSE_COOKIE_SECRETS"] = randomKey(t)
	env["GATEHOUSE_REDIS_ADDRS"] = "127.0.0.1:1" // nothing listens there
	withAdmin(t, env)
	gh := startInstance(t, env)

	resp, body := getBody(t, gh.url+"/readyz")
	if resp.StatusCode != http.StatusServiceUnavailable || strings.TrimSpace(body) != "not ready: session_store" {
		t.Errorf("public readyz: %d %q, want 503 %q", resp.StatusCode, body, "not ready: session_store")
	}
	resp, body = getBody(t, "http://"+gh.admin+"/readyz")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "session_store: ") || !strings.Contains(body, "127.0.0.1:1") {
		t.Errorf("admin readyz: %d %q, want 503 with the store's error", resp.StatusCode, body)
	}
}

// TestReadyzPolicyFileErrorStaysPrivate: a policy file that stops
// building keeps the previous policy in force, so gatehouse stays ready;
// the public /readyz says only that the policy file is stale, never what
// is wrong with it (which would show a policy's hosts, paths and rules to
// anyone), while the admin listener's /readyz and the log have the error.
func TestReadyzPolicyFileErrorStaysPrivate(t *testing.T) {
	p := oidctest.Start(t, oidctest.Options{})
	pf := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(pf, []byte("email_domains: [example.com]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := baseEnv(t, p, "")
	delete(env, "GATEHOUSE_ACCESS_EMAIL_DOMAINS")
	delete(env, "GATEHOUSE_ACCESS_ALLOW_ANY_AUTHENTICATED")
	env["GATEHOUSE_SESSION_STORE"] = "memory"
	env["GATEHOUSE_COOKIE_SECRETS"] = randomKey(t)
	env["GATEHOUSE_ACCESS_POLICY_FILE"] = pf
	withAdmin(t, env)
	gh := startInstance(t, env)

	// Serve starts the reloader (which takes the file as it is then to be
	// the policy in force) before it serves: wait for an answer first.
	waitReady(t, http.DefaultClient, gh.url)
	const marker = "billing-admin-7f3" // a path the policy would rather not publish
	broken := "rules:\n  - name: billing\n    path_regex: \"^/(" + marker + "\"\n    action: deny\n"
	if err := os.WriteFile(pf, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	// The reloader applies a change once two polls (2s apart) agree.
	var resp *http.Response
	var body string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if resp, body = getBody(t, gh.url+"/readyz"); resp.Header.Get("X-Gatehouse-Policy") == "stale" {
			break
		}
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Gatehouse-Policy") != "stale" {
		_, admin := getBody(t, "http://"+gh.admin+"/readyz")
		t.Fatalf("public readyz: %d (X-Gatehouse-Policy %q), want 200 stale; admin readyz: %q", resp.StatusCode, resp.Header.Get("X-Gatehouse-Policy"), admin)
	}
	for _, leak := range []string{marker, "path_regex", "rules[0]", pf} {
		if strings.Contains(body, leak) {
			t.Errorf("public readyz shows %q: %q", leak, body)
		}
	}
	if body != "ready\npolicy_file: stale\n" {
		t.Errorf("public readyz body %q, want only the component named", body)
	}
	resp, admin := getBody(t, "http://"+gh.admin+"/readyz")
	if resp.StatusCode != http.StatusOK || !strings.Contains(admin, "policy_file: stale: ") || !strings.Contains(admin, "path_regex") {
		t.Errorf("admin readyz: %d %q, want 200 with the policy file's error", resp.StatusCode, admin)
	}
}
