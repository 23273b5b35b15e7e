//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestShippedConfigsValid checks the deploy/ files (through the same
// overlays the end-to-end test uses) with the proxies' own validators, and
// that the Caddyfile is in caddy fmt's canonical form.
func TestShippedConfigsValid(t *testing.T) {
	dir := t.TempDir()
	ps := proxySetup{Dir: dir, Host: "app.check.localhost", HTTPPort: 18080, HTTPSPort: 18443, AdminPort: 12019,
		GatehouseAddr: "127.0.0.1:14180", AppAddr: "127.0.0.1:15050", IPv6: true}

	t.Run("nginx", func(t *testing.T) {
		bin, err := lookTool("GATEHOUSE_E2E_NGINX", "nginx", "/usr/sbin/nginx")
		if err != nil {
			t.Fatal(err)
		}
		crt, key, err := selfSignedCert(dir, ps.Host)
		if err != nil {
			t.Fatal(err)
		}
		conf := filepath.Join(dir, "nginx.conf")
		if err := overlayFile("nginx/nginx.conf", conf,
			"pid /run/nginx.pid;", "pid "+filepath.Join(dir, "nginx.pid")+";",
			"/var/log/nginx/error.log", filepath.Join(dir, "nginx-error.log"),
			"/var/log/nginx/access.log", filepath.Join(dir, "nginx-access.log"),
			"/etc/ssl/certs/app.example.com.crt", crt,
			"/etc/ssl/private/app.example.com.key", key,
		); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "-t", "-e", filepath.Join(dir, "nginx-error.log"), "-p", dir, "-c", conf).CombinedOutput()
		if err != nil {
			t.Fatalf("nginx -t: %v\n%s", err, out)
		}
	})

	t.Run("caddy", func(t *testing.T) {
		bin, err := lookTool("GATEHOUSE_E2E_CADDY", "caddy")
		if err != nil {
			t.Fatal(err)
		}
		src := filepath.Join("..", "deploy", "caddy", "Caddyfile")
		cmd := exec.Command(bin, "validate", "--config", src, "--adapter", "caddyfile")
		cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("caddy validate: %v\n%s", err, out)
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		formatted, err := exec.Command(bin, "fmt", src).Output()
		if err != nil {
			t.Fatalf("caddy fmt: %v", err)
		}
		if string(formatted) != string(b) {
			t.Errorf("deploy/caddy/Caddyfile is not in caddy fmt form")
		}
	})
}
