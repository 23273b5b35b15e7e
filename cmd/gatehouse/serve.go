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
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/check"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/forwardauth"
	"github.com/gatehouse/gatehouse/internal/login"
	"github.com/gatehouse/gatehouse/internal/redirect"
	"github.com/gatehouse/gatehouse/internal/session"
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
	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("http.addr: %w", err)
	}
	return a.Serve(ctx, ln)
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
	store   session.Store
	closers []io.Closer
	checker *check.Checker
	login   *login.Handler
}

// newApp wires the concrete types a configuration names. It does no I/O
// beyond reading files the configuration points at.
func newApp(cfg *config.Config, logger *slog.Logger) (*app, error) {
	a := &app{cfg: cfg, log: logger}
	store, err := newStore(cfg)
	if err != nil {
		return nil, err
	}
	a.store = store
	if c, ok := store.(io.Closer); ok {
		a.closers = append(a.closers, c)
	}
	codec, err := session.NewCodec(cfg.CookieKeys(), nil)
	if err != nil {
		return nil, fmt.Errorf("cookie.secrets: %w", err)
	}
	cookies := session.CookieSettings{Name: cfg.Cookie.Name, Domain: cfg.Cookie.Domain, Secure: cfg.Cookie.Secure}
	a.checker = check.New(store, codec, cookies, cfg.Policy(), check.Options{Timeout: cfg.Session.Timeout, Logger: logger})

	redirects, err := redirect.NewValidator(cfg.Redirect.AllowedDomains)
	if err != nil {
		return nil, fmt.Errorf("redirect.allowed_domains: %w", err)
	}
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
	}, store, codec, cookies, redirects, logger)
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("oidc: %w", err)
	}
	if cfg.AdmitsNobody() {
		logger.Warn("access lists are empty and access.allow_any_authenticated is false: every signed-in user will get 403")
	}
	return a, nil
}

func newStore(cfg *config.Config) (session.Store, error) {
	if cfg.Session.Store == "memory" {
		return session.NewMemoryStore(), nil
	}
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
	fa := forwardauth.NewHandler(a.checker, forwardauth.Options{TrustedProxies: a.cfg.TrustedPrefixes(), Logger: a.log})
	mux.Handle(forwardauth.ForwardAuthPath, fa)
	mux.Handle(forwardauth.AuthRequestPath, fa)
	mux.Handle("/oauth2/", a.login)
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
	if len(problems) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, strings.Join(problems, "\n")+"\n")
		return
	}
	_, _ = io.WriteString(w, "ready\n")
}

// Serve serves HTTP on ln until ctx ends, then drains for up to
// http.shutdown_timeout.
func (a *app) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	a.log.Info("serving", "http", ln.Addr().String(), "store", a.cfg.Session.Store, "version", buildVersion())
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	a.log.Info("shutting down", "timeout", a.cfg.HTTP.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.HTTP.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// Close releases the store's connections.
func (a *app) Close() {
	for _, c := range a.closers {
		_ = c.Close()
	}
}
