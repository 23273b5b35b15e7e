package main

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/tlsfiles"
)

// adminHandler serves the admin listener: gRPC calls (the session API) go
// to grpcHandler when it is set, /metrics to Prometheus, /readyz to the
// readiness report with its errors, and /debug/pprof/ when admin.pprof is
// on. It is never mounted on the public listener.
func (a *app) adminHandler(grpcHandler http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", a.metrics.Handler())
	mux.HandleFunc("/readyz", a.readyzDetail)
	if a.cfg.Admin.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	if grpcHandler == nil {
		return mux
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
			grpcHandler.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// newAdminServer returns the admin listener's server: HTTP/1.1 and HTTP/2
// (cleartext h2c without TLS, so gRPC clients can connect), TLS or mTLS when
// admin.tls is set.
func (a *app) newAdminServer(h http.Handler) (*http.Server, error) {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetHTTP2(true)
	tlsConf, err := serverTLS("admin.tls", a.cfg.Admin.TLS)
	if err != nil {
		return nil, err
	}
	if tlsConf == nil {
		srv.Protocols.SetUnencryptedHTTP2(true)
	}
	srv.TLSConfig = tlsConf
	return srv, nil
}

// serverTLS builds a listener's TLS configuration; nil when TLS is off.
// Errors name the field under path (for example admin.tls.client_ca_file).
func serverTLS(path string, c config.ServerTLS) (*tls.Config, error) {
	if c.CertFile == "" {
		return nil, nil
	}
	conf, err := tlsfiles.Server(tlsfiles.ServerFiles{CertFile: c.CertFile, KeyFile: c.KeyFile, ClientCAFile: c.ClientCAFile})
	if err != nil {
		return nil, fmt.Errorf("%s.%w", path, err)
	}
	conf.NextProtos = []string{"h2", "http/1.1"}
	return conf, nil
}
