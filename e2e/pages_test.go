//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// pagesAccess is the suite's policy plus a deny rule (for the page a deny
// rule shows) and a footer link (customization reaching every page).
const pagesAccess = defaultAccess + `  rules:
    - name: internal
      paths: [/internal]
      action: deny
pages:
  footer_links:
    - {text: Help, url: /help}
`

// nginxFallbackRoot copies the static page nginx shows when gatehouse
// cannot be asked (deploy/nginx/gatehouse-unavailable.html) into a folder
// nginx's unprivileged workers can read (a test's temporary folder is not:
// it is 0700), one for every run, and returns it for the config's root.
// dir is the proxy's own folder, where a copy is kept for the post-mortem.
func nginxFallbackRoot(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join("..", "deploy", "nginx", "gatehouse-unavailable.html"))
	if err != nil {
		return "", fmt.Errorf("shipped fallback page: %w", err)
	}
	root := filepath.Join(os.TempDir(), "gatehouse-e2e-nginx-pages")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	if err := os.Chmod(root, 0o755); err != nil {
		return "", err
	}
	// Written aside and renamed: another nginx may be reading it.
	tmp, err := os.CreateTemp(root, ".page-")
	if err != nil {
		return "", err
	}
	_, werr := tmp.Write(b)
	if err := errors.Join(werr, tmp.Chmod(0o644), tmp.Close()); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(root, "gatehouse-unavailable.html")); err != nil {
		return "", err
	}
	return root, os.WriteFile(filepath.Join(dir, "gatehouse-unavailable.html"), b, 0o644)
}

// TestPages visits every designed page through nginx, Caddy and Traefik
// in headless Chromium (e2e/browser/pages.mjs): sign-in, sign-in failed,
// the sign-out confirmation, signed out, forbidden (naming bob's account),
// a deny rule, session store unavailable and, for nginx, gatehouse
// unreachable. Each page is shot light and dark at 1280 and 390 px into
// the test's artifact directory (go test -artifacts -outputdir DIR, or
// E2E_PAGES_OUT) and checked by axe-core with zero violations.
//
// Per proxy: replica A (shared Redis) behind the proxy on the suite's
// ports; replica U, whose Redis address answers nothing, behind a second
// proxy on the same host name and other ports (so alice's cookie reaches
// it and the lookup fails); for nginx a third proxy whose gatehouse
// address answers nothing.
func TestPages(t *testing.T) {
	s := newSuite(t)
	out := os.Getenv("E2E_PAGES_OUT")
	if out == "" {
		out = t.ArtifactDir()
	}
	for _, k := range proxyKinds {
		switch k.name {
		case "nginx", "caddy", "traefik":
			t.Run(k.name, func(t *testing.T) { s.pages(t, k, out) })
		default:
			// Another adapter's proxy (HAProxy's SPOE) renders its own
			// replies; its pages are not part of this test yet.
			t.Logf("%s: not covered by TestPages", k.name)
		}
	}
	t.Logf("screenshots in %s", out)
}

