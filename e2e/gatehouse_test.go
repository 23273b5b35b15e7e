//go:build e2e

package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// gatehouseConfig is what differs between the suite's gatehouse configs.
type gatehouseConfig struct {
	Addr        string // http.addr
	Issuer      string
	RedirectURL string // https://<app host>/oauth2/callback
	CookieKey   string // base64, 32 bytes; the same for both replicas
	RedisAddr   string
	KeyPrefix   string
	// Session holds extra lines under session:, each indented by two
	// spaces (e.g. "  cache_size: 0\n"); empty keeps the defaults.
	Session string
	// LogLevel is log.level; empty means debug.
	LogLevel string
	// Access replaces the access: section (a YAML block starting with
	// "access:"); empty keeps the suite's default policy.
	Access string
	// GRPCAddr is grpc.addr (the Envoy ext_authz listener); empty leaves
	// it unset.
	GRPCAddr string
	// SPOEAddr is spoe.addr (the HAProxy SPOE agent listener); empty
	// leaves it unset.
	SPOEAddr string
	// Upstreams is the upstreams: section (reverse-proxy mode, a YAML
	// block starting with "upstreams:"); empty leaves it unset.
	Upstreams string
}

// defaultAccess is the suite's policy: alice's domain, and one public route.
const defaultAccess = `access:
  email_domains: ["allowed.test"]
  skip:
    - path: /public
`

// yaml renders the configuration file. Both replicas of a proxy's pair get
// the same file but for http.addr, so a session one makes the other can
// read. access.skip has one public route, used to show that spoofed
// X-Forwarded-Uri / X-Original-URL headers cannot reach it.
func (c gatehouseConfig) yaml() string {
	level := c.LogLevel
	if level == "" {
		level = "debug"
	}
	access := c.Access
	if access == "" {
		access = defaultAccess
	}
	grpc := ""
	if c.GRPCAddr != "" {
		grpc = fmt.Sprintf("grpc:\n  addr: %q\n", c.GRPCAddr)
	}
	if c.SPOEAddr != "" {
		grpc += fmt.Sprintf("spoe:\n  addr: %q\n", c.SPOEAddr)
	}
	return fmt.Sprintf(`http:
  addr: %q
%soidc:
  issuer_url: %q
  client_id: web
  client_secret: secret
  redirect_url: %q
cookie:
  secrets:
    - %q
  secure: true
session:
  store: redis
%sredis:
  addrs: [%q]
  key_prefix: %q
redirect:
  allowed_domains: [".localhost"]
%s%slog:
  level: %s
`, c.Addr, grpc, c.Issuer, c.RedirectURL, c.CookieKey, c.Session, c.RedisAddr, c.KeyPrefix, access, c.Upstreams, level)
}

// newCookieKey returns a fresh base64-encoded 32-byte key.
func newCookieKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// startGatehouse writes cfg to dir/name.yaml and runs `gatehouse serve`,
// waiting for /readyz.
func startGatehouse(ctx context.Context, dir, name, bin string, cfg gatehouseConfig) (*proc, error) {
	path := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(path, []byte(cfg.yaml()), 0o600); err != nil {
		return nil, err
	}
	p, err := startProc(dir, name, nil, bin, "serve", "--config", path)
	if err != nil {
		return nil, err
	}
	if err := p.waitReady(ctx, "/readyz", httpOK("http://"+cfg.Addr+"/readyz")); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// logHas reports whether a process log contains s (used to show that no
// secret ever reaches a log).
func logHas(p *proc, s string) bool {
	b, err := os.ReadFile(p.log)
	return err == nil && strings.Contains(string(b), s)
}
