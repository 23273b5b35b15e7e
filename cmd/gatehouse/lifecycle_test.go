package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gatehouse/gatehouse/internal/oidctest"
)

// lifecycleEnv is a configuration with every long-running part on: Redis
// with the revocation cache, the idle timeout, tracing to collector, a
// watched policy file, and the gRPC and admin listeners.
func lifecycleEnv(t *testing.T, collector string) map[string]string {
	env, _ := lifecycleEnvWith(t, collector, oidctest.Options{})
	return env
}

// lifecycleEnvWith is lifecycleEnv on a provider started with opts.
func lifecycleEnvWith(t *testing.T, collector string, opts oidctest.Options) (map[string]string, *oidctest.Provider) {
	t.Helper()
	prefix := fmt.Sprintf("gatehouse-test:%d:", time.Now().UnixNano())
	requireRedis(t, prefix)
	p := oidctest.Start(t, opts)
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte(strings.Repeat("t", 40)), 0o600); err != nil {
		t.Fatal(err)
	}
	env := baseEnv(t, p, prefix)
	env["GATEHOUSE_COOKIE_SECRETS"] = randomKey(t)
	env["GATEHOUSE_OIDC_REDIRECT_URL"] = "https://auth.example.com/oauth2/callback"
	env["GATEHOUSE_SESSION_CACHE_TTL"] = "5s"
	env["GATEHOUSE_SESSION_IDLE_TIMEOUT"] = "30m"
	env["GATEHOUSE_TRACING_ENABLED"] = "true"
	env["GATEHOUSE_TRACING_ENDPOINT"] = collector
	env["GATEHOUSE_ADMIN_TOKEN_FILE"] = token
	pf := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(pf, []byte("email_domains: [example.com]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	delete(env, "GATEHOUSE_ACCESS_EMAIL_DOMAINS")
	delete(env, "GATEHOUSE_ACCESS_ALLOW_ANY_AUTHENTICATED")
	env["GATEHOUSE_ACCESS_POLICY_FILE"] = pf
	return env, p
}

// collector is an OTLP/HTTP endpoint that counts the trace exports it gets.
func collector(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var exports atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/v1/traces" {
			exports.Add(1)
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv, &exports
}

// newLifecycleApp loads env and wires an app.
func newLifecycleApp(t *testing.T, env map[string]string) *app {
	t.Helper()
	a, _ := appFromEnv(t, env)
	return a
}

func listenLocal(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// TestStoppedServerLeavesNoGoroutine: a server with every long-running
// part on (HTTP, gRPC and admin listeners, the revocation cache's
// subscription, the idle timeout, background refreshes, the policy file
// watch, tracing) that signed a user in and answered for them, with a
// token refresh in the background, leaves no goroutine behind once its
// context is cancelled, Serve has returned and the app is closed; the
// spans were flushed to the collector on the way out.
func TestStoppedServerLeavesNoGoroutine(t *testing.T) {
	col, exports := collector(t)
	env, p := lifecycleEnvWith(t, col.URL, oidctest.Options{
		// Tokens within the refresh margin from the start: every allowed
		// request asks for a background refresh.
		AccessTokenLifetime: 30 * time.Second, IDTokenLifetime: 30 * time.Second,
		Users: []oidctest.User{{Subject: "u-alice", Email: "alice@example.com", EmailVerified: true, PreferredUsername: "alice", Password: "pw"}},
	})
	env["GATEHOUSE_OIDC_SCOPES"] = "openid,email,profile,offline_access"
	ls := Listeners{HTTP: listenLocal(t), GRPC: listenLocal(t), Admin: listenLocal(t)}
	base := "http://" + ls.HTTP.Addr().String()
	env["GATEHOUSE_OIDC_REDIRECT_URL"] = base + "/oauth2/callback"
	p.AddRedirectURI(base + "/oauth2/callback")
	ignore := goleak.IgnoreCurrent()

	a := newLifecycleApp(t, env)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ls) }()

	tr := &http.Transport{}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Transport: tr, Jar: jar, Timeout: 5 * time.Second}
	waitReady(t, c, base)
	resp, err := p.Login(context.Background(), c, base+"/oauth2/start?rd="+url.QueryEscape("http://app.example.com/"), "alice", "pw")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for range 3 {
		resp := forwardAuth(t, c, base, "/")
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("signed-in forward-auth: %d", resp.StatusCode)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for p.RefreshRequests() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if p.RefreshRequests() == 0 {
		t.Fatal("no background refresh of the due tokens")
	}
	tr.CloseIdleConnections()

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve after a clean stop: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	a.Close()
	if exports.Load() == 0 {
		t.Error("the spans were not flushed to the collector at shutdown")
	}
	if err := goleak.Find(ignore); err != nil {
		t.Fatalf("goroutines left after stop: %v", err)
	}
}

