package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/assertion"
	"github.com/gatehouse/gatehouse/internal/check"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/envoy"
	"github.com/gatehouse/gatehouse/internal/forwardauth"
	"github.com/gatehouse/gatehouse/internal/login"
	"github.com/gatehouse/gatehouse/internal/metrics"
	"github.com/gatehouse/gatehouse/internal/policyfile"
	"github.com/gatehouse/gatehouse/internal/redirect"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/tracing"
)

func serveCmd(ctx context.Context, args []string, stderr io.Writer, lookup func(string) (string, bool)) error {
	fs := newFlagSet("serve [--config FILE]",
		"Runs gatehouse: the forward-auth and auth-request endpoints, the /oauth2/\n"+
			"login endpoints, /healthz and /readyz on http.addr, and the Envoy ext_authz\n"+
			"gRPC service on grpc.addr when it is set. Stops gracefully on SIGTERM or SIGINT.", stderr)
	path := fs.String("config", "", "path of the YAML configuration file; without it every setting comes from GATEHOUSE_* variables")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*path, lookup)
	if err != nil {
		return err
	}
	logger := newLogger(cfg.Log, stderr)
	routeLibraryLogs(logger)
	a, err := newApp(cfg, logger)
	if err != nil {
		return err
	}
	defer a.Close()
	ls, err := listen(cfg)
	if err != nil {
		return err
	}
	return a.Serve(ctx, ls)
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level)) // validated by config.Load
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// app is one gatehouse process: its store, checker, login flow and servers.
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
	// reloader watches access.policy_file; nil without one.
	reloader *policyfile.Reloader
}

// newApp wires the concrete types a configuration names. It does no I/O
// beyond reading files the configuration points at.
func newApp(cfg *config.Config, logger *slog.Logger) (*app, error) {
	a := &app{cfg: cfg, log: logger, metrics: metrics.New()}
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
		a.Close()
		return nil, fmt.Errorf("tracing: %w", err)
	}
	codec, err := session.NewCodec(cfg.CookieKeys(), nil)
	if err != nil {
		return nil, fmt.Errorf("cookie.secrets: %w", err)
	}
	cookies := session.CookieSettings{Name: cfg.Cookie.Name, Domain: cfg.Cookie.Domain, Secure: cfg.Cookie.Secure}

	redirects, err := redirect.NewValidator(cfg.Redirect.AllowedDomains)
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("redirect.allowed_domains: %w", err)
	}
	// Login reads sessions with their tokens; refresh locks and back-channel
	// logout need the store's index.
	loginOpts := []login.Option{login.WithLocker(st.fresh), login.WithRevoker(st.fresh)}
	a.login, err = login.New(login.Config{
		IssuerURL:            cfg.OIDC.IssuerURL,
		ClientID:             cfg.OIDC.ClientID,
		ClientSecret:         cfg.OIDC.ClientSecret,
		RedirectURL:          cfg.OIDC.RedirectURL,
		Scopes:               cfg.OIDC.Scopes,
		UserClaim:            cfg.OIDC.UserClaim,
		EmailClaim:           cfg.OIDC.EmailClaim,
		GroupsClaim:          cfg.OIDC.GroupsClaim,
		AllowUnverifiedEmail: cfg.OIDC.AllowUnverifiedEmail,
		SessionLifetime:      cfg.Session.Lifetime,
		Timeout:              cfg.OIDC.Timeout,
	}, st.fresh, codec, cookies, redirects, logger, loginOpts...)
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("oidc: %w", err)
	}

	a.access, err = newAccessWiring(cfg, logger)
	if err != nil {
		a.Close()
		return nil, err
	}
	a.checker = check.New(store, codec, cookies, cfg.Policy(), a.access.checkOptions(check.Options{
		Timeout:    cfg.Session.Timeout,
		Logger:     logger,
		Refresher:  a.login,
		TokenStore: st.fresh,
	}))
	if cfg.AdmitsNobody() {
		logger.Warn("access lists are empty and access.allow_any_authenticated is false: every signed-in user will get 403")
	}
	return a, nil
}

