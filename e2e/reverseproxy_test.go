//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// reverseProxyKind is deploy/nginx/nginx-reverse-proxy.conf in front of
// gatehouse in reverse-proxy mode: nginx sends everything to gatehouse,
// which proxies allowed requests to the app itself.
var reverseProxyKind = proxyKind{
	name:  "nginx-reverse-proxy",
	start: startNginxReverseProxy,
	upstreams: func(appAddr string) string {
		return fmt.Sprintf("upstreams:\n  - url: http://%s\n", appAddr)
	},
}

// suiteKinds are the proxies the suite prepares (ports, the provider's
// redirect URIs): proxyKinds, run by every per-proxy test, and the
// reverse-proxy setup, run by TestReverseProxy and TestDifferential.
func suiteKinds() []proxyKind {
	return append(append([]proxyKind(nil), proxyKinds...), reverseProxyKind)
}

// startNginxReverseProxy runs deploy/nginx/nginx-reverse-proxy.conf with
// loopback listeners and a self-signed certificate. bin may be empty
// (the suite keeps tools by proxy name): then nginx is looked up.
func startNginxReverseProxy(ctx context.Context, s proxySetup, bin string) (*proc, error) {
	if bin == "" {
		var err error
		if bin, err = lookTool("GATEHOUSE_E2E_NGINX", "nginx", "/usr/sbin/nginx"); err != nil {
			return nil, err
		}
	}
	pairs, err := nginxPairs(s)
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(s.Dir, "nginx-reverse-proxy.conf")
	err = overlayFile("nginx/nginx-reverse-proxy.conf", conf, pairs...)
	if err != nil {
		return nil, err
	}
	return startProc(s.Dir, "nginx", nil, bin,
		"-e", filepath.Join(s.Dir, "nginx-error.log"), "-p", s.Dir, "-c", conf, "-g", "daemon off;")
}

// Sizes of the large transfers.
const (
	downloadSize = 50 << 20
	uploadSize   = 20 << 20
)

// pattern is the deterministic content of the large transfers.
type pattern struct{ n int64 }

func (p *pattern) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(p.n % 251)
		p.n++
	}
	return len(b), nil
}

func patternSum(size int64) string {
	h := sha256.New()
	_, _ = io.Copy(h, io.LimitReader(&pattern{}, size))
	return hex.EncodeToString(h.Sum(nil))
}

// rpApp is the app behind gatehouse: the suite's echo app, plus a
// websocket echo (/ws), a chunked download (/download), an upload that
// answers its size and digest (/upload) and a slow answer (/slow).
func rpApp(echo http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", echo)
	mux.HandleFunc("/ws", wsEcho)
	mux.HandleFunc("/download", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		src := io.LimitReader(&pattern{}, downloadSize)
		buf := make([]byte, 256<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				if _, werr := w.Write(buf[:n]); werr != nil {
					return
				}
				w.(http.Flusher).Flush() // chunked, and flushed as it goes
			}
			if err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%d %s %s", n, hex.EncodeToString(h.Sum(nil)), r.Header.Get("X-Auth-Request-Email"))
	})
	mux.HandleFunc("/slow/", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
		_, _ = io.WriteString(w, "late")
	})
	return mux
}

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func wsAccept(key string) string {
	sum := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// wsEcho is a minimal RFC 6455 server: the handshake, then one text frame
// read and answered with "<email>: <text>".
func wsEcho(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || r.Header.Get("Sec-WebSocket-Key") == "" {
		http.Error(w, "not a websocket handshake", http.StatusBadRequest)
		return
	}
	email := r.Header.Get("X-Auth-Request-Email")
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", wsAccept(r.Header.Get("Sec-WebSocket-Key")))
	if brw.Flush() != nil {
		return
	}
	msg, err := readFrame(brw.Reader)
	if err != nil {
		return
	}
	_ = writeFrame(brw.Writer, []byte(email+": "+string(msg)), false)
	_ = brw.Flush()
}

// readFrame reads one short text frame, unmasking it if masked.
func readFrame(br *bufio.Reader) ([]byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return nil, err
	}
	if h[0] != 0x81 || h[1]&0x7f >= 126 {
		return nil, fmt.Errorf("not a short final text frame: % x", h)
	}
	var mask [4]byte
	if h[1]&0x80 != 0 {
		if _, err := io.ReadFull(br, mask[:]); err != nil {
			return nil, err
		}
	}
	p := make([]byte, h[1]&0x7f)
	if _, err := io.ReadFull(br, p); err != nil {
		return nil, err
	}
	for i := range p {
		p[i] ^= mask[i%4]
	}
	return p, nil
}

