package envoy_test

import (
	"context"
	"crypto/rand"
	"net"
	"sync/atomic"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gatehouse/gatehouse/internal/check"
	"github.com/gatehouse/gatehouse/internal/envoy"
	"github.com/gatehouse/gatehouse/internal/metrics"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/cookie"
	"github.com/gatehouse/gatehouse/internal/session/memstore"
)

// BenchmarkCheck measures one authenticated, allowed Check without the
// network: request mapping, session lookup (fake store), decision and the
// CheckResponse. The context carries a deadline, as every call gRPC hands
// the service does (Envoy sends its ext_authz timeout as one), and the
// decision is observed by the metrics, as in gatehouse serve.
func BenchmarkCheck(b *testing.B) {
	e := newEnv(b, 0)
	svc := envoy.NewService(e.checker, envoy.ServiceOptions{Observer: metrics.New()})
	req := checkReq("GET", "app.example.com", "/dashboard/projects?filter=mine", map[string]string{
		"accept": browserAccept, "cookie": e.login(b, "alice@example.com", true, "eng"),
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	b.ReportAllocs()
	for b.Loop() {
		resp, _ := svc.Check(ctx, req)
		if resp.GetOkResponse() == nil {
			b.Fatal("not allowed")
		}
	}
}

// noopAuthz allows every request and does nothing else: the floor of an
// ext_authz server (the same as bench/internal/extauthz.NoopServer).
type noopAuthz struct {
	authv3.UnimplementedAuthorizationServer
}

func (noopAuthz) Check(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	return &authv3.CheckResponse{
		Status:       &rpcstatus.Status{Code: int32(codes.OK)},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{}},
	}, nil
}

// BenchmarkCheckGRPC measures an allowed Check over a real gRPC connection
// on loopback, against a no-op Authorization server on the same server
// options: gatehouse's server from NewServer with gatehouse serve's
// defaults (max_concurrent_streams 1000) and its session store layers for
// session.store memory (the metrics over the memory store), the caller's
// deadline of a second, the request of bench/internal/extauthz, and 2
// connections shared by 32 callers per GOMAXPROCS (64 at -cpu 2, as make
// bench-load's c64). Compare the two with -cpu 2: ns/op is the inverse of
// the throughput; cpu-ns/op is the process's CPU time per call.
func BenchmarkCheckGRPC(b *testing.B) {
	svc, cookie := serveService(b)
	req := checkReq("GET", "app.example.com", "/dashboard/projects?filter=mine", map[string]string{
		":authority": "app.example.com", ":method": "GET", ":path": "/dashboard/projects?filter=mine",
		"accept": browserAccept, "cookie": cookie, "user-agent": "Mozilla/5.0 (X11; Linux x86_64) grpcload",
	})
	opts := envoy.ServerOptions{MaxConcurrentStreams: 1000}
	b.Run("gatehouse", func(b *testing.B) {
		srv, _ := envoy.NewServer(svc, opts)
		benchGRPC(b, srv, req)
	})
	b.Run("noop", func(b *testing.B) {
		// NewServer's per-call options; keepalive costs nothing per call.
		g := grpc.NewServer(grpc.MaxConcurrentStreams(1000), grpc.MaxRecvMsgSize(1<<20))
		authv3.RegisterAuthorizationServer(g, noopAuthz{})
		benchGRPC(b, g, req)
	})
}

// serveService is the ext_authz service as gatehouse serve wires it for
// session.store memory, and the Cookie header of a signed-in user.
func serveService(b *testing.B) (*envoy.Service, string) {
	b.Helper()
	key := make([]byte, cookie.KeySize)
	if _, err := rand.Read(key); err != nil {
		b.Fatal(err)
	}
	codec, err := cookie.NewCodec([][]byte{key}, nil)
	if err != nil {
		b.Fatal(err)
	}
	m := metrics.New()
	mem := memstore.New(memstore.Options{})
	b.Cleanup(func() { _ = mem.Close() })
	c := check.New(m.InstrumentStore(mem), codec, cookie.Settings{Name: cookieName, Secure: true}, testPolicy(), check.Options{})
	id, err := session.NewID()
	if err != nil {
		b.Fatal(err)
	}
	exp := time.Now().Add(time.Hour)
	s := &session.Session{ID: id, Subject: "sub-alice", User: "alice", Email: "alice@example.com", EmailVerified: true, Groups: []string{"eng"}, ExpiresAt: exp}
	if err := mem.Save(context.Background(), s); err != nil {
		b.Fatal(err)
	}
	v, err := codec.SealID(cookieName, id, exp)
	if err != nil {
		b.Fatal(err)
	}
	svc := envoy.NewService(c, envoy.ServiceOptions{Observer: m})
	svc.SetServing(true)
	return svc, "theme=dark; " + cookieName + "=" + v
}

func benchGRPC(b *testing.B, srv *grpc.Server, req *authv3.CheckRequest) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()
	var clients [2]authv3.AuthorizationClient
	for i := range clients {
		conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		clients[i] = authv3.NewAuthorizationClient(conn)
	}
	var n, failed atomic.Int64
	b.SetParallelism(32)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		c := clients[n.Add(1)%2]
		for pb.Next() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			resp, err := c.Check(ctx, req)
			cancel()
			if err != nil || resp.GetOkResponse() == nil {
				failed.Add(1)
			}
		}
	})
	if cpu := cpuTime() - cpu0; cpu > 0 {
		// Client and server share the process as they share the machine
		// in make bench-load; a loaded machine does not inflate this.
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d calls failed or were not allowed", f)
	}
}
