// Package sessiontest holds what the session stores' tests share: the
// suites every Store and Manager must pass, a settable clock, fixtures, and
// access to the test Redis and to private redis-server processes. It is
// imported by tests only.
package sessiontest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Clock is a settable clock safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock at a fixed instant.
func NewClock() *Clock {
	return &Clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// RedisAddr is the Redis the tests use: GATEHOUSE_TEST_REDIS or the local
// default.
func RedisAddr() string {
	if a := os.Getenv("GATEHOUSE_TEST_REDIS"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// Prefix returns a key prefix no other test run uses.
func Prefix(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "gatehouse-test:" + hex.EncodeToString(b) + ":"
}

// Redis returns a client of the test Redis and a fresh key prefix, failing
// t if Redis is unreachable (it never skips). When t ends, every key under
// the prefix is deleted and the client closed.
func Redis(t testing.TB) (redis.UniversalClient, string) {
	t.Helper()
	prefix := Prefix(t)
	client := redis.NewClient(&redis.Options{Addr: RedisAddr()})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		t.Fatalf("Redis at %s unreachable (set GATEHOUSE_TEST_REDIS): %v", RedisAddr(), err)
	}
	t.Cleanup(func() {
		defer client.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := client.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			if err := client.Del(ctx, iter.Val()).Err(); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
		if err := iter.Err(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return client, prefix
}

// FreePort returns a loopback port nothing listens on.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	return port
}

// RedisServer is a redis-server process of one test.
type RedisServer struct {
	t      testing.TB
	port   int
	cmd    *exec.Cmd
	out    *bytes.Buffer // its output, for a start that fails
	exited chan struct{} // closed when the process has ended and been reaped
}

// StartRedisServer starts redis-server on port without persistence, with
// extra arguments, and waits until it accepts connections.
func StartRedisServer(t testing.TB, port int, extra ...string) *RedisServer {
	t.Helper()
	return StartRedisProcess(t, port, redisServerArgs(t, port, extra)...)
}

func redisServerArgs(t testing.TB, port int, extra []string) []string {
	return append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", t.TempDir()}, extra...)
}

// StartClusterNode starts a cluster-enabled redis-server (node timeout
// nodeTimeout) on free loopback ports. Its cluster bus gets a port of its
// own: by default Redis takes port+10000, which may be taken (the
// ephemeral range) or past 65535. A port another process took between
// FreePort and the server's bind makes it exit; it is tried again on new
// ports, up to five times.
func StartClusterNode(t testing.TB, nodeTimeout time.Duration) *RedisServer {
	t.Helper()
	var last error
	for range 5 {
		port, bus := FreePort(t), FreePort(t)
		extra := []string{"--cluster-enabled", "yes", "--cluster-port", strconv.Itoa(bus),
			"--cluster-config-file", filepath.Join(t.TempDir(), "nodes.conf"),
			"--cluster-node-timeout", strconv.FormatInt(nodeTimeout.Milliseconds(), 10)}
		rs, err := startRedisProcess(t, port, redisServerArgs(t, port, extra))
		if err == nil {
			return rs
		}
		last = err
	}
	t.Fatalf("cluster node: %v", last)
	return nil
}

// StartRedisProcess runs redis-server with args and waits for port. The
// process is killed when t ends.
func StartRedisProcess(t testing.TB, port int, args ...string) *RedisServer {
	t.Helper()
	rs, err := startRedisProcess(t, port, args)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// startRedisProcess is StartRedisProcess, reporting a server that exits or
// does not answer within 10s as an error (with its output).
func startRedisProcess(t testing.TB, port int, args []string) (*RedisServer, error) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not installed: %v", err)
	}
	out := &bytes.Buffer{}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out // exec copies into out until Wait returns
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	rs := &RedisServer{t: t, port: port, cmd: cmd, out: out, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(rs.exited) }()
	t.Cleanup(rs.Stop)
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := ping(rs.Addr())
		if err == nil {
			return rs, nil
		}
		select {
		case <-rs.exited:
			return nil, fmt.Errorf("redis-server on port %d exited before it answered: %s", port, bytes.TrimSpace(out.Bytes()))
		default:
		}
		if time.Now().After(deadline) {
			rs.Stop()
			return nil, fmt.Errorf("redis-server on port %d did not start: %v\n%s", port, err, out.Bytes())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ping asks addr for PONG: a port that merely accepts (another process
// took it before the server could bind) is not a Redis server.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	buf := make([]byte, 7)
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != "+PONG\r\n" {
		return fmt.Errorf("%s answered %q to PING", addr, buf)
	}
	return nil
}

// Addr is the server's address.
func (rs *RedisServer) Addr() string { return "127.0.0.1:" + strconv.Itoa(rs.port) }

// Port is the server's port.
func (rs *RedisServer) Port() int { return rs.port }

// Stop kills the server and reaps it; calling it twice is harmless.
func (rs *RedisServer) Stop() {
	select {
	case <-rs.exited:
		return
	default:
	}
	_ = rs.cmd.Process.Kill()
	<-rs.exited
}

// WaitFor polls cond every millisecond until it holds, failing t after d.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(time.Millisecond)
	}
}

// RunUntilCleanup runs run in the background until t ends, then cancels
// its context and fails t if it does not return nil within 10s.
func RunUntilCleanup(t testing.TB, run func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return within 10s of its context ending")
		}
	})
}

// Signal sends sig to the server (SIGSTOP freezes it with its connections
// open, SIGCONT resumes it).
func (rs *RedisServer) Signal(sig os.Signal) error { return rs.cmd.Process.Signal(sig) }

// ClockAt returns a Clock at t.
func ClockAt(t time.Time) *Clock { return &Clock{t: t} }
