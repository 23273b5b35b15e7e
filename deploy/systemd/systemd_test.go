// Package systemd_test checks deploy/systemd/gatehouse.service with
// systemd's own tools (systemd-analyze verify and security, offline, on a
// scratch root that holds the unit, stand-ins for the binaries it runs, and
// the host's stock units) and checks that the credentials it passes reach
// gatehouse's configuration through the *_file settings.
package systemd_test

import (
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/config"
)

const (
	unitFile = "gatehouse.service"
	credDir  = "/run/credentials/gatehouse.service/"
	// maxExposure is the highest "systemd-analyze security" exposure level
	// accepted (0 is best, 10 worst); the unit scores 1.1 with systemd 252.
	maxExposure = 1.5
)

// directive is one Key=Value line; commented says it was a "#   Key=Value"
// example line (the optional credentials).
type directive struct {
	key, value string
	commented  bool
}

func readUnit(t *testing.T) []directive {
	t.Helper()
	f, err := os.Open(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	example := regexp.MustCompile(`^#\s+([A-Z][A-Za-z]+)=(.*)$`)
	var ds []directive
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if m := example.FindStringSubmatch(line); m != nil {
			ds = append(ds, directive{m[1], m[2], true})
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: not Key=Value: %q", unitFile, line)
		}
		ds = append(ds, directive{k, v, false})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return ds
}

func values(ds []directive, key string, commented bool) []string {
	var out []string
	for _, d := range ds {
		if d.key == key && (!d.commented || commented) {
			out = append(out, d.value)
		}
	}
	return out
}

func systemdAnalyze(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatalf("systemd-analyze is needed (apt-get install systemd; .ci/run installs it): %v", err)
	}
	return p
}

// scratchRoot builds a root for systemd-analyze --root: the host's stock
// units (targets the unit orders itself after), the unit, and an
// executable at every absolute path its Exec* lines run.
func scratchRoot(t *testing.T, ds []directive) (root, unit string) {
	t.Helper()
	root = t.TempDir()
	var stock string
	for _, d := range []string{"/usr/lib/systemd/system", "/lib/systemd/system"} {
		if _, err := os.Stat(filepath.Join(d, "multi-user.target")); err == nil {
			stock = d
			break
		}
	}
	if stock == "" {
		t.Fatal("no stock systemd units (multi-user.target) under /usr/lib/systemd/system: install the systemd package")
	}
	if err := os.CopyFS(filepath.Join(root, "usr/lib/systemd/system"), os.DirFS(stock)); err != nil {
		t.Fatalf("copy %s: %v", stock, err)
	}
	unit = filepath.Join(root, "etc/systemd/system", unitFile)
	src, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	write(t, unit, src, 0o644)
	for _, key := range []string{"ExecStart", "ExecReload"} {
		for _, v := range values(ds, key, false) {
			bin := strings.Fields(v)[0]
			if !filepath.IsAbs(bin) {
				t.Fatalf("%s=%s: not an absolute path", key, v)
			}
			write(t, filepath.Join(root, bin), []byte("#!/bin/sh\n"), 0o755)
		}
	}
	return root, unit
}

func write(t *testing.T, path string, data []byte, mode fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
}

// TestUnitVerifies: systemd-analyze verify accepts the unit with no
// warning at all (an unknown or misspelt key, a bad value, a missing
// executable each print one).
func TestUnitVerifies(t *testing.T) {
	sa := systemdAnalyze(t)
	root, unit := scratchRoot(t, readUnit(t))
	out, err := exec.Command(sa, "--root="+root, "verify", unit).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestUnitSecurityExposure: systemd-analyze security rates the sandbox at
// most maxExposure, and the settings the install story promises are there.
func TestUnitSecurityExposure(t *testing.T) {
	sa := systemdAnalyze(t)
	ds := readUnit(t)
	root, unit := scratchRoot(t, ds)
	out, err := exec.Command(sa, "security", "--offline=yes", "--root="+root, "--no-pager",
		"--threshold="+strconv.FormatFloat(maxExposure*10, 'f', 0, 64), unit).CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for gatehouse\.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security: %v, no overall exposure level in:\n%s", err, out)
	}
	level, _ := strconv.ParseFloat(string(m[1]), 64)
	t.Logf("systemd-analyze security: overall exposure level %.1f (0 best, 10 worst)", level)
	if err != nil || level > maxExposure {
		t.Fatalf("exposure %.1f, want at most %.1f (%v):\n%s", level, maxExposure, err, out)
	}
	for key, want := range map[string]string{
		"DynamicUser": "yes", "NoNewPrivileges": "yes", "CapabilityBoundingSet": "", "ProtectSystem": "strict",
		"ProtectHome": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes", "ConfigurationDirectory": "gatehouse",
		"StateDirectory": "gatehouse",
	} {
		if got := values(ds, key, false); !slices.Equal(got, []string{want}) {
			t.Errorf("%s=%q, want exactly %s=%s", key, got, key, want)
		}
	}
}

