package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/oidctest"
)

// redisProc is a redis-server (or sentinel) the test started and kills.
type redisProc struct {
	cmd  *exec.Cmd
	port int
}

func startRedisProc(t *testing.T, port int, args ...string) *redisProc {
	t.Helper()
	cmd := exec.Command("redis-server", args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("redis-server: %v", err)
	}
	p := &redisProc{cmd: cmd, port: port}
	t.Cleanup(p.kill)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", p.addr(), 100*time.Millisecond); err == nil {
			c.Close()
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %d did not start", port)
		}
	}
}

func (p *redisProc) addr() string { return "127.0.0.1:" + strconv.Itoa(p.port) }

func (p *redisProc) kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
	}
}

func freeTCPPort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestSentinelMasterDownFailsClosed: gatehouse on Redis Sentinel, with its
// local cache on. While no master is reachable, a signed-in user gets 503:
// never 200 (once the dropped revocation subscription has bypassed the
// cache), never a login redirect. When the master is back (same data), the
// same session is served again without restarting gatehouse.
func TestSentinelMasterDownFailsClosed(t *testing.T) {
	dir := t.TempDir()
	masterPort, sentinelPort := freeTCPPort(t), freeTCPPort(t)
	masterArgs := []string{"--port", strconv.Itoa(masterPort), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "yes", "--appendfsync", "always", "--dir", dir}
	master := startRedisProc(t, masterPort, masterArgs...)
	conf := filepath.Join(t.TempDir(), "sentinel.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("port %d\nbind 127.0.0.1\nsentinel monitor gh-gate 127.0.0.1 %d 1\n"+
		"sentinel down-after-milliseconds gh-gate 60000\n", sentinelPort, masterPort)), 0o600)
	sentinel := startRedisProc(t, sentinelPort, conf, "--sentinel")

	p := oidctest.Start(t, oidctest.Options{Users: []oidctest.User{
		{Subject: "u-alice", Email: "alice@example.com", EmailVerified: true, Password: "pw"},
	}})
	env := baseEnv(t, p, "gatehouse-test:sentinel:")
	env["GATEHOUSE_COOKIE_SECRETS"] = randomKey(t)
	env["GATEHOUSE_REDIS_ADDRS"] = sentinel.addr()
	env["GATEHOUSE_REDIS_MASTER_NAME"] = "gh-gate"
	env["GATEHOUSE_SESSION_CACHE_TTL"] = "1s"
	gh := startInstance(t, env)
	p.AddRedirectURI(gh.url + "/oauth2/callback")

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	if _, err := p.Login(context.Background(), browser, gh.url+"/oauth2/start?rd=/", "u-alice", "pw"); err != nil {
		t.Fatal(err)
	}
	if resp := forwardAuth(t, browser, gh.url, "/"); resp.StatusCode != 200 {
		t.Fatalf("before the outage: %d", resp.StatusCode)
	}

	master.kill()
	down := time.Now()
	var first503 time.Time
	counts := map[int]int{}
	for time.Since(down) < 6*time.Second {
		code := forwardAuth(t, browser, gh.url, "/").StatusCode
		counts[code]++
		switch {
		case code == 503 && first503.IsZero():
			first503 = time.Now()
		case code == 200 && !first503.IsZero():
			t.Fatalf("allowed after the outage was detected (%v after the master died)", time.Since(down))
		case code != 200 && code != 503:
			t.Fatalf("answer %d while no master is reachable: want 503, never a login redirect", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if first503.IsZero() {
		t.Fatal("never answered 503 while no master was reachable")
	}
	t.Logf("master down: %v; first 503 after %v", counts, first503.Sub(down))
	// Allowing for a while after the kill is the cache serving what it
	// already had; it must stop within the cache TTL plus the subscription's
	// health check, far below the 6s observed here.
	if first503.Sub(down) > 5*time.Second {
		t.Errorf("answers kept coming from the cache for %v", first503.Sub(down))
	}

	startRedisProc(t, masterPort, masterArgs...)
	back := time.Now()
	for {
		if resp := forwardAuth(t, browser, gh.url, "/"); resp.StatusCode == 200 {
			t.Logf("served again %v after the master came back", time.Since(back))
			break
		}
		if time.Since(back) > 15*time.Second {
			t.Fatal("not served again 15s after the master came back")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
