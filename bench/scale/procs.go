package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// procs owns the child processes of one benchmark run and ends them all.
type procs struct {
	dir  string
	list []*exec.Cmd
}

// start runs a command with its output in dir/name.log; the child is killed
// if this process dies first.
func (ps *procs) start(name string, args ...string) (*exec.Cmd, error) {
	f, err := os.Create(filepath.Join(ps.dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	f.Close() // the child holds its own descriptor
	ps.list = append(ps.list, cmd)
	return cmd, nil
}

// logTail returns the end of a child's log, for error messages.
func (ps *procs) logTail(name string) string {
	b, _ := os.ReadFile(filepath.Join(ps.dir, name+".log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// stopAll kills every child and reaps it.
func (ps *procs) stopAll() {
	for _, c := range ps.list {
		if c.ProcessState == nil {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}
}

// freePort returns a loopback port nothing listens on now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitTCP waits until something accepts connections at addr.
func waitTCP(ctx context.Context, addr string) error {
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not accepting connections: %w", addr, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// startRedis runs a private redis-server on a free loopback port, without
// persistence, and returns its address.
func (ps *procs) startRedis(ctx context.Context, name string, extra ...string) (string, error) {
	port, err := freePort()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(ps.dir, name)
	// A kept folder may hold an earlier run's cluster state.
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	args := append([]string{"redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir}, extra...)
	if _, err := ps.start(name, args...); err != nil {
		return "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := waitTCP(wctx, addr); err != nil {
		return "", fmt.Errorf("%s: %w\n%s", name, err, ps.logTail(name))
	}
	return addr, nil
}

// startCluster runs three cluster-enabled redis-servers, joins them as a
// Cluster of three masters (no replicas) with redis-cli --cluster create,
// and waits until every node reports cluster_state:ok.
func (ps *procs) startCluster(ctx context.Context) ([]string, error) {
	var addrs []string
	for i := range 3 {
		name := fmt.Sprintf("cluster-%d", i)
		// The cluster bus gets a port of its own (Redis's default,
		// port+10000, may be taken or past 65535).
		bus, err := freePort()
		if err != nil {
			return nil, err
		}
		a, err := ps.startRedis(ctx, name, "--cluster-enabled", "yes", "--cluster-port", strconv.Itoa(bus),
			"--cluster-config-file", filepath.Join(ps.dir, name, "nodes.conf"), "--cluster-node-timeout", "2000")
		if err != nil {
			return nil, err
		}
		addrs = append(addrs, a)
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(cctx, "redis-cli", args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("redis-cli --cluster create: %w\n%s", err, out)
	}
	for _, a := range addrs {
		c := redis.NewClient(&redis.Options{Addr: a})
		for {
			info, _ := c.ClusterInfo(cctx).Result()
			if strings.Contains(info, "cluster_state:ok") {
				break
			}
			if cctx.Err() != nil {
				c.Close()
				return nil, fmt.Errorf("cluster node %s not ready: %s", a, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
		c.Close()
	}
	return addrs, nil
}

// usedMemory is Redis's used_memory in bytes, summed over addrs.
func usedMemory(ctx context.Context, addrs []string) (int64, error) {
	var total int64
	for _, a := range addrs {
		c := redis.NewClient(&redis.Options{Addr: a})
		info, err := c.Info(ctx, "memory").Result()
		c.Close()
		if err != nil {
			return 0, err
		}
		found := false
		for _, l := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(l, "used_memory:"); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return 0, err
				}
				total += n
				found = true
			}
		}
		if !found {
			return 0, errors.New("no used_memory in INFO memory")
		}
	}
	return total, nil
}

// lookPath finds a tool the benchmark needs.
func lookPath(tool string) (string, error) {
	p, err := exec.LookPath(tool)
	if err != nil {
		return "", fmt.Errorf("%s not found (apt-get install redis-server wrk): %w", tool, err)
	}
	return p, nil
}
