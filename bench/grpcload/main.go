// Command grpcload measures gatehouse's Envoy ext_authz path under load,
// wired in this process (make bench-inprocess; bench/binary measures the
// shipped binary, with the same client from bench/internal/extauthz).
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
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"

	"github.com/gatehouse/gatehouse/bench/internal/extauthz"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/check"
	"github.com/gatehouse/gatehouse/internal/envoy"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/cookie"
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

	req := extauthz.CheckRequest(o.host, cookie)
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
		res  extauthz.Result
	}{{"gatehouse", gh}, {"noop", np}} {
		fmt.Fprintf(out, "%-10s %10d %10.0f %10v %8v %8d\n", r.name, r.res.Calls, r.res.RPS(), r.res.P(50), r.res.P(99), r.res.Errors)
	}
	fmt.Fprintf(out, "ratio gatehouse/noop: rps %.2f, p50 %.2f, p99 %.2f\n",
		gh.RPS()/np.RPS(), ratio(gh.P(50), np.P(50)), ratio(gh.P(99), np.P(99)))
	if gh.Errors > 0 || np.Errors > 0 {
		return fmt.Errorf("%d gatehouse and %d noop calls failed or were not allowed (first: %v)", gh.Errors, np.Errors, errors.Join(gh.FirstErr, np.FirstErr))
	}
	return nil
}

// startGatehouse serves gatehouse's ext_authz adapter on loopback over a
// memory store holding one session, and returns its address and a Cookie
// header for that session.
func startGatehouse() (addr, cookieHeader string, stop func(), err error) {
	key := make([]byte, cookie.KeySize)
	if _, err := rand.Read(key); err != nil {
		return "", "", nil, fmt.Errorf("cookie key: %w", err)
	}
	codec, err := cookie.NewCodec([][]byte{key}, nil)
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
	checker := check.New(store, codec, cookie.Settings{Name: cookieName, Secure: true}, policy, check.Options{Logger: logger})
	svc := envoy.NewService(checker, envoy.ServiceOptions{Logger: logger})
	svc.SetServing(true)
	srv, _ := envoy.NewServer(svc, envoy.ServerOptions{})
	addr, err = serve(srv)
	if err != nil {
		return "", "", nil, err
	}
	return addr, "theme=dark; " + cookieName + "=" + value, func() { srv.Stop(); _ = store.Close() }, nil
}

func startNoop() (string, func(), error) {
	srv := extauthz.Serve(extauthz.NoopServer{})
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

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// measure calls Check on addr as o says.
func measure(addr string, req *authv3.CheckRequest, o options) (extauthz.Result, error) {
	return extauthz.Measure(addr, req, extauthz.Load{Concurrency: o.concurrency, Conns: o.conns, Warmup: o.warmup, Duration: o.duration})
}
