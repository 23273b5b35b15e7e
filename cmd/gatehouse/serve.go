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
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

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
	r, err := config.Check(*path, lookup)
	if err != nil {
		return err
	}
	if len(r.Errors) > 0 {
		return r.Errors
	}
	cfg := r.Config
	logger := newLogger(cfg.Log, stderr)
	routeLibraryLogs(logger)
	logConfigWarnings(logger, r.Warnings)
	a, err := newApp(cfg, logger)
	if err != nil {
		return err
	}
	defer a.Close()
	defer a.startupProbe(ctx)()
	ls, err := listen(cfg)
	if err != nil {
		return err
	}
	return a.Serve(ctx, ls)
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level)) // validated by config.Load
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: logAttr}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// Listeners are the sockets a gatehouse process serves; nil ones are off.
type Listeners struct {
	HTTP  net.Listener // forward-auth, auth-request, /oauth2/, health
	GRPC  net.Listener // Envoy ext_authz
	SPOE  net.Listener // HAProxy SPOE agent
	Admin net.Listener // session API, /metrics, pprof
}

// close closes the listeners that are open.
func (ls Listeners) close() {
	for _, l := range []net.Listener{ls.HTTP, ls.GRPC, ls.SPOE, ls.Admin} {
		if l != nil {
			_ = l.Close()
		}
	}
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
	if cfg.SPOE.Addr != "" {
		if ls.SPOE, err = net.Listen("tcp", cfg.SPOE.Addr); err != nil {
			ls.close()
			return Listeners{}, fmt.Errorf("spoe.addr: %w", err)
		}
	}
	if cfg.Admin.Addr != "" {
		if ls.Admin, err = net.Listen("tcp", cfg.Admin.Addr); err != nil {
			if ls.SPOE != nil {
				ls.SPOE.Close()
			}
			ls.HTTP.Close()
			if ls.GRPC != nil {
				ls.GRPC.Close()
			}
			return ls, fmt.Errorf("admin.addr: %w", err)
		}
	}
	return ls, nil
}

// server is one listener's server: serve blocks until stop is called (nil
// then) or the server fails.
type server struct {
	serve func() error
	stop  func(context.Context) error
	// discard releases what a server that is never served holds (gRPC's
	// stream workers start when it is built); nil when it holds nothing.
	discard func()
}

// discardAll releases every server of a start that failed.
func discardAll(servers []server) {
	for _, s := range servers {
		if s.discard != nil {
			s.discard()
		}
	}
}