// TestUnitCredentialsReachGatehouse: every GATEHOUSE_*_FILE the unit sets
// (the optional, commented ones too) names a credential it loads, each
// credential comes from /etc/gatehouse/credentials/, and the shipped
// example configuration, run as ExecStart runs it with those variables and
// credential files, loads with the secrets from the credentials only.
func TestUnitCredentialsReachGatehouse(t *testing.T) {
	ds := readUnit(t)
	exec := values(ds, "ExecStart", false)
	if len(exec) != 1 || !strings.HasSuffix(exec[0], " serve --config /etc/gatehouse/gatehouse.yaml") {
		t.Fatalf("ExecStart=%q, want gatehouse serve --config /etc/gatehouse/gatehouse.yaml (ConfigurationDirectory=gatehouse)", exec)
	}
	creds := map[string]bool{} // name → commented
	for _, d := range ds {
		if d.key != "LoadCredential" {
			continue
		}
		name, src, ok := strings.Cut(d.value, ":")
		if !ok || src != "/etc/gatehouse/credentials/"+name {
			t.Errorf("LoadCredential=%s: want NAME:/etc/gatehouse/credentials/NAME", d.value)
		}
		creds[name] = d.commented
	}

	dir := t.TempDir()
	env := map[string]string{}
	secrets := map[string]string{
		"oidc-client-secret": "client-secret-from-credentials",
		"cookie-secrets":     "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n",
		"redis-password":     "redis-password-from-credentials",
		"admin-token":        "admin-token-from-credentials-0123456789abcdef",
	}
	for _, kv := range values(ds, "Environment", true) {
		k, v, _ := strings.Cut(kv, "=")
		name, ok := strings.CutPrefix(v, credDir)
		if !strings.HasPrefix(k, "GATEHOUSE_") || !strings.HasSuffix(k, "_FILE") || !ok {
			t.Errorf("Environment=%s: want GATEHOUSE_*_FILE=%sNAME", kv, credDir)
			continue
		}
		if _, loaded := creds[name]; !loaded {
			t.Errorf("Environment=%s: no LoadCredential=%s:...", kv, name)
		}
		if secrets[name] == "" {
			t.Fatalf("credential %s: add a test secret for it", name)
		}
		p := filepath.Join(dir, name)
		write(t, p, []byte(secrets[name]), 0o400)
		env[k] = p
	}
	for name, commented := range creds {
		if !commented && !slices.Contains(values(ds, "Environment", false), envFor(ds, name)) {
			t.Errorf("credential %s is loaded but no GATEHOUSE_*_FILE points at it", name)
		}
	}

	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg, err := config.Load("../../examples/gatehouse.yaml", lookup)
	if err != nil {
		t.Fatalf("the example configuration with the unit's credentials: %v", err)
	}
	if cfg.OIDC.ClientSecret != secrets["oidc-client-secret"] || len(cfg.Cookie.Secrets) != 1 ||
		cfg.Cookie.Secrets[0] != strings.TrimSpace(secrets["cookie-secrets"]) || cfg.Redis.Password != secrets["redis-password"] ||
		cfg.Admin.TokenFile != env["GATEHOUSE_ADMIN_TOKEN_FILE"] {
		t.Fatalf("secrets not from the credentials: client secret %q, cookie secrets %d, redis password %q, admin token file %q",
			cfg.OIDC.ClientSecret, len(cfg.Cookie.Secrets), cfg.Redis.Password, cfg.Admin.TokenFile)
	}
}

// envFor returns the Environment= value that points at credential name.
func envFor(ds []directive, name string) string {
	for _, v := range values(ds, "Environment", false) {
		if strings.HasSuffix(v, "="+credDir+name) {
			return v
		}
	}
	return ""
}