// writeFrame writes one short text frame; a client's is masked.
func writeFrame(w *bufio.Writer, p []byte, masked bool) error {
	if len(p) >= 126 {
		return errors.New("frame too long for this test")
	}
	if !masked {
		_, err := w.Write(append([]byte{0x81, byte(len(p))}, p...))
		return err
	}
	mask := []byte{0x37, 0xfa, 0x21, 0x3d}
	out := append([]byte{0x81, 0x80 | byte(len(p))}, mask...)
	for i, c := range p {
		out = append(out, c^mask[i%4])
	}
	_, err := w.Write(out)
	return err
}

// TestReverseProxy runs the seed's topology: the shipped
// nginx-reverse-proxy.conf (TLS, a location / that proxy_passes to
// gatehouse) → gatehouse in reverse-proxy mode → the app. The scenarios
// of the other proxies (a browser's sign-in and sign-out, Go logins,
// spoofed identity, forwarded and Host headers, two replicas, HTTP to
// HTTPS), then what only a proxy carries: a websocket, a 50 MB chunked
// download, a 20 MB upload, an upstream that is down (502) and one too
// slow (504).
func TestReverseProxy(t *testing.T) {
	s := newSuite(t)
	ctx := t.Context()
	k := reverseProxyKind
	ps := s.setups[k.name]
	// Replica A is the reverse proxy behind nginx. Replica B shares its
	// Redis and keys without upstreams, so it serves /authz/forward-auth
	// (which reverse-proxy mode does not): the shared scenarios ask it
	// whether sessions made through A hold, and end with sign-out.
	st := &stack{ps: ps, keyPrefix: s.prefix + k.name + ":"}
	proxyReplica := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	st.replicaB = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	st.replicaA = st.replicaB
	ps.GatehouseAddr = proxyReplica

	appLn, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", freePort(t)))
	if err != nil {
		t.Fatal(err)
	}
	appSrv := &http.Server{Handler: rpApp(s.echo), ReadHeaderTimeout: 5 * time.Second}
	go appSrv.Serve(appLn)
	t.Cleanup(func() { _ = appSrv.Close() })
	ps.AppAddr = appLn.Addr().String()
	down := fmt.Sprintf("127.0.0.1:%d", freePort(t)) // nothing listens here

	cfg := gatehouseConfig{
		Issuer: s.op.issuer, RedirectURL: ps.origin() + "/oauth2/callback",
		CookieKey: newCookieKey(), RedisAddr: s.redisAddr, KeyPrefix: st.keyPrefix,
		Upstreams: fmt.Sprintf(`upstreams:
  - name: The e2e app
    path_prefix: /down
    url: http://%s
    timeouts: {connect: 1s}
  - path_prefix: /slow
    url: http://%s
    timeouts: {response_header: 1s}
  - url: http://%s
`, down, ps.AppAddr, ps.AppAddr),
	}
	for _, r := range []struct{ name, addr string }{{"gatehouse-a", proxyReplica}, {"gatehouse-b", st.replicaB}} {
		c := cfg
		c.Addr = r.addr
		if r.name == "gatehouse-b" {
			c.Upstreams = ""
		}
		p, err := startGatehouse(ctx, ps.Dir, r.name, s.tools["gatehouse"], c)
		if err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		t.Cleanup(p.stop)
		st.procs = append(st.procs, p)
	}
	px, err := k.start(ctx, ps, s.tools["nginx"])
	if err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	t.Cleanup(px.stop)
	st.procs = append(st.procs, px)
	if err := s.waitRoute(ctx, px, ps); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range st.procs {
				t.Logf("---- %s log (tail) ----\n%s", p.name, p.tail(4000))
			}
		}
	})

	t.Run("browser", func(t *testing.T) { s.browserFlow(t, st) })
	t.Run("login", func(t *testing.T) { s.goLogins(t, st) })
	if st.aliceJar == nil {
		t.Fatal("no session for alice; the remaining scenarios need one")
	}
	t.Run("spoofed-identity", func(t *testing.T) { s.spoofIdentity(t, st) })
	t.Run("spoofed-forwarded", func(t *testing.T) { s.spoofForwarded(t, st) })
	t.Run("spoofed-host", func(t *testing.T) { s.spoofHost(t, st) })
	t.Run("replicas", func(t *testing.T) { s.replicas(t, st) })
	t.Run("http-to-https", func(t *testing.T) { s.httpRedirect(t, st) })
	t.Run("app-cookies", func(t *testing.T) { rpAppCookies(t, st) })
	t.Run("no-forward-auth-endpoint", func(t *testing.T) { rpNoForwardAuth(t, s, st) })
	t.Run("websocket", func(t *testing.T) { rpWebsocket(t, st) })
	t.Run("download", func(t *testing.T) { rpDownload(t, st) })
	t.Run("upload", func(t *testing.T) { rpUpload(t, st) })
	t.Run("upstream-down", func(t *testing.T) {
		rpUpstreamFails(t, st, "/down/x", http.StatusBadGateway, "upstream_unreachable", "The e2e app")
	})
	t.Run("upstream-slow", func(t *testing.T) {
		rpUpstreamFails(t, st, "/slow/x", http.StatusGatewayTimeout, "upstream_timeout", "")
	})
	t.Run("no-secrets-in-logs", func(t *testing.T) {
		for _, p := range st.procs[:2] {
			if logHas(p, cfg.CookieKey) || logHas(p, "client_secret: secret") {
				t.Errorf("%s logged a secret", p.name)
			}
		}
	})
}

