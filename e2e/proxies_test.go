//go:build e2e

package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// proxySetup is everything a proxy overlay needs to know.
type proxySetup struct {
	Dir           string // private working directory
	Host          string // the app's host name, e.g. app.nginx.localhost
	HTTPPort      int
	HTTPSPort     int
	AdminPort     int    // Caddy's admin API
	GatehouseAddr string // replica A
	SPOEAddr      string // replica A's spoe.addr (HAProxy's agent)
	AppAddr       string // the echo app
	IPv6          bool   // [::1] is usable
}

// proxyKind starts one proxy from its shipped configuration.
type proxyKind struct {
	name  string
	start func(ctx context.Context, s proxySetup, bin string) (*proc, error)
	// upstreams, when set, is gatehouse's upstreams: section for an app
	// at appAddr: the proxy sends everything to gatehouse, which proxies
	// to the app itself (reverse-proxy mode, reverseproxy_test.go).
	upstreams func(appAddr string) string
}

// substitute applies old→new pairs to the shipped text. Every old string
// must occur, so a change to a shipped file that the overlay no longer
// matches fails loudly instead of silently testing something else.
func substitute(src string, pairs ...string) (string, error) {
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(src, pairs[i]) {
			return "", fmt.Errorf("overlay: %q not found in the shipped file", pairs[i])
		}
	}
	// One pass over the original text: a value written by one pair (a
	// port such as 50503) is never rewritten by a later one (the
	// "127.0.0.1:5050" of the app's address).
	return strings.NewReplacer(pairs...).Replace(src), nil
}

// overlayFile reads deploy/<rel>, substitutes and writes it to dst.
func overlayFile(rel, dst string, pairs ...string) error {
	b, err := os.ReadFile(filepath.Join("..", "deploy", rel))
	if err != nil {
		return fmt.Errorf("read shipped config: %w", err)
	}
	out, err := substitute(string(b), pairs...)
	if err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	return os.WriteFile(dst, []byte(out), 0o644)
}

var proxyKinds = []proxyKind{
	{name: "nginx", start: startNginx},
	{name: "caddy", start: startCaddy},
	{name: "traefik", start: startTraefik},
	{name: "haproxy", start: startHAProxy},
}

// nginxPairs are the overlay pairs both shipped nginx configs take: files
// in the working directory, loopback listeners (IPv6 when the machine has
// it), the test's host name and a fresh self-signed certificate for it,
// and gatehouse's address.
func nginxPairs(s proxySetup) ([]string, error) {
	crt, key, err := selfSignedCert(s.Dir, s.Host)
	if err != nil {
		return nil, err
	}
	v6 := func(port int, rest string) string {
		if !s.IPv6 {
			return "# (no IPv6 loopback in this test)"
		}
		return fmt.Sprintf("listen [::1]:%d%s", port, rest)
	}
	return []string{
		"pid /run/nginx.pid;", "pid " + filepath.Join(s.Dir, "nginx.pid") + ";",
		"/var/log/nginx/error.log", filepath.Join(s.Dir, "nginx-error.log"),
		"/var/log/nginx/access.log", filepath.Join(s.Dir, "nginx-access.log"),
		"listen 80 default_server;", fmt.Sprintf("listen 127.0.0.1:%d default_server;", s.HTTPPort),
		"listen [::]:80 default_server;", v6(s.HTTPPort, " default_server;"),
		"listen 443 ssl default_server;", fmt.Sprintf("listen 127.0.0.1:%d ssl default_server;", s.HTTPSPort),
		"listen [::]:443 ssl default_server;", v6(s.HTTPSPort, " ssl default_server;"),
		"listen 80;", fmt.Sprintf("listen 127.0.0.1:%d;", s.HTTPPort),
		"listen [::]:80;", v6(s.HTTPPort, ";"),
		"listen 443 ssl http2;", fmt.Sprintf("listen 127.0.0.1:%d ssl http2;", s.HTTPSPort),
		"listen [::]:443 ssl http2;", v6(s.HTTPSPort, " ssl http2;"),
		"app.example.com", s.Host,
		"/etc/ssl/certs/app.example.com.crt", crt,
		"/etc/ssl/private/app.example.com.key", key,
		"127.0.0.1:4180", s.GatehouseAddr,
	}, nil
}

