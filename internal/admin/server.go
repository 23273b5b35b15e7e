package admin

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	adminv1 "github.com/gatehouse/gatehouse/gen/gatehouse/admin/v1"
	"github.com/gatehouse/gatehouse/internal/tlsfiles"
)

// DefaultTimeout bounds the store work of one admin call.
const DefaultTimeout = 10 * time.Second

// maxRecvMsgSize bounds an admin request; they are a few short strings.
const maxRecvMsgSize = 64 << 10

// Options configure the admin gRPC server. At least one of TokenFile and
// mutual TLS (TLS with ClientAuth tls.RequireAndVerifyClientCert and
// ClientCAs) must be set; when both are, every call needs both.
type Options struct {
	// Logger receives one record per call (method, peer, auth, outcome);
	// nil discards them.
	Logger *slog.Logger
	// TokenFile holds the bearer token clients must send
	// ("authorization: Bearer <token>"); it is read once, by NewServer, and
	// must hold at least MinTokenLen bytes.
	TokenFile string
	// TLS, when set, serves TLS with this configuration. With ClientAuth
	// tls.RequireAndVerifyClientCert and ClientCAs it authenticates clients
	// by certificate (mTLS).
	TLS *tls.Config
	// Timeout bounds each call's store work; DefaultTimeout if <= 0.
	Timeout time.Duration
	// ExternalTLS says TLS (with TLS's client-certificate policy) is
	// terminated by the http.Server that hands calls to the gRPC server's
	// ServeHTTP, so the gRPC server must not add its own.
	ExternalTLS bool
}

// NewServer returns a gRPC server with the SessionService on mgr registered
// behind authentication and logging interceptors. It refuses a
// configuration with neither a token nor mutual TLS. The caller serves it on
// the admin listener (never the public one) and stops it with GracefulStop.
func NewServer(mgr Manager, opts Options) (*grpc.Server, error) {
	if mgr == nil {
		return nil, errors.New("admin: no session manager")
	}
	auth, err := newAuthenticator(opts)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	so := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(maxRecvMsgSize),
		grpc.ChainUnaryInterceptor(unaryInterceptor(auth, log)),
		grpc.ChainStreamInterceptor(streamInterceptor(auth, log)),
	}
	if opts.TLS != nil && !opts.ExternalTLS {
		c := opts.TLS.Clone()
		if c.MinVersion < tls.VersionTLS12 {
			c.MinVersion = tls.VersionTLS12
		}
		so = append(so, grpc.Creds(credentials.NewTLS(c)))
	}
	srv := grpc.NewServer(so...)
	adminv1.RegisterSessionServiceServer(srv, NewService(mgr, opts.Timeout))
	return srv, nil
}

// newAuthenticator checks that opts name at least one way to authenticate
// and reads the token.
func newAuthenticator(opts Options) (*authenticator, error) {
	a := &authenticator{}
	if opts.TLS != nil && opts.TLS.ClientAuth != tls.NoClientCert {
		if opts.TLS.ClientAuth != tls.RequireAndVerifyClientCert || opts.TLS.ClientCAs == nil {
			return nil, errors.New("admin: tls: client certificates must be required and verified (ClientAuth RequireAndVerifyClientCert with ClientCAs)")
		}
		a.requireMTLS = true
	}
	if opts.TokenFile != "" {
		tok, err := ReadTokenFile(opts.TokenFile)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(tok)
		a.tokenSum = &sum
	}
	if a.tokenSum == nil && !a.requireMTLS {
		return nil, errors.New("admin: refusing to serve without authentication: set admin.token_file, or admin.tls with client_ca_file (mTLS), or both")
	}
	return a, nil
}

// ServerTLS loads a server TLS configuration from PEM files; with
// clientCAFile, clients must present a certificate signed by one of its CAs.
func ServerTLS(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	c, err := tlsfiles.Server(tlsfiles.ServerFiles{CertFile: certFile, KeyFile: keyFile, ClientCAFile: clientCAFile})
	if err != nil {
		return nil, fmt.Errorf("admin: tls: %w", err)
	}
	return c, nil
}

// unaryInterceptor authenticates, runs and logs each unary call.
func unaryInterceptor(a *authenticator, log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		method, reason, err := a.authenticate(ctx)
		if err != nil {
			logCall(ctx, log, info.FullMethod, "", start, err, reason)
			return nil, err
		}
		resp, err := handler(ctx, req)
		logCall(ctx, log, info.FullMethod, method, start, err, "")
		return resp, err
	}
}

// streamInterceptor authenticates, runs and logs each streaming call. The
// SessionService has none today; this keeps any later one behind the same
// gate.
func streamInterceptor(a *authenticator, log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		start := time.Now()
		ctx := ss.Context()
		method, reason, err := a.authenticate(ctx)
		if err != nil {
			logCall(ctx, log, info.FullMethod, "", start, err, reason)
			return err
		}
		err = handler(srv, ss)
		logCall(ctx, log, info.FullMethod, method, start, err, "")
		return err
	}
}

// logCall writes one record per call: refused calls and failures at Warn,
// the rest at Info. Credentials are never logged, only how the caller
// authenticated and, when refused, why.
func logCall(ctx context.Context, log *slog.Logger, fullMethod, auth string, start time.Time, err error, reason string) {
	st := status.Convert(err)
	attrs := []slog.Attr{
		slog.String("method", fullMethod),
		slog.String("peer", peerAddr(ctx)),
		slog.String("code", st.Code().String()),
		slog.Duration("duration", time.Since(start)),
	}
	if auth != "" {
		attrs = append(attrs, slog.String("auth", auth))
	}
	if reason != "" {
		attrs = append(attrs, slog.String("reason", reason))
	}
	level := slog.LevelInfo
	if err != nil {
		level = slog.LevelWarn
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	log.LogAttrs(ctx, level, "admin call", attrs...)
}

func peerAddr(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return p.Addr.String()
	}
	return "unknown"
}