// TestFailedStartLeavesNoGoroutine: when serving cannot start (the admin
// token file is missing, found after the HTTP listener is up; the HTTP
// address is taken), every part already started is stopped, the listeners
// closed, the tracer shut down and the stores closed, so nothing runs on.
func TestFailedStartLeavesNoGoroutine(t *testing.T) {
	col, _ := collector(t)

	t.Run("admin token file missing", func(t *testing.T) {
		env := lifecycleEnv(t, col.URL)
		env["GATEHOUSE_ADMIN_TOKEN_FILE"] = filepath.Join(t.TempDir(), "missing")
		ignore := goleak.IgnoreCurrent()
		a := newLifecycleApp(t, env)
		ls := Listeners{HTTP: listenLocal(t), GRPC: listenLocal(t), Admin: listenLocal(t)}
		err := a.Serve(context.Background(), ls)
		a.Close()
		if err == nil || !strings.Contains(err.Error(), "admin") {
			t.Fatalf("Serve with a missing admin token file: %v, want an admin error", err)
		}
		if err := goleak.Find(ignore); err != nil {
			t.Fatalf("goroutines left after a failed start: %v", err)
		}
		for _, ln := range []net.Listener{ls.HTTP, ls.GRPC, ls.Admin} {
			if conn, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
				conn.Close()
				t.Errorf("listener %s still open after a failed start", ln.Addr())
			}
		}
	})

	t.Run("http address taken", func(t *testing.T) {
		env := lifecycleEnv(t, col.URL)
		taken := listenLocal(t)
		defer taken.Close()
		env["GATEHOUSE_HTTP_ADDR"] = taken.Addr().String()
		env["GATEHOUSE_OIDC_REDIRECT_URL"] = "http://" + taken.Addr().String() + "/oauth2/callback"
		delete(env, "GATEHOUSE_ADMIN_TOKEN_FILE")
		ignore := goleak.IgnoreCurrent()
		err := serveCmd(context.Background(), nil, io.Discard, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		if err == nil || !strings.Contains(err.Error(), "http.addr") {
			t.Fatalf("serve on a taken address: %v, want an http.addr error", err)
		}
		if err := goleak.Find(ignore); err != nil {
			t.Fatalf("goroutines left after a failed start: %v", err)
		}
	})
}

// waitReady polls /readyz until it answers 200.
func waitReady(t *testing.T, c *http.Client, base string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := c.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready within 10s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFailingServerStopsEverything: when one server fails while serving
// (its listener is closed under it), Serve stops every other part and
// returns that failure, and nothing is left running.
func TestFailingServerStopsEverything(t *testing.T) {
	col, _ := collector(t)
	env := lifecycleEnv(t, col.URL)
	ignore := goleak.IgnoreCurrent()
	a := newLifecycleApp(t, env)
	ls := Listeners{HTTP: listenLocal(t), GRPC: listenLocal(t), Admin: listenLocal(t)}
	done := make(chan error, 1)
	go func() { done <- a.Serve(context.Background(), ls) }()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	waitReady(t, c, "http://"+ls.HTTP.Addr().String())

	ls.Admin.Close()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "admin server") {
			t.Fatalf("Serve after the admin listener failed: %v, want the admin server's error", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Serve went on after a server failed")
	}
	a.Close()
	if err := goleak.Find(ignore); err != nil {
		t.Fatalf("goroutines left after a server failed: %v", err)
	}
}