func (s *suite) pages(t *testing.T, k proxyKind, out string) {
	ctx := t.Context()
	ps := s.setups[k.name]
	replicaA := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	replicaU := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	key := newCookieKey()
	var procs []*proc
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range procs {
				t.Logf("---- %s log (tail) ----\n%s", p.name, p.tail(3000))
			}
		}
	})

	cfg := gatehouseConfig{Addr: replicaA, Issuer: s.op.issuer, RedirectURL: ps.origin() + "/oauth2/callback",
		CookieKey: key, RedisAddr: s.redisAddr, KeyPrefix: s.prefix + "pages-" + k.name + ":", Access: pagesAccess, LogLevel: "info"}
	a, err := startGatehouse(ctx, ps.Dir, "gatehouse-pages", s.tools["gatehouse"], cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.stop)
	procs = append(procs, a)

	// Replica U: Redis on a port nothing listens on. It is never ready
	// (/readyz needs the store), so wait for /healthz.
	cu := cfg
	cu.Addr, cu.RedisAddr = replicaU, fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cu.Session = "  timeout: 300ms\n"
	upath := filepath.Join(ps.Dir, "gatehouse-nostore.yaml")
	if err := os.WriteFile(upath, []byte(cu.yaml()), 0o600); err != nil {
		t.Fatal(err)
	}
	u, err := startProc(ps.Dir, "gatehouse-nostore", nil, s.tools["gatehouse"], "serve", "--config", upath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.stop)
	procs = append(procs, u)
	if err := u.waitReady(ctx, "/healthz", httpOK("http://"+replicaU+"/healthz")); err != nil {
		t.Fatal(err)
	}

	ps.GatehouseAddr, ps.AppAddr = replicaA, s.echoAddr
	px, err := k.start(ctx, ps, s.tools[k.name])
	if err != nil {
		t.Fatalf("start %s: %v", k.name, err)
	}
	t.Cleanup(px.stop)
	procs = append(procs, px)
	if err := s.waitRoute(ctx, px, ps); err != nil {
		t.Fatal(err)
	}

	// The same host on other ports, in front of replica U.
	psU := ps
	psU.Dir, psU.HTTPPort, psU.HTTPSPort, psU.AdminPort = filepath.Join(ps.Dir, "nostore"), freePort(t), freePort(t), freePort(t)
	psU.GatehouseAddr = replicaU
	if err := os.MkdirAll(psU.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	pxU, err := k.start(ctx, psU, s.tools[k.name])
	if err != nil {
		t.Fatalf("start %s (no store): %v", k.name, err)
	}
	t.Cleanup(pxU.stop)
	procs = append(procs, pxU)
	if err := s.waitRoute(ctx, pxU, psU); err != nil {
		t.Fatal(err)
	}

	conf := map[string]string{
		"proxy": k.name, "outDir": out, "origin": ps.origin(),
		"appURL": ps.origin() + "/projects/7?tab=runs",
		"user":   userAlice.Username, "password": userAlice.Password, "email": userAlice.Email,
		"forbiddenUser": userBob.Username, "forbiddenPassword": userBob.Password, "forbiddenEmail": userBob.Email,
		"storeDownOrigin": psU.origin(),
	}
	if k.name == "nginx" {
		psD := ps
		psD.Dir, psD.HTTPPort, psD.HTTPSPort = filepath.Join(ps.Dir, "nogatehouse"), freePort(t), freePort(t)
		psD.GatehouseAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t)) // nothing listens
		if err := os.MkdirAll(psD.Dir, 0o755); err != nil {
			t.Fatal(err)
		}
		pxD, err := k.start(ctx, psD, s.tools[k.name])
		if err != nil {
			t.Fatalf("start nginx (no gatehouse): %v", err)
		}
		t.Cleanup(pxD.stop)
		procs = append(procs, pxD)
		plain := newClient(false)
		if err := pxD.waitReady(ctx, "the fallback page", func(ctx context.Context) error {
			r, err := get(ctx, plain, psD.origin()+"/projects", [][2]string{{"Accept", "text/html"}})
			if err != nil {
				return err
			}
			if r.status != http.StatusServiceUnavailable || !bytes.Contains(r.body, []byte("gatehouse_unavailable")) {
				return fmt.Errorf("GET /projects: %d %.200s", r.status, r.body)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		// API clients get JSON from the same fallback.
		r, err := get(ctx, plain, psD.origin()+"/api/x", [][2]string{{"Accept", "application/json"}})
		if err != nil {
			t.Fatal(err)
		}
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" || string(bytes.TrimSpace(r.body)) != `{"error":"gatehouse unavailable"}` {
			t.Errorf("nginx without gatehouse, API client: %d Retry-After=%q %s", r.status, r.header.Get("Retry-After"), r.body)
		}
		conf["gatehouseDownOrigin"] = psD.origin()
	}

	raw, _ := json.Marshal(conf)
	ctxB, cancel := context.WithTimeout(ctx, 240*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctxB, s.tools["node"], "browser/pages.mjs")
	cmd.Env = append(os.Environ(), "E2E_PAGES_CONFIG="+string(raw), "E2E_CHROMIUM="+s.tools["chromium"], "TMPDIR="+ps.Dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	var res struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
		Pages []struct {
			Name       string            `json:"name"`
			Status     int               `json:"status"`
			H1         string            `json:"h1"`
			Shots      []string          `json:"shots"`
			Violations []json.RawMessage `json:"violations"`
		} `json:"pages"`
	}
	if jerr := json.Unmarshal(lastLine(stdout), &res); jerr != nil {
		t.Fatalf("pages: %v (%v)\nstdout: %s\nstderr: %.3000s", err, jerr, stdout, stderr.String())
	}
	for _, p := range res.Pages {
		t.Logf("%s: %s %d %q, %d screenshots, %d axe violations", k.name, p.Name, p.Status, p.H1, len(p.Shots), len(p.Violations))
	}
	if !res.OK || err != nil {
		t.Fatalf("pages through %s failed: %s (exit: %v)\nstderr: %.2000s", k.name, res.Error, err, stderr.String())
	}
	want := 7
	if k.name == "nginx" {
		want = 8
	}
	if len(res.Pages) != want {
		t.Errorf("%s: %d pages checked, want %d", k.name, len(res.Pages), want)
	}
}