// Serve serves on ls, and runs the app's background work, until ctx ends
// or any of them fails. Then it stops everything in order: the servers
// drain (ext_authz first, so Envoy moves away while HTTP still answers) for
// up to http.shutdown_timeout, then the background work ends (queued
// refreshes and use records finish, the cache unsubscribes, the policy file
// is no longer watched). Serve owns ls and closes it; it returns the first
// failure, or nil after a clean stop. Close the app afterwards.
func (a *app) Serve(ctx context.Context, ls Listeners) error {
	servers, err := a.servers(ctx, ls)
	if err != nil {
		ls.close()
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	// Background work outlives the servers' drain, so that requests still
	// being answered can use it; it ends when they are done.
	work, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	for _, r := range a.runners() {
		g.Go(func() error { return r.Run(work) })
	}
	a.watchPolicy(g, work)
	for _, s := range servers {
		g.Go(s.serve)
	}
	g.Go(func() error {
		<-gctx.Done()
		defer stopWork()
		return a.stopServers(servers)
	})
	attrs := []any{"http", ls.HTTP.Addr().String()}
	if a.reloader != nil {
		attrs = append(attrs, "policy_file", a.cfg.Access.PolicyFile)
	}
	if ls.Admin != nil {
		attrs = append(attrs, "admin", ls.Admin.Addr().String())
	}
	if ls.GRPC != nil {
		attrs = append(attrs, "grpc", ls.GRPC.Addr().String())
	}
	if ls.SPOE != nil {
		attrs = append(attrs, "spoe", ls.SPOE.Addr().String())
	}
	a.log.Info("serving", append(attrs, "store", a.cfg.Session.Store, "version", buildVersion())...)
	return g.Wait()
}

// servers builds a server for each listener in ls, ext_authz and the SPOE
// agent first (the order they stop in). It starts none of them.
func (a *app) servers(ctx context.Context, ls Listeners) ([]server, error) {
	var out []server
	if ls.GRPC != nil {
		s, err := a.extAuthzServer(ctx, ls.GRPC)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	// From here on, a failure discards what was built.
	if ls.SPOE != nil {
		out = append(out, a.spoeServer(ls.SPOE))
	}
	out = append(out, a.httpServer(ls.HTTP))
	if ls.Admin != nil {
		if a.cfg.Admin.TLS.CertFile == "" && !isLoopback(ls.Admin.Addr()) {
			a.log.Warn("admin listener serves plain text on a non-loopback address: its bearer token and /metrics cross the network unencrypted; set admin.tls or bind admin.addr to loopback",
				"admin", ls.Admin.Addr().String())
		}
		s, err := a.adminServer(ls.Admin)
		if err != nil {
			discardAll(out)
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// stopServers drains the servers in order within http.shutdown_timeout.
func (a *app) stopServers(servers []server) error {
	a.log.Info("shutting down", "timeout", a.cfg.HTTP.ShutdownTimeout.String())
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.HTTP.ShutdownTimeout)
	defer cancel()
	var errs []error
	for _, s := range servers {
		if err := s.stop(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// watchPolicy watches access.policy_file, when one is set, until ctx ends:
// its changes and SIGHUP reload it.
func (a *app) watchPolicy(g *errgroup.Group, ctx context.Context) {
	rl := a.access.watch(a.cfg, a.checker, a.log, a.metrics.PolicyReload)
	if rl == nil {
		return
	}
	a.reloader = rl
	g.Go(func() error {
		rl.Run(ctx)
		return nil
	})
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	g.Go(func() error {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-hup:
				_ = rl.Reload() // logged and counted by the reloader
			}
		}
	})
}

// httpServer serves the public handler on ln.
func (a *app) httpServer(ln net.Listener) server {
	srv := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	return server{
		serve: func() error { return httpServed("http server", srv.Serve(ln)) },
		stop:  srv.Shutdown,
	}
}

// adminServer serves the session API, /metrics and pprof on ln.
func (a *app) adminServer(ln net.Listener) (server, error) {
	api, err := a.adminGRPC()
	if err != nil {
		return server{}, err
	}
	srv, err := a.newAdminServer(a.adminHandler(api))
	if err != nil {
		return server{}, err
	}
	return server{
		serve: func() error {
			if srv.TLSConfig != nil {
				return httpServed("admin server", srv.ServeTLS(ln, "", ""))
			}
			return httpServed("admin server", srv.Serve(ln))
		},
		stop: srv.Shutdown,
	}, nil
}

// httpServed is the error of an http.Server's Serve: none after Shutdown.
func httpServed(name string, err error) error {
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("%s: %w", name, err)
}

// extAuthzServer serves Envoy ext_authz on ln, with its gRPC health status
// following readiness until it stops.
func (a *app) extAuthzServer(ctx context.Context, ln net.Listener) (server, error) {
	c := a.cfg.GRPC
	tlsConf, err := serverTLS("grpc.tls", c.TLS)
	if err != nil {
		return server{}, err
	}
	svc := envoy.NewService(a.checker, envoy.ServiceOptions{Logger: a.log, Observer: a.metrics})
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
	health := &servingStatus{set: svc.SetServing}
	readyCtx, stopReady := context.WithCancel(ctx)
	return server{
		serve: func() error {
			var wg sync.WaitGroup
			wg.Go(func() { a.followReadiness(readyCtx, health.report) })
			defer wg.Wait()
			defer stopReady()
			if err := srv.Serve(ln); err != nil {
				return fmt.Errorf("grpc server: %w", err)
			}
			return nil
		},
		stop: func(ctx context.Context) error {
			stopReady()
			health.stop()
			done := make(chan struct{})
			go func() { srv.GracefulStop(); close(done) }()
			select {
			case <-done:
			case <-ctx.Done():
				srv.Stop()
				<-done
			}
			return nil
		},
		discard: func() {
			stopReady()
			srv.Stop()
		},
	}, nil
}

// servingStatus passes readiness reports to set until stop, which reports
// not serving for good.
type servingStatus struct {
	mu      sync.Mutex
	stopped bool
	set     func(bool)
}

func (s *servingStatus) report(ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.stopped {
		s.set(ok)
	}
}

func (s *servingStatus) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	s.set(false)
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
