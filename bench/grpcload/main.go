// Command grpcload measures gatehouse's Envoy ext_authz path under load.
//
// It starts, in one process, gatehouse's ext_authz gRPC server (a real
// check.Checker over the in-memory session store, with a signed-in session)
// and a no-op Authorization server that always answers OK, then sends
// authenticated Check calls to each at a fixed concurrency for a bounded
// time over loopback, and prints requests per second, p50 and p99 latency
// for both and their ratios. The no-op run is the floor set by gRPC, the
// loopback and this client; the difference is gatehouse's own cost.
//
//	go run ./bench/grpcload -c 64 -d 10s
//
// With -target host:port and -cookie it measures an already running
// gatehouse instead of the in-process one (the no-op server still runs
// in-process). It only ever connects to the address it is given.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/check"
	"github.com/gatehouse/gatehouse/internal/envoy"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/memstore"
)

const cookieName = "_gatehouse"

type options struct {
	concurrency int
	duration    time.Duration
	warmup      time.Duration
	conns       int
	target      string
	cookie      string
	host        string
}

func main() {
	var o options
	flag.IntVar(&o.concurrency, "c", 64, "concurrent callers")
	flag.DurationVar(&o.duration, "d", 10*time.Second, "measured duration per server (at most 5m)")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured warm-up per server")
	flag.IntVar(&o.conns, "conns", 2, "gRPC connections per server (Envoy opens about one per worker thread)")
	flag.StringVar(&o.target, "target", "", "address of a running gatehouse ext_authz server; empty starts one in-process")
	flag.StringVar(&o.cookie, "cookie", "", "Cookie header of a valid session, with -target")
	flag.StringVar(&o.host, "host", "app.example.com", "Host of the checked request")
	flag.Parse()
	if err := run(os.Stdout, o); err != nil {
		fmt.Fprintln(os.Stderr, "grpcload:", err)
		os.Exit(1)
	}
}

func run(out io.Writer, o options) error {
	if o.concurrency < 1 || o.conns < 1 || o.duration <= 0 || o.duration > 5*time.Minute {
		return errors.New("need -c >= 1, -conns >= 1 and 0 < -d <= 5m")
	}
	target, cookie := o.target, o.cookie
	if target == "" {
		addr, ck, stop, err := startGatehouse()
		if err != nil {
			return err
		}
		defer stop()
		target, cookie = addr, ck
	} else if cookie == "" {
		return errors.New("-target needs -cookie")
	}
	noop, stopNoop, err := startNoop()
	if err != nil {
		return err
	}
	defer stopNoop()

	req := checkRequest(o.host, cookie)
	fmt.Fprintf(out, "grpcload: c=%d conns=%d d=%v GOMAXPROCS=%d (client and in-process servers share the CPUs)\n",
		o.concurrency, o.conns, o.duration, runtime.GOMAXPROCS(0))
	gh, err := measure(target, req, o)
	if err != nil {
		return fmt.Errorf("gatehouse: %w", err)
	}
	np, err := measure(noop, req, o)
	if err != nil {
		return fmt.Errorf("noop: %w", err)
	}
	fmt.Fprintf(out, "%-10s %10s %10s %10s %8s %8s\n", "server", "calls", "rps", "p50", "p99", "errors")
	for _, r := range []struct {
		name string
		res  result
	}{{"gatehouse", gh}, {"noop", np}} {
		fmt.Fprintf(out, "%-10s %10d %10.0f %10v %8v %8d\n", r.name, r.res.calls, r.res.rps(), r.res.p(50), r.res.p(99), r.res.errors)
	}
	fmt.Fprintf(out, "ratio gatehouse/noop: rps %.2f, p50 %.2f, p99 %.2f\n",
		gh.rps()/np.rps(), ratio(gh.p(50), np.p(50)), ratio(gh.p(99), np.p(99)))
	if gh.errors > 0 || np.errors > 0 {
		return fmt.Errorf("%d gatehouse and %d noop calls failed or were not allowed (first: %v)", gh.errors, np.errors, errors.Join(gh.firstErr, np.firstErr))
	}
	return nil
}

