package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// sharedSettings are what every gatehouse (and oauth2-proxy) of the run
// shares: the provider, the cookie key and the Redis prefix, so one login
// serves all gatehouse instances.
type sharedSettings struct {
	issuer, clientID, clientSecret string
	cookieKey                      string
	redis, prefix                  string
	tokenFile                      string
}

// gatehouseInstance is one `gatehouse serve` process.
type gatehouseInstance struct {
	name              string
	http, grpc, admin string // loopback addresses; grpc may be empty
	noCache           bool   // session.cache_size: 0
}

func (g gatehouseInstance) callback() string { return "http://" + g.http + "/oauth2/callback" }

// config is the instance's configuration: production settings (Redis,
// the default local cache, Secure cookies, JSON logs at warn), the admin
// listener with pprof on.
func (g gatehouseInstance) config(s sharedSettings) string {
	var b strings.Builder
	fmt.Fprintf(&b, "http:\n  addr: %q\n", g.http)
	if g.grpc != "" {
		fmt.Fprintf(&b, "grpc:\n  addr: %q\n", g.grpc)
	}
	fmt.Fprintf(&b, "admin:\n  addr: %q\n  token_file: %q\n  pprof: true\n", g.admin, s.tokenFile)
	fmt.Fprintf(&b, "oidc:\n  issuer_url: %q\n  client_id: %q\n  client_secret: %q\n  redirect_url: %q\n",
		s.issuer, s.clientID, s.clientSecret, g.callback())
	fmt.Fprintf(&b, "cookie:\n  secrets: [%q]\n  secure: true\n", s.cookieKey)
	b.WriteString("session:\n  store: redis\n")
	if g.noCache {
		b.WriteString("  cache_size: 0\n")
	}
	fmt.Fprintf(&b, "redis:\n  addrs: [%q]\n  key_prefix: %q\n", s.redis, s.prefix)
	b.WriteString("redirect:\n  allowed_domains: [\"app.example.com\"]\n")
	b.WriteString("access:\n  email_domains: [\"example.com\"]\n")
	b.WriteString("log:\n  level: warn\n")
	return b.String()
}

// start writes the configuration and runs gatehouse serve until /readyz
// answers 200.
func (g gatehouseInstance) start(ctx context.Context, dir, bin string, s sharedSettings) (*proc, error) {
	path := filepath.Join(dir, g.name+".yaml")
	if err := os.WriteFile(path, []byte(g.config(s)), 0o600); err != nil {
		return nil, err
	}
	p, _, err := start(dir, g.name, nil, false, bin, "serve", "--config", path)
	if err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, p, "http://"+g.http+"/readyz", http.StatusOK); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// startOAuth2Proxy runs oauth2-proxy with Redis sessions against the same
// provider, with request and auth logging off (as gatehouse logs only
// warnings), and waits for /ping.
func startOAuth2Proxy(ctx context.Context, dir, bin, addr, cookie string, s sharedSettings) (*proc, error) {
	p, _, err := start(dir, "oauth2-proxy", nil, false, bin,
		"--http-address="+addr,
		"--provider=oidc",
		"--oidc-issuer-url="+s.issuer,
		"--client-id="+s.clientID,
		"--client-secret="+s.clientSecret,
		"--redirect-url=http://"+addr+"/oauth2/callback",
		"--code-challenge-method=S256",
		"--scope=openid email profile",
		"--email-domain=example.com",
		"--cookie-name="+cookie,
		"--cookie-secret="+randomHex(32),
		"--cookie-secure=true",
		"--session-store-type=redis",
		"--redis-connection-url=redis://"+s.redis,
		"--upstream=static://202",
		"--reverse-proxy=true",
		"--skip-provider-button=true",
		"--request-logging=false",
		"--auth-logging=false",
	)
	if err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, p, "http://"+addr+"/ping", http.StatusOK); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

type extauthzReq = authv3.CheckRequest

// profileUnderLoad loads t at the first concurrency for the profile's
// length plus a second on each side, and meanwhile saves the CPU profile,
// the allocations made and a one-second execution trace from admin.
func profileUnderLoad(ctx context.Context, out io.Writer, o options, name, admin string, t target, headers []string, req *extauthzReq) error {
	secs := max(1, int(o.profileFor.Seconds()))
	load := o
	load.duration = time.Duration(secs+2) * time.Second
	load.warmup = 0
	var wg sync.WaitGroup
	var loadErr error
	wg.Go(func() { _, loadErr = measureTarget(ctx, t, o.conns[0], load, headers, req) })
	time.Sleep(time.Second)
	var errs [3]error
	for i, f := range []struct{ path, file string }{
		{fmt.Sprintf("/debug/pprof/profile?seconds=%d", secs), name + ".cpu.pprof"},
		{fmt.Sprintf("/debug/pprof/allocs?seconds=%d", secs), name + ".allocs.pprof"},
		{"/debug/pprof/trace?seconds=1", name + ".trace"},
	} {
		wg.Go(func() { errs[i] = fetch(ctx, "http://"+admin+f.path, filepath.Join(o.profile, f.file)) })
	}
	wg.Wait()
	for _, err := range append(errs[:], loadErr) {
		if err != nil {
			return fmt.Errorf("profile %s: %w", name, err)
		}
	}
	fmt.Fprintf(out, "profiles of %s (c%d) in %s: %s.{cpu.pprof,allocs.pprof,trace}\n", t.name, o.conns[0], o.profile, name)
	return nil
}

func fetch(ctx context.Context, url, file string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