// stores are the views of the session store that the parts of gatehouse
// use. In Redis mode the check path reads through a local cache that keeps
// no tokens; login, the admin API and token-needing policies read fresh.
type stores struct {
	check   session.Store   // the request path: cached, idle-checked, instrumented
	fresh   session.Manager // with tokens; writes publish revocations
	closers []io.Closer
}

func (st *stores) Close() {
	for i := len(st.closers) - 1; i >= 0; i-- {
		_ = st.closers[i].Close()
	}
}

func newStores(cfg *config.Config, m *metrics.Metrics, logger *slog.Logger) (*stores, error) {
	st := &stores{}
	var base session.Manager
	if cfg.Session.Store == "memory" {
		mem := session.NewMemoryStore()
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
			cached, err := session.NewCachedStore(rs, session.CacheOptions{
				Size: cfg.Session.CacheSize, TTL: cfg.Session.CacheTTL, Logger: logger, Observer: m,
			})
			if err != nil {
				st.Close()
				return nil, fmt.Errorf("session cache: %w", err)
			}
			st.closers = append(st.closers, cached)
			base, st.fresh = cached, cached.Fresh()
		}
	}
	if cfg.Session.IdleTimeout > 0 {
		idle, err := session.NewIdleStore(base, session.IdleOptions{
			Timeout: cfg.Session.IdleTimeout, WriteInterval: cfg.Session.IdleWriteInterval, Logger: logger,
		})
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("session.idle_timeout: %w", err)
		}
		st.closers = append(st.closers, idle)
		base = idle
	}
	st.check = m.InstrumentStore(base)
	return st, nil
}

func newRedisStore(cfg *config.Config) (*session.RedisStore, error) {
	var tlsConf *tls.Config
	if cfg.Redis.TLS.Enabled {
		tlsConf = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: cfg.Redis.TLS.ServerName}
		if cfg.Redis.TLS.CAFile != "" {
			pem, err := os.ReadFile(cfg.Redis.TLS.CAFile)
			if err != nil {
				return nil, fmt.Errorf("redis.tls.ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("redis.tls.ca_file: no PEM certificates in %s", cfg.Redis.TLS.CAFile)
			}
			tlsConf.RootCAs = pool
		}
	}
	st, err := session.NewRedisStore(session.RedisOptions{
		Addrs:      cfg.Redis.Addrs,
		MasterName: cfg.Redis.MasterName,
		Username:   cfg.Redis.Username,
		Password:   cfg.Redis.Password,
		DB:         cfg.Redis.DB,
		KeyPrefix:  cfg.Redis.KeyPrefix,
		TLSConfig:  tlsConf,
	})
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	return st, nil
}

// Handler returns the public HTTP handler.
func (a *app) Handler() http.Handler {
	mux := http.NewServeMux()
	fa := forwardauth.NewHandler(a.checker, forwardauth.Options{TrustedProxies: a.cfg.TrustedPrefixes(), Logger: a.log, Observer: a.metrics})
	mux.Handle(forwardauth.ForwardAuthPath, a.tracer.HTTP("gatehouse.check forward_auth", fa))
	mux.Handle(forwardauth.AuthRequestPath, a.tracer.HTTP("gatehouse.check auth_request", fa))
	mux.Handle(login.StartPath, a.tracer.HTTP("gatehouse.login start", a.login))
	mux.Handle(login.CallbackPath, a.tracer.HTTP("gatehouse.login callback", a.countLogins(a.login)))
	mux.Handle(login.SignOutPath, a.tracer.HTTP("gatehouse.login sign_out", a.countLogouts("local", a.login)))
	mux.Handle("/oauth2/", a.login)
	if h := a.access.jwks(); h != nil {
		mux.Handle(assertion.JWKSPath, h)
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/readyz", a.readyz)
	return mux
}

// readyz reports ready when the store answers and provider discovery has
// loaded; it names what is not ready.
func (a *app) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var problems []string
	if err := a.store.Ping(ctx); err != nil {
		problems = append(problems, "session store: unreachable")
		a.log.Warn("not ready", "component", "session_store", "error", err.Error())
	}
	if err := a.login.Ready(ctx); err != nil {
		problems = append(problems, "oidc provider: discovery not loaded")
		a.log.Warn("not ready", "component", "oidc", "error", err.Error())
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if a.reloader != nil {
		// A bad policy file keeps the last good policy in force: still
		// ready, but say so.
		if st := a.reloader.Status(); st.LastError != "" {
			w.Header().Set("X-Gatehouse-Policy", "stale")
			defer io.WriteString(w, "policy file: last reload failed, previous policy in force: "+st.LastError+"\n")
		}
	}
	if len(problems) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, strings.Join(problems, "\n")+"\n")
		return
	}
	_, _ = io.WriteString(w, "ready\n")
}

