package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/check"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/login"
	"github.com/gatehouse/gatehouse/internal/metrics"
	"github.com/gatehouse/gatehouse/internal/policyfile"
	"github.com/gatehouse/gatehouse/internal/redirect"
	"github.com/gatehouse/gatehouse/internal/render"
	"github.com/gatehouse/gatehouse/internal/reverseproxy"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/cache"
	"github.com/gatehouse/gatehouse/internal/session/cookie"
	"github.com/gatehouse/gatehouse/internal/session/idle"
	"github.com/gatehouse/gatehouse/internal/session/memstore"
	"github.com/gatehouse/gatehouse/internal/session/record"
	"github.com/gatehouse/gatehouse/internal/session/redisstore"
	"github.com/gatehouse/gatehouse/internal/tlsfiles"
	"github.com/gatehouse/gatehouse/internal/tracing"
)

// app is one gatehouse process: its store, checker, login flow and servers.
// Serve runs its long-running parts; Close releases what newApp opened.
type app struct {
	cfg     *config.Config
	log     *slog.Logger
	store   session.Store // the request path's view
	stores  *stores
	checker *check.Checker
	login   *login.Handler
	metrics *metrics.Metrics
	tracer  *tracing.Tracer
	access  *accessWiring
	// providerTransport carries login's calls to the OpenID provider; Close
	// closes its idle connections.
	providerTransport *http.Transport
	// reloader watches access.policy_file; nil without one.
	reloader *policyfile.Reloader
	// proxy is the reverse-proxy mode's handler; nil without upstreams.
	proxy *reverseproxy.Handler
}

// newApp wires the concrete types a configuration names. It does no I/O
// beyond reading files the configuration points at, and starts nothing:
// Serve runs the parts that run. On an error, whatever it had opened is
// closed again.
func newApp(cfg *config.Config, logger *slog.Logger) (_ *app, err error) {
	a := &app{
		cfg: cfg, log: logger, metrics: metrics.New(), tracer: &tracing.Tracer{},
		providerTransport: http.DefaultTransport.(*http.Transport).Clone(),
	}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	pg, err := newPages(cfg, logger)
	if err != nil {
		return nil, err
	}
	st, err := newStores(cfg, a.metrics, logger)
	if err != nil {
		return nil, err
	}
	a.stores = st
	store := st.check
	a.store = store
	a.tracer, err = tracing.New(context.Background(), tracing.Config{
		Enabled:     cfg.Tracing.Enabled,
		Endpoint:    cfg.Tracing.Endpoint,
		SampleRatio: cfg.Tracing.SampleRatio,
		Version:     buildVersion(),
	})
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	codec, err := cookie.NewCodec(cfg.CookieKeys(), nil)
	if err != nil {
		return nil, fmt.Errorf("cookie.secrets: %w", err)
	}
	// Host-only secure cookies are named __Host-<cookie.name>, everywhere.
	cookies, err := cookie.NewSettings(cfg.Cookie.Name, cfg.Cookie.Domain, cfg.Cookie.Secure)
	if err != nil {
		return nil, fmt.Errorf("cookie.name: %w", err)
	}

	redirects, err := redirect.NewValidator(cfg.ReturnHosts())
	if err != nil {
		return nil, fmt.Errorf("redirect.allowed_domains: %w", err)
	}
	// Login reads sessions with their tokens; refresh locks and back-channel
	// logout need the store's index.
	loginOpts := login.Options{Logger: logger, Locker: st.fresh, Revoker: st.fresh, Observer: a.metrics, Pages: pg, ProviderName: cfg.Pages.ProviderName}
	a.login, err = login.New(login.Config{
		Providers:       loginProviders(cfg), // the oidc section, or providers
		SessionLifetime: cfg.Session.Lifetime,
		Timeout:         cfg.OIDC.Timeout,
		HTTPClient:      &http.Client{Transport: a.providerTransport},
	}, st.fresh, codec, cookies, redirects, loginOpts)
	if err != nil {
		return nil, fmt.Errorf("oidc: %w", err)
	}

	a.access, err = newAccessWiring(cfg, logger)
	if err != nil {
		return nil, err
	}
	policy, err := cfg.Policy() // compiled by config.Load
	if err != nil {
		return nil, err
	}
	a.checker = check.New(store, codec, cookies, policy, a.access.checkOptions(check.Options{
		Timeout:   cfg.Session.Timeout,
		Logger:    logger,
		Refresher: a.login,
		Renderer:  render.New(pg),
	}))
	if err := a.newReverseProxy(pg); err != nil {
		return nil, err
	}
	return a, nil
}