// aliceCookie is alice's Cookie header for the app's origin.
func aliceCookie(st *stack) string {
	u, _ := url.Parse(st.ps.origin() + "/")
	var parts []string
	for _, c := range st.aliceJar.Jar.Cookies(u) {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

// rpNoForwardAuth: through nginx, /authz/forward-auth is an app path:
// judged and proxied, never gatehouse's endpoint answering with the
// caller's identity headers.
func rpNoForwardAuth(t *testing.T, s *suite, st *stack) {
	probe := "authz-" + randHex(4)
	r, err := get(t.Context(), noFollow(st.aliceJar), st.ps.origin()+"/authz/forward-auth?probe="+probe,
		[][2]string{{"X-Forwarded-Uri", "/public"}, {"Accept", "application/json"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeEcho(r.body); err != nil || s.echo.seen(probe) != 1 || r.header.Get("X-Auth-Request-Email") != "" {
		t.Errorf("/authz/forward-auth through nginx: %d %.200q (app reached %d times), want the app's answer", r.status, r.body, s.echo.seen(probe))
	}
}

// rpAppCookies: the app gets its own cookies and never gatehouse's.
func rpAppCookies(t *testing.T, st *stack) {
	r, err := get(t.Context(), noFollow(st.aliceJar), st.ps.origin()+"/cookies", [][2]string{{"Cookie", "app_pref=kept"}, {"Accept", "application/json"}})
	if err != nil {
		t.Fatal(err)
	}
	e, err := decodeEcho(r.body)
	if err != nil {
		t.Fatalf("%d: %v", r.status, err)
	}
	cookies := strings.Join(e.headerValues("Cookie"), "; ")
	if !strings.Contains(cookies, "app_pref=kept") {
		t.Errorf("the app lost its own cookie: %q", cookies)
	}
	if strings.Contains(cookies, "gatehouse") {
		t.Errorf("the app received gatehouse's cookie: %q", cookies)
	}
}

// dialApp opens a TLS connection to nginx speaking HTTP/1.1.
func dialApp(t *testing.T, st *stack) net.Conn {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", fmt.Sprintf("127.0.0.1:%d", st.ps.HTTPSPort),
		&tls.Config{ServerName: st.ps.Host, InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}) // test certificate
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	return conn
}

// rpWebsocket: alice's websocket handshake reaches the app, which knows
// her from gatehouse's header, and frames flow both ways; an anonymous
// one is refused before the app.
func rpWebsocket(t *testing.T, st *stack) {
	key := base64.StdEncoding.EncodeToString([]byte("gatehouse-e2e-ws"))
	handshake := func(cookie string) (*http.Response, *bufio.Reader, net.Conn) {
		conn := dialApp(t, st)
		fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\nX-Auth-Request-Email: mallory@allowed.test\r\nAccept: application/json\r\n",
			st.ps.Host, st.ps.HTTPSPort, key)
		if cookie != "" {
			fmt.Fprintf(conn, "Cookie: %s\r\n", cookie)
		}
		io.WriteString(conn, "\r\n")
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			conn.Close()
			t.Fatal(err)
		}
		return resp, br, conn
	}

	resp, _, conn := handshake("")
	conn.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous websocket: %d, want 401", resp.StatusCode)
	}

	resp, br, conn := handshake(aliceCookie(st))
	defer conn.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != wsAccept(key) {
		t.Fatalf("alice's websocket: %d, Sec-WebSocket-Accept %q", resp.StatusCode, resp.Header.Get("Sec-WebSocket-Accept"))
	}
	bw := bufio.NewWriter(conn)
	if err := writeFrame(bw, []byte("hello"), true); err != nil || bw.Flush() != nil {
		t.Fatalf("send a frame: %v", err)
	}
	msg, err := readFrame(br)
	if err != nil {
		t.Fatalf("read the answer: %v", err)
	}
	if want := userAlice.Email + ": hello"; string(msg) != want {
		t.Errorf("websocket answer %q, want %q", msg, want)
	}
}

// bigClient is alice's client with room for large transfers.
func bigClient(st *stack) *http.Client {
	c := *st.aliceJar
	c.Timeout = 2 * time.Minute
	return &c
}

// rpDownload: 50 MB, chunked and flushed by the app, arrive whole.
func rpDownload(t *testing.T, st *stack) {
	start := time.Now()
	resp, err := bigClient(st).Get(st.ps.origin() + "/download")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	took := time.Since(start)
	if err != nil || resp.StatusCode != 200 || n != downloadSize {
		t.Fatalf("download: %d, %d bytes, %v; want 200 and %d bytes", resp.StatusCode, n, err, downloadSize)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != patternSum(downloadSize) {
		t.Errorf("download digest %s differs from what the app sent", got)
	}
	t.Logf("download: %d MB in %v (%.0f MB/s)", n>>20, took.Round(time.Millisecond), float64(n>>20)/took.Seconds())
}

// rpUpload: a 20 MB POST reaches the app whole, with alice's identity.
func rpUpload(t *testing.T, st *stack) {
	start := time.Now()
	req, err := http.NewRequest("POST", st.ps.origin()+"/upload", io.LimitReader(&pattern{}, uploadSize))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := bigClient(st).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	want := fmt.Sprintf("%d %s %s", uploadSize, patternSum(uploadSize), userAlice.Email)
	if resp.StatusCode != 200 || string(body) != want {
		t.Fatalf("upload: %d %q, want 200 %q", resp.StatusCode, body, want)
	}
	t.Logf("upload: %d MB in %v (%.0f MB/s)", uploadSize>>20, took.Round(time.Millisecond), float64(uploadSize>>20)/took.Seconds())
}

// rpUpstreamFails: a signed-in request to an upstream that fails gets
// status and reason, as the designed page for a browser (naming the app
// when it has a name) and JSON for an API client.
func rpUpstreamFails(t *testing.T, st *stack, path string, status int, reason, app string) {
	c := noFollow(st.aliceJar)
	r, err := get(t.Context(), c, st.ps.origin()+path, [][2]string{{"Accept", "application/json"}})
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	if r.status != status || json.Unmarshal(r.body, &body) != nil || body["error"] != reason {
		t.Errorf("API client: %d %q, want %d {\"error\":%q}", r.status, r.body, status, reason)
	}
	start := time.Now()
	r, err = get(t.Context(), c, st.ps.origin()+path, [][2]string{{"Accept", "text/html,*/*;q=0.8"}, {"Sec-Fetch-Mode", "navigate"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.status != status || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") ||
		!bytes.Contains(r.body, []byte("not answering")) || !bytes.Contains(r.body, []byte(reason)) {
		t.Errorf("browser: %d %s %.300q, want %d and the upstream page", r.status, r.header.Get("Content-Type"), r.body, status)
	}
	if app != "" && !bytes.Contains(r.body, []byte(app)) {
		t.Errorf("the page does not name %q", app)
	}
	if status == http.StatusGatewayTimeout {
		if took := time.Since(start); took > 2500*time.Millisecond {
			t.Errorf("504 after %v, want about the 1s response_header timeout", took)
		}
	}
}