// startNginx runs deploy/nginx/nginx.conf with loopback listeners, a
// self-signed certificate and files in the working directory.
func startNginx(ctx context.Context, s proxySetup, bin string) (*proc, error) {
	common, err := nginxPairs(s)
	if err != nil {
		return nil, err
	}
	fallback, err := nginxFallbackRoot(s.Dir)
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(s.Dir, "nginx.conf")
	err = overlayFile("nginx/nginx.conf", conf, append(common,
		"127.0.0.1:5050", s.AppAddr,
		// The fallback page shown when gatehouse cannot be asked, from deploy/nginx.
		"root /etc/nginx/gatehouse;", "root "+fallback+";",
	)...)
	if err != nil {
		return nil, err
	}
	return startProc(s.Dir, "nginx", nil, bin,
		"-e", filepath.Join(s.Dir, "nginx-error.log"), "-p", s.Dir, "-c", conf, "-g", "daemon off;")
}

// startCaddy runs deploy/caddy/Caddyfile on loopback ports; Caddy's own
// CA issues the certificate for the *.localhost name (never installed in
// the system trust store), and its state lives in the working directory.
func startCaddy(ctx context.Context, s proxySetup, bin string) (*proc, error) {
	conf := filepath.Join(s.Dir, "Caddyfile")
	err := overlayFile("caddy/Caddyfile", conf,
		"admin 127.0.0.1:2019", fmt.Sprintf("admin 127.0.0.1:%d\n\thttp_port %d\n\thttps_port %d\n\tskip_install_trust\n\tdefault_bind 127.0.0.1",
			s.AdminPort, s.HTTPPort, s.HTTPSPort),
		"app.example.com {", s.Host+" {",
		"127.0.0.1:5050", s.AppAddr,
		"127.0.0.1:4180", s.GatehouseAddr,
	)
	if err != nil {
		return nil, err
	}
	home := filepath.Join(s.Dir, "caddy-home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, err
	}
	env := []string{"HOME=" + home, "XDG_DATA_HOME=" + home + "/data", "XDG_CONFIG_HOME=" + home + "/config"}
	return startProc(s.Dir, "caddy", env, bin, "run", "--config", conf, "--adapter", "caddyfile")
}

// startTraefik runs deploy/traefik/{traefik,dynamic}.yml on loopback ports.
func startTraefik(ctx context.Context, s proxySetup, bin string) (*proc, error) {
	return startTraefikWith(ctx, s, bin, nil, nil)
}

// startTraefikWith is startTraefik with further old→new pairs applied
// (after the suite's own) to the dynamic and the static file.
func startTraefikWith(ctx context.Context, s proxySetup, bin string, dynExtra, staticExtra []string) (*proc, error) {
	dyn := filepath.Join(s.Dir, "dynamic.yml")
	static := filepath.Join(s.Dir, "traefik.yml")
	err := overlayFile("traefik/dynamic.yml", dyn, append([]string{
		"app.example.com", s.Host,
		"127.0.0.1:5050", s.AppAddr,
		"127.0.0.1:4180", s.GatehouseAddr,
	}, dynExtra...)...)
	if err != nil {
		return nil, err
	}
	err = overlayFile("traefik/traefik.yml", static, append([]string{
		`address: ":80"`, fmt.Sprintf(`address: "127.0.0.1:%d"`, s.HTTPPort),
		`address: ":443"`, fmt.Sprintf(`address: "127.0.0.1:%d"`, s.HTTPSPort),
		"/etc/traefik/dynamic.yml", dyn,
	}, staticExtra...)...)
	if err != nil {
		return nil, err
	}
	return startProc(s.Dir, "traefik", nil, bin, "--configFile="+static)
}

// selfSignedCert writes a fresh ECDSA certificate for host into dir.
func selfSignedCert(dir, host string) (crtPath, keyPath string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: host},
		DNSNames:     []string{host},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", err
	}
	crtPath, keyPath = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(crtPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return "", "", err
	}
	return crtPath, keyPath, nil
}

// TestSubstituteOnePass: a port written by one pair is not rewritten by a
// later pair that matches its prefix (CI once started nginx on
// "127.0.0.1:398273": HTTPPort 50503 became the app's address plus "3").
func TestSubstituteOnePass(t *testing.T) {
	got, err := substitute("listen 80;\nproxy_pass http://127.0.0.1:5050;\n",
		"listen 80;", "listen 127.0.0.1:50503;",
		"127.0.0.1:5050", "127.0.0.1:39827")
	if err != nil {
		t.Fatal(err)
	}
	if want := "listen 127.0.0.1:50503;\nproxy_pass http://127.0.0.1:39827;\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := substitute("listen 80;", "listen 443;", "x"); err == nil {
		t.Error("an old string missing from the shipped file was not reported")
	}
}