// Listeners are the sockets a gatehouse process serves; nil ones are off.
type Listeners struct {
	HTTP  net.Listener // forward-auth, auth-request, /oauth2/, health
	GRPC  net.Listener // Envoy ext_authz
	Admin net.Listener // session API, /metrics, pprof
}

// listen opens the listeners the configuration asks for.
func listen(cfg *config.Config) (Listeners, error) {
	var ls Listeners
	var err error
	if ls.HTTP, err = net.Listen("tcp", cfg.HTTP.Addr); err != nil {
		return ls, fmt.Errorf("http.addr: %w", err)
	}
	if cfg.GRPC.Addr != "" {
		if ls.GRPC, err = net.Listen("tcp", cfg.GRPC.Addr); err != nil {
			ls.HTTP.Close()
			return ls, fmt.Errorf("grpc.addr: %w", err)
		}
	}
	if cfg.Admin.Addr != "" {
		if ls.Admin, err = net.Listen("tcp", cfg.Admin.Addr); err != nil {
			ls.HTTP.Close()
			if ls.GRPC != nil {
				ls.GRPC.Close()
			}
			return ls, fmt.Errorf("admin.addr: %w", err)
		}
	}
	return ls, nil
}

// Serve serves on ls until ctx ends, then drains every server for up to
// http.shutdown_timeout.
func (a *app) Serve(ctx context.Context, ls Listeners) error {
	errc := make(chan error, 3)
	var stops []func(context.Context) error

	if rl := a.access.watch(ctx, a.cfg, a.checker, a.log, a.metrics.PolicyReload); rl != nil {
		a.reloader = rl
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-hup:
					_ = rl.Reload() // logged and counted by the reloader
				}
			}
		}()
	}

	httpSrv := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	go func() { errc <- fmt.Errorf("http server: %w", httpSrv.Serve(ls.HTTP)) }()
	stops = append(stops, httpSrv.Shutdown)
	attrs := []any{"http", ls.HTTP.Addr().String()}
	if a.reloader != nil {
		attrs = append(attrs, "policy_file", a.cfg.Access.PolicyFile)
	}

	if ls.Admin != nil {
		api, err := a.adminGRPC()
		if err != nil {
			return err
		}
		adminSrv, err := a.newAdminServer(a.adminHandler(api))
		if err != nil {
			return err
		}
		go func() {
			var err error
			if adminSrv.TLSConfig != nil {
				err = adminSrv.ServeTLS(ls.Admin, "", "")
			} else {
				err = adminSrv.Serve(ls.Admin)
			}
			errc <- fmt.Errorf("admin server: %w", err)
		}()
		stops = append(stops, adminSrv.Shutdown)
		attrs = append(attrs, "admin", ls.Admin.Addr().String())
	}

	if ls.GRPC != nil {
		stop, err := a.serveExtAuthz(ctx, ls.GRPC, errc)
		if err != nil {
			return err
		}
		// Stop first: Envoy's health check sees NOT_SERVING and moves away
		// while the HTTP side still drains.
		stops = append([]func(context.Context) error{stop}, stops...)
		attrs = append(attrs, "grpc", ls.GRPC.Addr().String())
	}

	a.log.Info("serving", append(attrs, "store", a.cfg.Session.Store, "version", buildVersion())...)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	a.log.Info("shutting down", "timeout", a.cfg.HTTP.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.HTTP.ShutdownTimeout)
	defer cancel()
	var errs []error
	for _, stop := range stops {
		if err := stop(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			errs = append(errs, err)
		}
	}
	if err := a.login.Shutdown(sctx); err != nil {
		a.log.Warn("token refreshes still running at shutdown", "error", err.Error())
	}
	if err := a.tracer.Shutdown(sctx); err != nil {
		a.log.Warn("tracing: flush failed", "error", err.Error())
	}
	return errors.Join(errs...)
}

