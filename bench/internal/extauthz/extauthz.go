// Package extauthz is the load client of the Envoy ext_authz benchmarks
// (bench/grpcload, bench/binary): the Check request Envoy sends for a
// browser's authenticated GET, a no-op Authorization server, and a
// fixed-concurrency caller that records every call's latency.
package extauthz

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
)

// CheckRequest is what Envoy sends for a browser's authenticated GET of
// host with the given Cookie header.
func CheckRequest(host, cookie string) *authv3.CheckRequest {
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

// NoopServer allows every request and does nothing else.
type NoopServer struct {
	authv3.UnimplementedAuthorizationServer
}

// Check answers OK.
func (NoopServer) Check(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	return &authv3.CheckResponse{
		Status:       &rpcstatus.Status{Code: int32(codes.OK)},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{}},
	}, nil
}

// Result is one measured phase.
type Result struct {
	Calls    int
	Errors   int
	FirstErr error
	Elapsed  time.Duration
	Lat      []time.Duration // sorted
}

// RPS is the rate of successful calls.
func (r Result) RPS() float64 { return float64(r.Calls) / r.Elapsed.Seconds() }

// P is the q-th percentile latency of the successful calls.
func (r Result) P(q int) time.Duration {
	if len(r.Lat) == 0 {
		return 0
	}
	i := min(len(r.Lat)-1, len(r.Lat)*q/100)
	return r.Lat[i].Round(time.Microsecond)
}

// Load is how a server is called.
type Load struct {
	Concurrency int           // concurrent callers
	Conns       int           // gRPC connections, shared round-robin by the callers
	Warmup      time.Duration // unmeasured, before Duration
	Duration    time.Duration
}

// Measure calls Check on addr with req from l.Concurrency goroutines over
// l.Conns connections: first for l.Warmup unmeasured, then for l.Duration.
// A call that fails or is not allowed counts as an error. It fails only
// when no call succeeded.
func Measure(addr string, req *authv3.CheckRequest, l Load) (Result, error) {
	clients := make([]authv3.AuthorizationClient, max(1, l.Conns))
	for i := range clients {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return Result{}, fmt.Errorf("dial %s: %w", addr, err)
		}
		defer conn.Close()
		clients[i] = authv3.NewAuthorizationClient(conn)
	}
	if l.Warmup > 0 {
		if _, err := phase(clients, req, l.Concurrency, l.Warmup); err != nil {
			return Result{}, err
		}
	}
	return phase(clients, req, l.Concurrency, l.Duration)
}

func phase(clients []authv3.AuthorizationClient, req *authv3.CheckRequest, concurrency int, d time.Duration) (Result, error) {
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
	res := Result{Elapsed: time.Since(start)}
	for i := range ws {
		res.Lat = append(res.Lat, ws[i].lat...)
		res.Errors += ws[i].errors
		if res.FirstErr == nil {
			res.FirstErr = ws[i].firstErr
		}
	}
	res.Calls = len(res.Lat)
	slices.Sort(res.Lat)
	if res.Calls == 0 {
		return res, fmt.Errorf("no successful calls (first error: %v)", res.FirstErr)
	}
	return res, nil
}

// Serve registers srv's Authorization service on a new gRPC server.
func Serve(srv authv3.AuthorizationServer) *grpc.Server {
	g := grpc.NewServer()
	authv3.RegisterAuthorizationServer(g, srv)
	return g
}
