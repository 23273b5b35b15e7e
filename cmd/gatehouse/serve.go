package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/envoy"
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
		if a.cfg.Admin.TLS.CertFile == "" && !isLoopback(ls.Admin.Addr()) {
			a.log.Warn("admin listener serves plain text on a non-loopback address: its bearer token and /metrics cross the network unencrypted; set admin.tls or bind admin.addr to loopback",
				"admin", ls.Admin.Addr().String())
		}
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

// isLoopback reports whether a listener's address is a loopback one.
func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}