// runner is a long-running part: Run works until ctx ends, then returns
// once its work in flight has finished.
type runner interface {
	Run(ctx context.Context) error
}

// stores are the views of the session store that the parts of gatehouse
// use. The check path has one view whose every read (the identity alone,
// or with the tokens for policies that need them) goes through the idle
// timeout, the cache (in Redis mode) and the metrics. Login and the admin
// API write through the cache (so writes evict everywhere) and read fresh.
type stores struct {
	check session.ReadManager // the request path: instrumented, idle-checked, cached
	fresh session.Manager     // Load with tokens, never cached; writes publish revocations
	// runners are the layers with background work (the cache's revocation
	// subscription, the idle timeout's use records): Serve runs them.
	runners []runner
	closers []io.Closer
}

// Close closes the stores' connections, the last opened first.
func (st *stores) Close() {
	for i := len(st.closers) - 1; i >= 0; i-- {
		_ = st.closers[i].Close()
	}
}

func newStores(cfg *config.Config, m *metrics.Metrics, logger *slog.Logger) (*stores, error) {
	st := &stores{}
	var base idle.Inner
	if cfg.Session.Store == "memory" {
		mem := memstore.New(memstore.Options{})
		st.closers = append(st.closers, mem)
		base = mem
		st.fresh = mem
	} else {
		rs, err := newRedisStore(cfg)
		if err != nil {
			return nil, err
		}
		st.closers = append(st.closers, rs)
		base, st.fresh = rs, rs
		if cfg.Session.CacheSize > 0 {
			cached, err := cache.New(rs, cache.Options{
				Size: cfg.Session.CacheSize, TTL: cfg.Session.CacheTTL, Logger: logger, Observer: m,
			})
			if err != nil {
				st.Close()
				return nil, fmt.Errorf("session cache: %w", err)
			}
			st.runners = append(st.runners, cached)
			base, st.fresh = cached, cached
		}
	}
	if cfg.Session.IdleTimeout > 0 {
		idler, err := idle.New(base, idle.Options{
			Timeout: cfg.Session.IdleTimeout, WriteInterval: cfg.Session.IdleWriteInterval, Logger: logger,
		})
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("session.idle_timeout: %w", err)
		}
		st.runners = append(st.runners, idler)
		base = idler
	}
	st.check = m.InstrumentStore(base)
	return st, nil
}

func newRedisStore(cfg *config.Config) (*redisstore.Store, error) {
	var tlsConf *tls.Config
	if cfg.Redis.TLS.Enabled {
		var err error
		tlsConf, err = tlsfiles.Client(tlsfiles.ClientFiles{ServerName: cfg.Redis.TLS.ServerName, CAFile: cfg.Redis.TLS.CAFile})
		if err != nil {
			return nil, fmt.Errorf("redis.tls.%w", err)
		}
	}
	format, err := record.ParseFormat(cfg.Redis.RecordFormat)
	if err != nil {
		return nil, fmt.Errorf("redis.record_format: %w", err) // validated; kept for callers that skip it
	}
	st, err := redisstore.New(redisstore.Options{
		Addrs:        cfg.Redis.Addrs,
		MasterName:   cfg.Redis.MasterName,
		Username:     cfg.Redis.Username,
		Password:     cfg.Redis.Password,
		DB:           cfg.Redis.DB,
		KeyPrefix:    cfg.Redis.KeyPrefix,
		TLSConfig:    tlsConf,
		RecordFormat: format,
	})
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	return st, nil
}

// runners are the app's long-running parts other than its servers, in the
// order Serve starts them.
func (a *app) runners() []runner {
	rs := append([]runner(nil), a.stores.runners...)
	return append(rs, a.login)
}

// Close flushes and stops the tracer (within http.shutdown_timeout) and
// closes the connections to the OpenID provider and the stores' (the Redis
// client). Call it on every exit
// path, after Serve has returned; newApp does on its own errors.
func (a *app) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.HTTP.ShutdownTimeout)
	defer cancel()
	if err := a.tracer.Shutdown(ctx); err != nil {
		a.log.Warn("tracing: flush failed", "error", err.Error())
	}
	a.providerTransport.CloseIdleConnections()
	if a.proxy != nil {
		a.proxy.CloseIdleConnections()
	}
	if a.stores != nil {
		a.stores.Close()
	}
}