// serveExtAuthz serves Envoy ext_authz on ln, with its gRPC health status
// following readiness, and returns the function that drains it.
func (a *app) serveExtAuthz(ctx context.Context, ln net.Listener, errc chan<- error) (func(context.Context) error, error) {
	c := a.cfg.GRPC
	tlsConf, err := serverTLS("grpc.tls", c.TLS)
	if err != nil {
		return nil, err
	}
	svc := envoy.NewService(a.checker, a.log)
	svc.SetObserver(a.metrics)
	opts := envoy.ServerOptions{
		Reflection:           c.Reflection,
		KeepaliveTime:        c.KeepaliveTime,
		KeepaliveTimeout:     c.KeepaliveTimeout,
		MaxConcurrentStreams: uint32(c.MaxConcurrentStreams),
		MaxRecvMsgSize:       c.MaxRecvMsgSize,
		TLS:                  tlsConf,
	}
	if i := a.tracer.UnaryInterceptor(envoy.RequestHeaders); i != nil {
		opts.Interceptors = append(opts.Interceptors, i)
	}
	srv, _ := envoy.NewServer(svc, opts)
	go func() { errc <- fmt.Errorf("grpc server: %w", srv.Serve(ln)) }()

	readyCtx, stopReady := context.WithCancel(ctx)
	readyDone := make(chan struct{})
	go func() { a.followReadiness(readyCtx, svc.SetServing); close(readyDone) }()
	return func(ctx context.Context) error {
		stopReady()
		<-readyDone
		svc.SetServing(false)
		done := make(chan struct{})
		go func() { srv.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			srv.Stop()
		}
		return nil
	}, nil
}

// followReadiness reports, every second until ctx ends, whether the session
// store answers.
func (a *app) followReadiness(ctx context.Context, set func(bool)) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		set(a.store.Ping(pctx) == nil)
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// adminGRPC returns the admin session API as an HTTP handler for the admin
// listener (TLS, when configured, is the listener's).
func (a *app) adminGRPC() (http.Handler, error) {
	tlsConf, err := serverTLS("admin.tls", a.cfg.Admin.TLS)
	if err != nil {
		return nil, err
	}
	srv, err := admin.NewServer(a.stores.fresh, admin.Options{
		Logger: a.log, TokenFile: a.cfg.Admin.TokenFile, TLS: tlsConf, ExternalTLS: true,
	})
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	return srv, nil
}

// countLogins records each login callback's result: a redirect to the
// return URL is a login, anything else a failure.
func (a *app) countLogins(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		a.metrics.Login(sw.status == http.StatusFound || sw.status == http.StatusSeeOther)
	})
}

// countLogouts records each successful sign-out of kind.
func (a *app) countLogouts(kind string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if sw.status < 400 {
			a.metrics.Logout(kind)
		}
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Close releases the stores' connections and background work.
func (a *app) Close() {
	if a.stores != nil {
		a.stores.Close()
	}
}
