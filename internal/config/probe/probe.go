// Package probe contacts what a valid configuration points at, the way
// gatehouse will once it serves: the OpenID provider (discovery, the issuer
// it names, its signing keys), the callback's host, Redis (with the
// configured TLS and credentials), and the TLS, CA and token files (they
// load, the key matches the certificate, nothing has expired). Each failure
// is a Finding named by the setting it concerns. check-config --probe
// prints them; serve logs them once at startup.
package probe

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
)

// DefaultTimeout bounds each probe when Options.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// expirySoon is how close to its expiry a certificate gets a warning.
const expirySoon = 21 * 24 * time.Hour

// Finding is one probe's problem, named by the setting it concerns.
type Finding struct {
	Path string // e.g. "oidc.issuer_url" or "admin.tls.cert_file"
	Msg  string
	// Warning marks a problem that does not stop anything yet (a
	// certificate expiring soon); otherwise the probe failed.
	Warning bool
}

func (f Finding) String() string { return f.Path + ": " + f.Msg }

// Pinger is a session store that can say whether it answers.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Options are what Run contacts things with.
type Options struct {
	// HTTPClient calls the provider; default a client of its own.
	HTTPClient *http.Client
	// Redis is the configured Redis store, pinged when session.store is
	// "redis"; RedisErr is why it could not be built, if it could not.
	Redis    Pinger
	RedisErr error
	// LookupHost resolves a host name; default net.DefaultResolver's.
	LookupHost func(ctx context.Context, host string) ([]string, error)
	// Timeout bounds each probe; default DefaultTimeout.
	Timeout time.Duration
	// Now is the clock certificates are checked against; default time.Now.
	Now func() time.Time
}

// Run runs every probe cfg calls for, at once, each within opts.Timeout,
// and returns what they found, sorted by setting. None means every probe
// passed.
func Run(ctx context.Context, cfg *config.Config, opts Options) []Finding {
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{}
	}
	if opts.LookupHost == nil {
		opts.LookupHost = net.DefaultResolver.LookupHost
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	p := &prober{opts: opts}
	probes := []func(context.Context) []Finding{
		func(ctx context.Context) []Finding { return p.files(cfg) },
	}
	// Every sign-in provider: its discovery and keys (an OAuth 2 provider
	// such as GitHub has none), and its callback's host.
	probed := map[string]bool{}
	for i, lp := range cfg.LoginProviders() {
		path := "oidc."
		if len(cfg.Providers) > 0 {
			path = fmt.Sprintf("providers[%d].", i)
		}
		if !lp.OAuth2 {
			probed[lp.IssuerURL] = true
			probes = append(probes, func(ctx context.Context) []Finding {
				return p.provider(ctx, path+"issuer_url", lp.IssuerURL, "")
			})
		}
		probes = append(probes, func(ctx context.Context) []Finding { return p.callbackHost(ctx, path+"redirect_url", lp.RedirectURL) })
	}
	for i, iss := range cfg.Access.Bearer.Issuers {
		if probed[iss.IssuerURL] && iss.JWKSURL == "" {
			continue // probed above
		}
		path := fmt.Sprintf("access.bearer.issuers[%d].issuer_url", i)
		probes = append(probes, func(ctx context.Context) []Finding {
			return p.provider(ctx, path, iss.IssuerURL, iss.JWKSURL)
		})
	}
	if cfg.Session.Store == "redis" {
		probes = append(probes, func(ctx context.Context) []Finding { return p.redis(ctx, cfg.Redis.Addrs) })
	}

	var (
		mu  sync.Mutex
		out []Finding
		wg  sync.WaitGroup
	)
	for _, probe := range probes {
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, opts.Timeout)
			defer cancel()
			fs := probe(pctx)
			mu.Lock()
			out = append(out, fs...)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.SortStableFunc(out, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Msg, b.Msg))
	})
	return out
}

// Failed reports whether any finding is a failure rather than a warning.
func Failed(fs []Finding) bool {
	return slices.ContainsFunc(fs, func(f Finding) bool { return !f.Warning })
}

type prober struct {
	opts Options
}

func fail(path, format string, args ...any) Finding {
	return Finding{Path: path, Msg: fmt.Sprintf(format, args...)}
}

func warn(path, format string, args ...any) Finding {
	return Finding{Path: path, Msg: fmt.Sprintf(format, args...), Warning: true}
}

// redis pings the configured store.
func (p *prober) redis(ctx context.Context, addrs []string) []Finding {
	if p.opts.RedisErr != nil {
		return []Finding{fail("redis", "cannot set up the client: %v", p.opts.RedisErr)}
	}
	if p.opts.Redis == nil {
		return nil
	}
	if err := p.opts.Redis.Ping(ctx); err != nil {
		return []Finding{fail("redis.addrs", "no answer from %v with the configured credentials and TLS: %v", addrs, err)}
	}
	return nil
}
