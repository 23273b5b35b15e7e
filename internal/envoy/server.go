package envoy

import (
	"crypto/tls"
	"runtime"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
)

// ServerOptions configure the gRPC server NewServer builds. The zero value
// is a plaintext server with the defaults documented on each field.
type ServerOptions struct {
	// Interceptors run around every unary call (tracing, for one).
	Interceptors []grpc.UnaryServerInterceptor

	// Reflection registers the gRPC server reflection service (for grpcurl).
	// Off by default.
	Reflection bool

	// KeepaliveTime is how long a connection may be idle before the server
	// pings the client; default 2h (gRPC's default).
	KeepaliveTime time.Duration
	// KeepaliveTimeout is how long the server waits for a ping ack before
	// closing the connection; default 20s.
	KeepaliveTimeout time.Duration
	// KeepaliveMinTime is the shortest interval at which a client (Envoy's
	// http2_protocol_options.connection_keepalive) may ping; a client that
	// pings more often is disconnected with GOAWAY too_many_pings. Default
	// 10s. Pings are permitted on connections without active streams.
	KeepaliveMinTime time.Duration

	// MaxConcurrentStreams bounds concurrent calls per connection; 0 means
	// gRPC's default (unbounded).
	MaxConcurrentStreams uint32
	// MaxRecvMsgSize bounds a CheckRequest; default 1 MiB. Envoy sends
	// headers only (with_request_body off), which it caps at 60 KiB.
	MaxRecvMsgSize int

	// TLS, when set, serves TLS with this configuration (server
	// certificate). Set ClientCAs and ClientAuth to
	// tls.RequireAndVerifyClientCert for mutual TLS with Envoy.
	TLS *tls.Config
}

// streamWorkersPerCPU sizes NewServer's pool of stream workers.
const streamWorkersPerCPU = 16

// NewServer returns a gRPC server with svc, its grpc.health.v1 server and,
// if asked, reflection registered. The caller serves it on a listener and
// stops it with GracefulStop after svc.SetServing(false).
//
// Calls are served by a pool of streamWorkersPerCPU stream workers per CPU
// (grpc.NumStreamWorkers) rather than a fresh goroutine each, whose stack
// grows by copying on every call through gRPC's receive path and the
// cookie codec (9-11% of an allowed Check's CPU in BenchmarkCheckGRPC, 2-6%
// with the pool). When every worker is busy (lookups waiting on Redis),
// gRPC starts a goroutine for the call as before. The pool starts here: a
// server that is built but never served must be stopped (Stop) to end it.
func NewServer(svc *Service, opts ServerOptions) (*grpc.Server, *health.Server) {
	kp := keepalive.ServerParameters{Time: opts.KeepaliveTime, Timeout: opts.KeepaliveTimeout}
	minTime := opts.KeepaliveMinTime
	if minTime <= 0 {
		minTime = 10 * time.Second
	}
	maxRecv := opts.MaxRecvMsgSize
	if maxRecv <= 0 {
		maxRecv = 1 << 20
	}
	so := []grpc.ServerOption{
		grpc.KeepaliveParams(kp),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: minTime, PermitWithoutStream: true}),
		grpc.MaxRecvMsgSize(maxRecv),
		grpc.NumStreamWorkers(uint32(streamWorkersPerCPU * runtime.GOMAXPROCS(0))),
	}
	if opts.MaxConcurrentStreams > 0 {
		so = append(so, grpc.MaxConcurrentStreams(opts.MaxConcurrentStreams))
	}
	if opts.TLS != nil {
		so = append(so, grpc.Creds(credentials.NewTLS(opts.TLS)))
	}
	if len(opts.Interceptors) > 0 {
		so = append(so, grpc.ChainUnaryInterceptor(opts.Interceptors...))
	}
	srv := grpc.NewServer(so...)
	authv3.RegisterAuthorizationServer(srv, svc)
	healthgrpc.RegisterHealthServer(srv, svc.Health())
	if opts.Reflection {
		reflection.Register(srv)
	}
	return srv, svc.Health()
}

// RequestHeaders returns the proxied request's headers of a CheckRequest
// (nil for any other message), so an interceptor can continue the trace
// context Envoy forwarded.
func RequestHeaders(req any) map[string]string {
	if cr, ok := req.(*authv3.CheckRequest); ok {
		return cr.GetAttributes().GetRequest().GetHttp().GetHeaders()
	}
	return nil
}
