//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// opUser is a user of the example OpenID provider. The JSON field names are
// those the zitadel example server reads from USERS_FILE.
type opUser struct {
	ID            string
	Username      string
	Password      string
	FirstName     string
	LastName      string
	Email         string
	EmailVerified bool
}

// The provider's users: alice's domain is admitted by gatehouse's access
// policy in this suite, bob's is not.
var (
	userAlice = opUser{ID: "u-alice", Username: "alice", Password: "alice-e2e-pw", FirstName: "Alice", LastName: "Allowed", Email: "alice@allowed.test", EmailVerified: true}
	userBob   = opUser{ID: "u-bob", Username: "bob", Password: "bob-e2e-pw", FirstName: "Bob", LastName: "Blocked", Email: "bob@blocked.test", EmailVerified: true}
)

// provider is the zitadel/oidc example OP. It listens on all interfaces
// and cannot be told otherwise, so it runs alone in a private network
// namespace (unshare -n, only a loopback device). socat inside the
// namespace accepts on a Unix socket and connects to the OP; a bridge in
// this process accepts on 127.0.0.1 and [::1] and connects to that socket.
// The issuer is http://localhost:<port>/ (trailing slash, as the example
// server builds it).
type provider struct {
	proc      *proc
	issuer    string
	listeners []net.Listener
	wg        sync.WaitGroup
}

func startProvider(ctx context.Context, dir, opBin, socatBin string, port int, redirectURIs []string) (*provider, error) {
	users := map[string]opUser{userAlice.ID: userAlice, userBob.ID: userBob}
	b, err := json.Marshal(users)
	if err != nil {
		return nil, err
	}
	usersFile := filepath.Join(dir, "op-users.json")
	if err := os.WriteFile(usersFile, b, 0o600); err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, "op.sock")
	script := fmt.Sprintf(`set -e
ip link set lo up
PORT=%d USERS_FILE=%q REDIRECT_URI=%q %q &
exec %q UNIX-LISTEN:%q,fork,mode=600 TCP:127.0.0.1:%d`,
		port, usersFile, strings.Join(redirectURIs, ","), opBin, socatBin, sock, port)
	p, err := startProc(dir, "oidc-provider", nil, "unshare", "--net", "--", "sh", "-c", script)
	if err != nil {
		return nil, err
	}
	pv := &provider{proc: p, issuer: fmt.Sprintf("http://localhost:%d/", port)}
	for _, addr := range []string{fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("[::1]:%d", port)} {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			if strings.HasPrefix(addr, "[") {
				continue // no IPv6 loopback here; 127.0.0.1 is enough
			}
			pv.stop()
			return nil, fmt.Errorf("provider bridge: %w", err)
		}
		pv.listeners = append(pv.listeners, l)
		pv.wg.Add(1)
		go pv.bridge(l, sock)
	}
	if err := p.waitReady(ctx, "discovery", httpOK(fmt.Sprintf("http://127.0.0.1:%d/.well-known/openid-configuration", port))); err != nil {
		pv.stop()
		return nil, err
	}
	return pv, nil
}

// bridge copies each TCP connection accepted on l to a new connection to
// the Unix socket.
func (pv *provider) bridge(l net.Listener, sock string) {
	defer pv.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			u, err := net.Dial("unix", sock)
			if err != nil {
				return
			}
			defer u.Close()
			done := make(chan struct{}, 2)
			go func() { io.Copy(u, c); u.(*net.UnixConn).CloseWrite(); done <- struct{}{} }()
			go func() { io.Copy(c, u); c.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
			<-done
			<-done
		}()
	}
}

func (pv *provider) stop() {
	for _, l := range pv.listeners {
		l.Close()
	}
	pv.wg.Wait()
	pv.proc.stop()
}
