package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestMigrateSeedPassesCheckConfig converts the seed's oauth2-proxy
// variables (an env file, and the compose service) and runs check-config
// on the result with the two secrets the migration asks for in the
// environment, as the compose file after the migration sets them.
func TestMigrateSeedPassesCheckConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"env file", []string{"--env-file", "../../internal/migrate/testdata/seed.env"}},
		{"compose", []string{"--compose", "../../internal/migrate/testdata/seed-compose.yaml", "--redirect-url", "https://app.company.com/oauth2/callback"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), append([]string{"migrate", "oauth2-proxy"}, tc.args...), &out, &errOut, noEnv)
			if code != 0 {
				t.Fatalf("migrate exit %d: %s", code, errOut.String())
			}
			if strings.Contains(out.String(), "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nted") || strings.Contains(errOut.String(), "GOCSPX-seed") {
				t.Fatal("the client secret was printed")
			}
			cfg := filepath.Join(t.TempDir(), "gatehouse.yaml")
			if err := os.WriteFile(cfg, out.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			env := map[string]string{
				"GATEHOUSE_OIDC_CLIENT_SECRET": "the-client-secret-from-google",
				"GATEHOUSE_COOKIE_SECRETS":     "q1cC0Vd5o4oYcZ1mJ1uR1XbE3XgVb8c3kq8T4o1Zy2E=",
				"GATEHOUSE_OIDC_CLIENT_ID":     "123456789012-abcdefghijklmnop.apps.googleusercontent.com",
			}
			lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
			var ccOut, ccErr bytes.Buffer
			if code := run(context.Background(), []string{"check-config", "--config", cfg}, &ccOut, &ccErr, lookup); code != 0 {
				t.Fatalf("check-config exit %d:\n%s%s\nconfiguration:\n%s", code, ccOut.String(), ccErr.String(), out.String())
			}
			// Without the secrets it does not pass: they are references, not values.
			if code := run(context.Background(), []string{"check-config", "--config", cfg}, &ccOut, &ccErr, noEnv); code == 0 {
				t.Fatal("check-config accepted the migrated configuration without its secrets")
			}
		})
	}
}

func noEnv(string) (string, bool) { return "", false }

// TestMigrateExitsOneWhenNotCarried: flags after -- are oauth2-proxy's;
// a setting that cannot be carried safely prints the configuration and
// exits 1, naming it.
func TestMigrateExitsOneWhenNotCarried(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"migrate", "oauth2-proxy", "--", "--provider=oidc", "--oidc-issuer-url=https://id.company.com",
		"--email-domain=company.com", "--ssl-insecure-skip-verify"}, &out, &errOut, noEnv)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "issuer_url: https://id.company.com") {
		t.Errorf("the configuration is still printed:\n%s", out.String())
	}
	if !strings.Contains(errOut.String(), "--ssl-insecure-skip-verify") || !strings.Contains(out.String(), "# NOT CARRIED (security):") {
		t.Errorf("the setting is not named:\n%s\n%s", errOut.String(), out.String())
	}
	// Nothing to read is a usage error.
	if code := run(context.Background(), []string{"migrate", "oauth2-proxy"}, &out, &errOut, noEnv); code != 2 {
		t.Errorf("no source: exit %d, want 2", code)
	}
	if code := run(context.Background(), []string{"migrate", "traefik"}, &out, &errOut, noEnv); code != 2 {
		t.Errorf("unknown source product: exit %d, want 2", code)
	}
}

// TestMigrationDocIsTrue: docs/migrating-from-oauth2-proxy.md shows the
// seed's compose file, exactly what the migration prints for it, and the
// compose file after, whose gatehouse service sets exactly the variables
// the migration asks for; with them (compose's ${...} filled in) and the
// printed configuration, check-config passes.
func TestMigrationDocIsTrue(t *testing.T) {
	doc, err := os.ReadFile("../../docs/migrating-from-oauth2-proxy.md")
	if err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile("../../internal/migrate/testdata/seed-compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	after, err := os.ReadFile("../../internal/migrate/testdata/seed-compose-after.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"migrate", "oauth2-proxy", "--compose", "../../internal/migrate/testdata/seed-compose.yaml",
		"--redirect-url", "https://app.company.com/oauth2/callback"}, &out, &errOut, noEnv); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for name, block := range map[string][]byte{"before": before, "printed": out.Bytes(), "after": after} {
		if !bytes.Contains(doc, append(append([]byte("```yaml\n"), block...), "```\n"...)) {
			t.Errorf("the doc does not show the %s configuration as it is:\n%s", name, block)
		}
	}
	var compose struct {
		Services map[string]struct {
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(after, &compose); err != nil {
		t.Fatal(err)
	}
	gotEnv := compose.Services["gatehouse"].Environment
	var asked []string
	for _, line := range strings.Split(out.String(), "\n") {
		if name, _, ok := strings.Cut(strings.TrimPrefix(line, "#   "), ":"); ok && strings.HasPrefix(line, "#   GATEHOUSE_") {
			asked = append(asked, name)
		}
	}
	if len(asked) != len(gotEnv) {
		t.Errorf("the migration asks for %v, the compose file after sets %v", asked, gotEnv)
	}
	filled := map[string]string{"${CLIENT_ID}": "123456789012-abc.apps.googleusercontent.com", "${CLIENT_SECRET}": "the-client-secret", "${GATEHOUSE_COOKIE_SECRET}": randomKey(t)}
	env := map[string]string{}
	for _, name := range asked {
		v, ok := gotEnv[name]
		if !ok {
			t.Errorf("the compose file after does not set %s", name)
		}
		env[name] = filled[v]
	}
	cfg := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(cfg, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	if code := run(context.Background(), []string{"check-config", "--config", cfg}, &out, &errOut, lookup); code != 0 {
		t.Fatalf("check-config with the compose file's environment: exit %d\n%s", code, errOut.String())
	}
}

// TestMigrateGitHubPassesCheckConfig: oauth2-proxy's github provider,
// given as flags, becomes a providers entry with the github preset whose
// secret is a file (--secrets-dir), and check-config accepts it.
func TestMigrateGitHubPassesCheckConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "github_client_secret"), []byte("the-github-secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cookie_secrets"), []byte(randomKey(t)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"migrate", "oauth2-proxy", "--secrets-dir", dir, "--",
		"--provider=github", "--github-org=acme", "--github-team=ops", "--email-domain=*", "--client-id=Iv1.abc",
		"--client-secret=the-github-secret", "--redirect-url=https://app.company.com/oauth2/callback"}, &out, &errOut, noEnv)
	if code != 0 {
		t.Fatalf("migrate exit %d: %s", code, errOut.String())
	}
	if strings.Contains(out.String(), "the-github-secret") {
		t.Fatal("the secret was printed")
	}
	cfg := filepath.Join(dir, "gatehouse.yaml")
	if err := os.WriteFile(cfg, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if code := run(context.Background(), []string{"check-config", "--config", cfg}, &out, &errOut, noEnv); code != 0 {
		t.Fatalf("check-config exit %d: %s", code, errOut.String())
	}
}
