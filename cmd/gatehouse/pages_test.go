package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/oidctest"
)

// TestBrokenPageOverrideStopsStartup: a template override that does not
// execute stops newApp with the file and the page named.
func TestBrokenPageOverrideStopsStartup(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "forbidden.html")
	if err := os.WriteFile(bad, []byte(`{{define "title"}}x{{end}}{{define "content"}}{{.Page.Acount}}{{end}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := baseEnv(t, oidctest.Start(t, oidctest.Options{}), "pages-")
	env["GATEHOUSE_SESSION_STORE"] = "memory"
	env["GATEHOUSE_COOKIE_SECRETS"] = randomKey(t)
	env["GATEHOUSE_HTTP_ADDR"] = "127.0.0.1:0"
	env["GATEHOUSE_OIDC_REDIRECT_URL"] = "http://127.0.0.1/oauth2/callback"
	env["GATEHOUSE_PAGES_TEMPLATES_DIR"] = dir
	cfg, err := config.Load("", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	_, err = newApp(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), "pages.templates_dir: "+bad+": page forbidden (account named)") || !strings.Contains(err.Error(), "can't evaluate field Acount") {
		t.Fatalf("got %v", err)
	}
}

// TestPagesServed: the sign-in and signed-out pages are served, with the
// configured product name and footer link.
func TestPagesServed(t *testing.T) {
	env := baseEnv(t, oidctest.Start(t, oidctest.Options{}), "pages-")
	env["GATEHOUSE_SESSION_STORE"] = "memory"
	env["GATEHOUSE_COOKIE_SECRETS"] = randomKey(t)
	env["GATEHOUSE_PAGES_PRODUCT_NAME"] = "Acme SSO"
	env["GATEHOUSE_PAGES_PROVIDER_NAME"] = "Acme ID"
	inst := startInstance(t, env)
	for path, want := range map[string]string{
		"/oauth2/sign_in?rd=/x":    "Continue with Acme ID",
		"/oauth2/signed_out?rd=/x": "You are signed out",
	} {
		resp, err := http.Get(inst.url + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) || !strings.Contains(string(b), "· Acme SSO</title>") {
			t.Errorf("%s: %d %s", path, resp.StatusCode, b)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'none'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
	}
}

// TestCheckConfigBuildsPages: check-config reads and executes the template
// overrides as serve does, and names the broken file.
func TestCheckConfigBuildsPages(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "signin.html")
	if err := os.WriteFile(bad, []byte(`{{define "content"}}{{if}}{{end}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := goodEnv(t, oidctest.Start(t, oidctest.Options{}))
	env["GATEHOUSE_PAGES_TEMPLATES_DIR"] = dir
	var out bytes.Buffer
	code := run(context.Background(), []string{"check-config"}, &out, &out, lookupIn(env))
	if code == 0 || !strings.Contains(out.String(), "pages.templates_dir: "+bad+": template: signin.html:1: missing value for if") {
		t.Errorf("exit %d:\n%s", code, out.String())
	}
	delete(env, "GATEHOUSE_PAGES_TEMPLATES_DIR")
	out.Reset()
	if code := run(context.Background(), []string{"check-config"}, &out, &out, lookupIn(env)); code != 0 {
		t.Errorf("valid config: exit %d:\n%s", code, out.String())
	}
}
