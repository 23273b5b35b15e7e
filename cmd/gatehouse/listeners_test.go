package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/gatehouse/gatehouse/internal/oidctest"
)

// TestExtAuthzAndAdminListeners: a user logs in over HTTP; Envoy's
// ext_authz over gRPC on the same process sees the session; gRPC health is
// SERVING; the admin listener serves /metrics with the decisions counted.
func TestExtAuthzAndAdminListeners(t *testing.T) {
	p := oidctest.Start(t, oidctest.Options{Users: []oidctest.User{
		{Subject: "u-alice", Email: "alice@example.com", EmailVerified: true, PreferredUsername: "alice", Password: "pw"},
	}})
	token := filepath.Join(t.TempDir(), "token")
	os.WriteFile(token, []byte(strings.Repeat("t", 40)), 0o600)
	env := baseEnv(t, p, "")
	env["GATEHOUSE_SESSION_STORE"] = "memory"
	env["GATEHOUSE_COOKIE_SECRETS"] = randomKey(t)
	env["GATEHOUSE_ADMIN_ADDR"] = "auto"
	env["GATEHOUSE_ADMIN_TOKEN_FILE"] = token
	gh := startInstance(t, env)
	p.AddRedirectURI(gh.url + "/oauth2/callback")

	conn, err := grpc.NewClient(gh.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Health follows readiness: SERVING once the store answers.
	hc := healthpb.NewHealthClient(conn)
	var st healthpb.HealthCheckResponse_ServingStatus
	for ctx.Err() == nil {
		r, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "envoy.service.auth.v3.Authorization"})
		if err == nil && r.Status == healthpb.HealthCheckResponse_SERVING {
			st = r.Status
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st != healthpb.HealthCheckResponse_SERVING {
		t.Fatal("ext_authz health never SERVING")
	}

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	if _, err := p.Login(ctx, browser, gh.url+"/oauth2/start?rd=/", "alice", "pw"); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(gh.url)
	var cookie []string
	for _, c := range jar.Cookies(u) {
		cookie = append(cookie, c.Name+"="+c.Value)
	}
	ac := authv3.NewAuthorizationClient(conn)
	check := func(cookieHeader string) *authv3.CheckResponse {
		resp, err := ac.Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
				SocketAddress: &corev3.SocketAddress{Address: "203.0.113.5", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 5555}}}}},
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
				Method: "GET", Host: "app.example.com", Scheme: "https", Path: "/runs?x=1",
				Headers: map[string]string{"cookie": cookieHeader, "accept": "text/html", "x-auth-request-email": "spoof@example.com"},
			}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := check(strings.Join(cookie, "; "))
	if codes.Code(resp.Status.Code) != codes.OK {
		t.Fatalf("ext_authz with session: %v", resp.Status)
	}
	var email string
	for _, h := range resp.GetOkResponse().GetHeaders() {
		if strings.EqualFold(h.Header.Key, "X-Auth-Request-Email") {
			email = h.Header.Value
		}
	}
	if email != "alice@example.com" {
		t.Errorf("ext_authz email header = %q", email)
	}
	if resp := check(""); codes.Code(resp.Status.Code) == codes.OK || resp.GetDeniedResponse().GetStatus().GetCode() != 302 {
		t.Errorf("ext_authz without session: %v", resp)
	}

	// Metrics on the admin listener, never on the public one.
	mresp, err := http.Get("http://" + gh.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	for _, want := range []string{
		`gatehouse_decisions_total{adapter="ext_authz",outcome="allow",reason="allowed"} 1`,
		`gatehouse_decisions_total{adapter="ext_authz",outcome="unauthenticated",reason="no_session"} 1`,
		`gatehouse_logins_total{result="success"} 1`,
		`gatehouse_check_duration_seconds_bucket{adapter="ext_authz"`,
		`gatehouse_session_store_duration_seconds_bucket{op="load"`,
		"go_goroutines",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if r, err := http.Get(gh.url + "/metrics"); err == nil {
		r.Body.Close()
		if r.StatusCode == 200 {
			t.Error("/metrics is served on the public listener")
		}
	}
	if r, err := http.Get("http://" + gh.admin + "/debug/pprof/"); err == nil {
		r.Body.Close()
		if r.StatusCode == 200 {
			t.Error("pprof served without admin.pprof")
		}
	}
}
