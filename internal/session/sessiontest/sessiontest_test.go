package sessiontest

import (
	"net"
	"strings"
	"testing"
	"time"
)

// TestRedisOnATakenPort: a redis-server that cannot bind its port is
// reported with its own words (so StartClusterNode can try other ports),
// not waited on until a timeout.
func TestRedisOnATakenPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	_, err = startRedisProcess(t, port, redisServerArgs(t, port, nil))
	if err == nil || !strings.Contains(err.Error(), "exited before it answered") || !strings.Contains(strings.ToLower(err.Error()), "in use") {
		t.Fatalf("start on a taken port: %v, want the server's exit and its reason", err)
	}
}

// TestClusterNodeOwnBusPort: a cluster node starts, and its bus is on the
// port it was given, not port+10000.
func TestClusterNodeOwnBusPort(t *testing.T) {
	rs := StartClusterNode(t, time.Second)
	c, err := net.Dial("tcp", rs.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("CONFIG GET cluster-port\r\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 256)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if reply := string(buf[:n]); !strings.Contains(reply, "cluster-port") || strings.Contains(reply, "\r\n0\r\n") {
		t.Errorf("CONFIG GET cluster-port: %q, want the port set", reply)
	}
}