// startGatehouse serves gatehouse's ext_authz adapter on loopback over a
// memory store holding one session, and returns its address and a Cookie
// header for that session.
func startGatehouse() (addr, cookie string, stop func(), err error) {
	key := make([]byte, session.KeySize)
	if _, err := rand.Read(key); err != nil {
		return "", "", nil, fmt.Errorf("cookie key: %w", err)
	}
	codec, err := session.NewCodec([][]byte{key}, nil)
	if err != nil {
		return "", "", nil, err
	}
	store := memstore.New(memstore.Options{})
	id, err := session.NewID()
	if err != nil {
		return "", "", nil, err
	}
	exp := time.Now().Add(time.Hour)
	s := &session.Session{ID: id, Issuer: "https://idp.example.com", Subject: "bench", User: "bench",
		Email: "bench@example.com", EmailVerified: true, Groups: []string{"eng"}, CreatedAt: time.Now(), ExpiresAt: exp}
	if err := store.Save(context.Background(), s); err != nil {
		return "", "", nil, fmt.Errorf("save session: %w", err)
	}
	value, err := codec.SealID(cookieName, id, exp)
	if err != nil {
		return "", "", nil, err
	}
	policy := &authz.Policy{
		LoginURL:     "https://auth.example.com/oauth2/start",
		EmailDomains: []string{"example.com"},
		Skip:         []authz.Route{{PathPrefix: "/healthz"}},
		Headers:      authz.DefaultHeaderNames(),
	}
	logger := slog.New(slog.DiscardHandler)
	checker := check.New(store, codec, session.CookieSettings{Name: cookieName, Secure: true}, policy, check.Options{Logger: logger})
	svc := envoy.NewService(checker, envoy.ServiceOptions{Logger: logger})
	svc.SetServing(true)
	srv, _ := envoy.NewServer(svc, envoy.ServerOptions{})
	addr, err = serve(srv)
	if err != nil {
		return "", "", nil, err
	}
	return addr, "theme=dark; " + cookieName + "=" + value, func() { srv.Stop(); _ = store.Close() }, nil
}

// noopServer allows every request and does nothing else.
type noopServer struct {
	authv3.UnimplementedAuthorizationServer
}

func (noopServer) Check(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	return &authv3.CheckResponse{
		Status:       &rpcstatus.Status{Code: int32(codes.OK)},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{}},
	}, nil
}

func startNoop() (string, func(), error) {
	srv := grpc.NewServer()
	authv3.RegisterAuthorizationServer(srv, noopServer{})
	addr, err := serve(srv)
	return addr, srv.Stop, err
}

func serve(srv *grpc.Server) (string, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("listen: %w", err)
	}
	go func() { _ = srv.Serve(lis) }()
	return lis.Addr().String(), nil
}

// checkRequest is what Envoy sends for a browser's authenticated GET.
func checkRequest(host, cookie string) *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: "203.0.113.7", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 51234}},
		}}},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: "bench", Method: "GET", Host: host, Path: "/dashboard/projects?filter=mine", Scheme: "https", Protocol: "HTTP/2",
			Headers: map[string]string{
				":authority": host, ":method": "GET", ":path": "/dashboard/projects?filter=mine",
				"accept":     "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
				"cookie":     cookie,
				"user-agent": "Mozilla/5.0 (X11; Linux x86_64) grpcload",
			},
		}},
	}}
}

type result struct {
	calls    int
	errors   int
	firstErr error
	elapsed  time.Duration
	lat      []time.Duration // sorted
}

func (r result) rps() float64 { return float64(r.calls) / r.elapsed.Seconds() }

func (r result) p(q int) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := min(len(r.lat)-1, len(r.lat)*q/100)
	return r.lat[i].Round(time.Microsecond)
}

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// measure calls Check on addr from o.concurrency goroutines over o.conns
// connections: first for o.warmup unmeasured, then for o.duration.
func measure(addr string, req *authv3.CheckRequest, o options) (result, error) {
	clients := make([]authv3.AuthorizationClient, o.conns)
	for i := range clients {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return result{}, fmt.Errorf("dial %s: %w", addr, err)
		}
		defer conn.Close()
		clients[i] = authv3.NewAuthorizationClient(conn)
	}
	if o.warmup > 0 {
		if _, err := phase(clients, req, o.concurrency, o.warmup); err != nil {
			return result{}, err
		}
	}
	return phase(clients, req, o.concurrency, o.duration)
}

func phase(clients []authv3.AuthorizationClient, req *authv3.CheckRequest, concurrency int, d time.Duration) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	type worker struct {
		lat      []time.Duration
		errors   int
		firstErr error
	}
	ws := make([]worker, concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range ws {
		w, client := &ws[i], clients[i%len(clients)]
		w.lat = make([]time.Duration, 0, 1<<14)
		wg.Go(func() {
			for ctx.Err() == nil {
				callCtx, callCancel := context.WithTimeout(context.Background(), time.Second)
				t0 := time.Now()
				resp, err := client.Check(callCtx, req)
				took := time.Since(t0)
				callCancel()
				if err == nil && codes.Code(resp.GetStatus().GetCode()) != codes.OK {
					err = fmt.Errorf("not allowed: %v", resp.GetStatus())
				}
				if err != nil {
					if w.firstErr == nil {
						w.firstErr = err
					}
					w.errors++
					continue
				}
				w.lat = append(w.lat, took)
			}
		})
	}
	wg.Wait()
	res := result{elapsed: time.Since(start)}
	for i := range ws {
		res.lat = append(res.lat, ws[i].lat...)
		res.errors += ws[i].errors
		if res.firstErr == nil {
			res.firstErr = ws[i].firstErr
		}
	}
	res.calls = len(res.lat)
	slices.Sort(res.lat)
	if res.calls == 0 {
		return res, fmt.Errorf("no successful calls (first error: %v)", res.firstErr)
	}
	return res, nil
}
