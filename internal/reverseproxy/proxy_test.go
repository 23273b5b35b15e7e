package reverseproxy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// spoofedIdentity is every identity header a client may try to send, and
// other products' identity and routing headers.
var spoofedIdentity = []string{
	"X-Auth-Request-User", "admin",
	"X-Auth-Request-Email", "ceo@example.com",
	"X-Auth-Request-Groups", "admins",
	"X-Auth-Request-Preferred-Username", "root",
	"x-AUTH-request-access-TOKEN", "stolen-token",
	"Remote-User", "admin",
	"X-Forwarded-User", "admin",
	"X-Forwarded-Email", "ceo@example.com",
	"X-Original-URL", "/internal",
	"X-Rewrite-URL", "/internal",
	"X-Forwarded-Prefix", "/internal",
	"X-Script-Name", "/internal",
	"X_Script_Name", "/internal",
	"X_Forwarded_For", "10.9.8.7",
	"True-Client-IP", "10.9.8.7",
	"X-Real-IP", "10.9.8.7",
}

// TestIdentityHeadersReplaced: signed in, the upstream gets alice's
// identity and none of the client's identity, rewrite or client-address
// headers, whatever their spelling; anonymous on a skip route, it gets no
// identity at all.
func TestIdentityHeadersReplaced(t *testing.T) {
	f := newFixture(t)
	a := newApp(t, nil)
	g := newGate(t, f, Options{}, Upstream{URL: a.srv.URL})

	if r := g.do(t, "GET", "/dashboard", append([]string{"Cookie", f.alice}, spoofedIdentity...)...); r.status != 200 || r.body != "app" {
		t.Fatalf("alice: %d %q", r.status, r.body)
	}
	got := a.one(t)
	want := map[string]string{
		"X-Auth-Request-User": "alice", "X-Auth-Request-Email": "alice@example.com",
		"X-Auth-Request-Groups": "eng,ops", "X-Auth-Request-Preferred-Username": "",
		"X-Auth-Request-Access-Token": "",
	}
	checkHeaders(t, "alice", got.Header, want)

	if r := g.do(t, "GET", "/public/x", spoofedIdentity...); r.status != 200 {
		t.Fatalf("anonymous on the skip route: %d %q", r.status, r.body)
	}
	got = a.one(t)
	checkHeaders(t, "anonymous", got.Header, map[string]string{
		"X-Auth-Request-User": "", "X-Auth-Request-Email": "", "X-Auth-Request-Groups": "",
		"X-Auth-Request-Preferred-Username": "", "X-Auth-Request-Access-Token": "",
	})
}

// checkHeaders requires the identity headers of want (empty: absent) and
// none of the spoofed headers' values.
func checkHeaders(t *testing.T, who string, h http.Header, want map[string]string) {
	t.Helper()
	for name, v := range want {
		got, ok := h[name]
		switch {
		case v == "" && ok:
			t.Errorf("%s: upstream got %s %q, want it absent", who, name, got)
		case v != "" && (len(got) != 1 || got[0] != v):
			t.Errorf("%s: upstream got %s %q, want %q", who, name, got, v)
		}
	}
	for name, vs := range h {
		for _, v := range vs {
			for i := 1; i < len(spoofedIdentity); i += 2 {
				if v == spoofedIdentity[i] || strings.Contains(v, "10.9.8.7") {
					t.Errorf("%s: the client's %s: %q reached the upstream", who, name, v)
				}
			}
		}
		for _, bad := range []string{"Remote-User", "X-Forwarded-User", "X-Forwarded-Email", "X-Original-Url", "X-Rewrite-Url", "X-Forwarded-Prefix", "X-Script-Name", "X_Script_Name", "X_Forwarded_For", "True-Client-Ip"} {
			if name == bad {
				t.Errorf("%s: the client's %s reached the upstream", who, name)
			}
		}
	}
}

// TestLookAlikeRefused: a "_" spelling of an identity header is refused
// with 400 before anything is judged, and never reaches the upstream.
func TestLookAlikeRefused(t *testing.T) {
	f := newFixture(t)
	a := newApp(t, nil)
	g := newGate(t, f, Options{}, Upstream{URL: a.srv.URL})
	r := g.do(t, "GET", "/public/x", "X-Auth-Request_Email", "ceo@example.com")
	if r.status != 400 || r.header.Get(ReasonHeader) != "spoofed_header" {
		t.Errorf("look-alike: %d %s, want 400 spoofed_header", r.status, r.header.Get(ReasonHeader))
	}
	if got := a.take(); len(got) != 0 {
		t.Errorf("the upstream was reached: %+v", got)
	}
}

// TestOwnCookiesNotForwarded: the upstream gets the client's cookies
// without gatehouse's session and login cookies, and no Cookie header when
// nothing else is left.
func TestOwnCookiesNotForwarded(t *testing.T) {
	f := newFixture(t)
	a := newApp(t, nil)
	g := newGate(t, f, Options{}, Upstream{URL: a.srv.URL})
	for _, c := range []struct {
		name    string
		cookies []string
		want    []string // the upstream's Cookie header; nil: none
	}{
		{"alice with app cookies", []string{"theme=dark; " + f.alice + "; " + cookieName + "_login=x", "lang=en"}, []string{"theme=dark; lang=en"}},
		{"alice alone", []string{f.alice}, nil},
		{"anonymous on a skip route", []string{cookieName + "=forged; app=1; " + cookieName + "_csrf=y"}, []string{"app=1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var hdr []string
			for _, v := range c.cookies {
				hdr = append(hdr, "Cookie", v)
			}
			target := "/dashboard"
			if strings.HasPrefix(c.name, "anonymous") {
				target = "/public/x"
			}
			if r := g.do(t, "GET", target, hdr...); r.status != 200 {
				t.Fatalf("%d %q", r.status, r.body)
			}
			got := a.one(t).Header["Cookie"]
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("upstream Cookie %q, want %q", got, c.want)
			}
		})
	}
}

// TestRefusalsAreTheCoresReplies: sign-in, forbidden and malformed
// requests get the decision core's replies and never reach the upstream.
func TestRefusalsAreTheCoresReplies(t *testing.T) {
	f := newFixture(t)
	a := newApp(t, nil)
	g := newGate(t, f, Options{}, Upstream{URL: a.srv.URL})
	for _, c := range []struct {
		name, method, target string
		hdr                  []string
		status               int
		reason               string
	}{
		{"browser without a session", "GET", "/dashboard?tab=runs", []string{"Accept", htmlAccept}, 302, "no_session"},
		{"API client without a session", "GET", "/api/x", []string{"Accept", "application/json"}, 401, "no_session"},
		{"deny rule", "GET", "/internal/x", []string{"Cookie", f.alice}, 403, "denied_by_rule"},
		{"lower-case method", "get", "/public/x", nil, 400, "bad_request"},
		{"repeated X-Forwarded-Proto from a trusted proxy", "GET", "/public/x", []string{"X-Forwarded-Proto", "https", "X-Forwarded-Proto", "http"}, 400, "bad_request"},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := g
			if strings.HasPrefix(c.name, "repeated") {
				g = newGate(t, f, Options{TrustedProxies: loopback}, Upstream{URL: a.srv.URL})
			}
			r := g.do(t, c.method, c.target, c.hdr...)
			if r.status != c.status || r.header.Get(ReasonHeader) != c.reason {
				t.Errorf("%d %s, want %d %s (%q)", r.status, r.header.Get(ReasonHeader), c.status, c.reason, r.body)
			}
			if c.status == 302 {
				want := loginURL + "?rd=" + "http%3A%2F%2Fapp.example.com%2Fdashboard%3Ftab%3Druns"
				if loc := r.header.Get("Location"); loc != want {
					t.Errorf("Location %q, want %q", loc, want)
				}
			}
			if got := a.take(); len(got) != 0 {
				t.Errorf("the upstream was reached: %+v", got)
			}
		})
	}
}

// TestForwardedPathIsTheJudgedPath: what the upstream receives is the path
// that was judged, in one encoding; what NewRequest refuses is refused
// (400), whatever form the client chose, and never sent on.
func TestForwardedPathIsTheJudgedPath(t *testing.T) {
	f := newFixture(t)
	a := newApp(t, nil)
	g := newGate(t, f, Options{}, Upstream{URL: a.srv.URL})
	for _, c := range []struct {
		target string
		status int
		sent   string // RequestURI at the upstream; "" when not reached
	}{
		{"/public/a/./b", 200, "/public/a/b"},
		{"/public//a", 200, "/public/a"},
		{"/public/caf%C3%A9?x=%2F", 200, "/public/caf%C3%A9?x=%2F"},
		{"/public/%61", 200, "/public/a"},
		{"/public/a%3Fb", 200, "/public/a%3Fb"},
		{"/public/a%20b/", 200, "/public/a%20b/"},
		{"/x/../public/y", 200, "/public/y"},
		{"/public/../internal/x", 403, ""},
		{"/public/%2e%2e/internal/x", 400, ""},
		{"/public/..;/internal", 400, ""},
		{"/public/a%2fb", 400, ""},
		{"/public/a%5cb", 400, ""},
		{"/public/%252e", 400, ""},
		{"/public/x#frag", 400, ""},
		{"http://app.example.com/public/../internal", 403, ""},
		{"http://app.example.com/public/a/./b?q", 200, "/public/a/b?q"},
		{"*", 200, ""}, // net/http answers OPTIONS * itself

	} {
		t.Run(c.target, func(t *testing.T) {
			method := "GET"
			if c.target == "*" {
				method = "OPTIONS"
			}
			st := g.raw(t, method+" "+c.target+" HTTP/1.1\nHost: "+appHost+"\nCookie: "+f.alice)
			if st != c.status {
				t.Errorf("status %d, want %d", st, c.status)
			}
			got := a.take()
			switch {
			case c.sent == "" && len(got) != 0:
				t.Errorf("the upstream received %q", got[0].RequestURI)
			case c.sent != "" && (len(got) != 1 || got[0].RequestURI != c.sent):
				t.Errorf("the upstream received %+v, want %q", got, c.sent)
			}
		})
	}
}

// TestForwardedHeaders: X-Forwarded-For is kept only from a trusted proxy
// (and the peer appended); otherwise it starts at the peer. Proto and host
// are the judged ones; the client address judged is the one forwarded.
func TestForwardedHeaders(t *testing.T) {
	f := newFixture(t)
	a := newApp(t, nil)
	trusting := newGate(t, f, Options{TrustedProxies: loopback}, Upstream{URL: a.srv.URL})
	wary := newGate(t, f, Options{}, Upstream{URL: a.srv.URL})

	hdr := []string{"X-Forwarded-For", "10.9.8.7", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "evil.example.com", "Forwarded", "for=10.9.8.7"}
	if r := trusting.do(t, "GET", "/lan/x", hdr...); r.status != 200 {
		t.Fatalf("trusted proxy naming a client on 10.9.8.0/24: %d %q", r.status, r.body)
	}
	got := a.one(t)
	for name, want := range map[string]string{"X-Forwarded-For": "10.9.8.7, 127.0.0.1", "X-Forwarded-Proto": "https", "X-Forwarded-Host": appHost, "X-Real-Ip": "10.9.8.7", "Forwarded": ""} {
		if g := strings.Join(got.Header[name], "|"); g != want {
			t.Errorf("trusted: upstream %s %q, want %q", name, g, want)
		}
	}
	if got.Host != appHost {
		t.Errorf("trusted: upstream Host %q, want %q", got.Host, appHost)
	}

	// The same headers from a client: ignored, and /lan is not for it.
	if r := wary.do(t, "GET", "/lan/x", append(hdr, "Accept", "application/json")...); r.status != 401 {
		t.Errorf("untrusted peer claiming 10.9.8.7: %d, want 401", r.status)
	}
	if r := wary.do(t, "GET", "/public/x", hdr...); r.status != 200 {
		t.Fatalf("untrusted, skip route: %d", r.status)
	}
	got = a.one(t)
	for name, want := range map[string]string{"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "http", "X-Forwarded-Host": appHost, "X-Real-Ip": "127.0.0.1", "Forwarded": ""} {
		if g := strings.Join(got.Header[name], "|"); g != want {
			t.Errorf("untrusted: upstream %s %q, want %q", name, g, want)
		}
	}
}

// TestRouting: the upstream is chosen by host, then the longest path
// prefix on segment boundaries; nothing matching is 404, unjudged and
// unsent; gatehouse's own paths go to its own handler.
func TestRouting(t *testing.T) {
	f := newFixture(t)
	named := func(name string) *app {
		return newApp(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, name) })
	}
	web, api, other := named("web"), named("api"), named("other")
	own := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "gatehouse") })
	g := newGate(t, f, Options{Own: own, OwnPaths: []string{"/oauth2/", "/healthz"}},
		Upstream{Host: appHost, URL: web.srv.URL},
		Upstream{Host: "APP.example.com", PathPrefix: "/public/api", URL: api.srv.URL},
		Upstream{Host: "other.example.com", URL: other.srv.URL},
	)
	for _, c := range []struct{ host, target, want string }{
		{appHost, "/public/x", "web"},
		{appHost, "/public/api", "api"},
		{appHost + ":8443", "/public/api/v1", "api"},
		{appHost, "/public/apix", "web"},
		{"other.example.com.", "/public/api", "other"},
		{appHost, "/oauth2/start", "gatehouse"},
		{appHost, "/healthz", "gatehouse"},
		{appHost, "/public/oauth2/start", "web"},
		{appHost, "/healthz/x", "web"},
	} {
		r := g.do(t, "GET", c.target, "Host", c.host, "Cookie", f.alice)
		if r.status != 200 || r.body != c.want {
			t.Errorf("%s%s: %d %q, want %q", c.host, c.target, r.status, r.body, c.want)
		}
	}
	r := g.do(t, "GET", "/public/x", "Host", "nobody.example.com")
	if r.status != 404 || r.header.Get(ReasonHeader) != "no_upstream" {
		t.Errorf("unserved host: %d %s, want 404 no_upstream", r.status, r.header.Get(ReasonHeader))
	}
	for _, a := range []*app{web, api, other} {
		for _, s := range a.take() {
			if s.Host == "nobody.example.com" {
				t.Errorf("an unserved host reached an upstream")
			}
		}
	}
}

// TestNewRefusesBadUpstreams: each field's problem is named.
func TestNewRefusesBadUpstreams(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		up   Upstream
		want string
	}{
		{Upstream{URL: "127.0.0.1:5050"}, "upstreams[0]: url: must be a URL"},
		{Upstream{URL: "ftp://127.0.0.1:5050"}, "upstreams[0]: url: must be an http:// or https:// URL"},
		{Upstream{URL: "http://:5050"}, "upstreams[0]: url: must name a host"},
		{Upstream{URL: "http://127.0.0.1:5050/base"}, "upstreams[0]: url: must be a base URL"},
		{Upstream{URL: "http://u:p@127.0.0.1:5050"}, "upstreams[0]: url: must not hold user information"},
		{Upstream{URL: "http://127.0.0.1:5050", PathPrefix: "/a/../b"}, "upstreams[0]: path_prefix: must be a normalized path"},
		{Upstream{URL: "http://127.0.0.1:5050", PathPrefix: "api"}, "upstreams[0]: path_prefix: must be a normalized path"},
		{Upstream{URL: "http://127.0.0.1:5050", Host: "app.example.com:443"}, "upstreams[0]: host: must be a host name"},
		{Upstream{URL: "http://127.0.0.1:5050", ConnectTimeout: -time.Second}, "upstreams[0]: timeouts must be positive"},
	} {
		_, err := New(f.checker, []Upstream{c.up}, Options{})
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.up, err, c.want)
		}
	}
	if _, err := New(f.checker, nil, Options{}); err == nil {
		t.Error("no upstreams: no error")
	}
}

// TestUpstreamFailures: an upstream that refuses connections is 502, one
// slower than its response-header timeout 504; a browser gets the designed
// page, an API client JSON.
func TestUpstreamFailures(t *testing.T) {
	f := newFixture(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + l.Addr().String()
	_ = l.Close()
	release := make(chan struct{})
	slow := newApp(t, func(w http.ResponseWriter, r *http.Request) { <-release })
	t.Cleanup(func() { close(release) })
	g := newGate(t, f, Options{},
		Upstream{Name: "ClearML", PathPrefix: "/public/down", URL: down},
		Upstream{PathPrefix: "/public/slow", URL: slow.srv.URL, ResponseHeaderTimeout: 200 * time.Millisecond},
	)
	for _, c := range []struct {
		target, accept string
		status         int
		reason         string
		page           bool
	}{
		{"/public/down", "application/json", 502, ReasonUpstreamUnreachable, false},
		{"/public/down", htmlAccept, 502, ReasonUpstreamUnreachable, true},
		{"/public/slow", "application/json", 504, ReasonUpstreamTimeout, false},
		{"/public/slow", htmlAccept, 504, ReasonUpstreamTimeout, true},
	} {
		start := time.Now()
		r := g.do(t, "GET", c.target, "Accept", c.accept)
		if r.status != c.status || r.header.Get(ReasonHeader) != c.reason {
			t.Errorf("%s (%s): %d %s, want %d %s", c.target, c.accept, r.status, r.header.Get(ReasonHeader), c.status, c.reason)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("%s took %v", c.target, took)
		}
		if !c.page {
			var body map[string]string
			if err := json.Unmarshal([]byte(r.body), &body); err != nil || body["error"] != c.reason {
				t.Errorf("%s: JSON body %q, want error %s", c.target, r.body, c.reason)
			}
			continue
		}
		if !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") || !strings.Contains(r.body, "not answering") || !strings.Contains(r.body, c.reason) {
			t.Errorf("%s: not the upstream page: %s %.300q", c.target, r.header.Get("Content-Type"), r.body)
		}
		if c.status == 502 && !strings.Contains(r.body, "ClearML") {
			t.Errorf("the page does not name the app: %.300q", r.body)
		}
	}
}

// TestStreamedResponse: a response the upstream writes in flushed pieces
// reaches the client piece by piece, not when it ends.
func TestStreamedResponse(t *testing.T) {
	f := newFixture(t)
	next := make(chan struct{})
	a := newApp(t, func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 3; i++ {
			_, _ = fmt.Fprintf(w, "chunk %d\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-time.After(5 * time.Second):
				return
			}
		}
	})
	g := newGate(t, f, Options{}, Upstream{URL: a.srv.URL})
	req, _ := http.NewRequest("GET", g.srv.URL+"/public/stream", nil)
	req.Host = appHost
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for i := 0; i < 3; i++ {
		line, err := br.ReadString('\n')
		if err != nil || line != fmt.Sprintf("chunk %d\n", i) {
			t.Fatalf("piece %d: %q %v (held back until the upstream wrote more?)", i, line, err)
		}
		next <- struct{}{}
	}
}

// TestUpgrades: a websocket upgrade is passed on and both directions
// flow; any other upgrade (h2c) is removed, and a 101 the upstream then
// sends anyway never reaches the client.
func TestUpgrades(t *testing.T) {
	f := newFixture(t)
	a := newApp(t, func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			if r.URL.Path == "/public/force101" {
				w.Header().Set("Connection", "Upgrade")
				w.Header().Set("Upgrade", "h2c")
				w.WriteHeader(http.StatusSwitchingProtocols)
				return
			}
			_, _ = io.WriteString(w, "no upgrade")
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = io.WriteString(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		_ = brw.Flush()
		line, _ := brw.ReadString('\n')
		_, _ = io.WriteString(brw, "echo "+line)
		_ = brw.Flush()
	})
	g := newGate(t, f, Options{}, Upstream{URL: a.srv.URL})

	conn, err := net.Dial("tcp", g.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(conn, "GET /public/ws HTTP/1.1\r\nHost: "+appHost+"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("websocket upgrade: %v %v", resp, err)
	}
	_, _ = io.WriteString(conn, "hello\n")
	if line, err := br.ReadString('\n'); err != nil || line != "echo hello\n" {
		t.Fatalf("through the upgraded connection: %q %v", line, err)
	}
	a.take()

	r := g.do(t, "GET", "/public/h2c", "Upgrade", "h2c", "Connection", "Upgrade, HTTP2-Settings", "HTTP2-Settings", "AAMAAABkAAQAAP__")
	if r.status != 200 || r.body != "no upgrade" {
		t.Errorf("h2c: %d %q, want the upstream's plain answer", r.status, r.body)
	}
	if got := a.one(t); got.Header.Get("Upgrade") != "" || got.Header.Get("Http2-Settings") != "" {
		t.Errorf("h2c reached the upstream: %v", got.Header)
	}
	if r := g.do(t, "GET", "/public/force101", "Upgrade", "h2c", "Connection", "Upgrade"); r.status == 101 {
		t.Errorf("the upstream's unrequested 101 reached the client")
	}
}

// TestLargeUploadAndDownload: bodies stream both ways whole.
func TestLargeUploadAndDownload(t *testing.T) {
	f := newFixture(t)
	const size = 8 << 20
	a := newApp(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "GET" {
			chunk := make([]byte, 64<<10)
			for n := 0; n < size; n += len(chunk) {
				_, _ = w.Write(chunk)
			}
		}
	})
	g := newGate(t, f, Options{}, Upstream{URL: a.srv.URL})
	req, _ := http.NewRequest("POST", g.srv.URL+"/public/upload", io.LimitReader(zeros{}, size))
	req.Host = appHost
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if got := a.one(t); resp.StatusCode != 200 || got.Body != size {
		t.Errorf("upload: %d, the upstream read %d bytes, want %d", resp.StatusCode, got.Body, size)
	}
	req, _ = http.NewRequest("GET", g.srv.URL+"/public/download", nil)
	req.Host = appHost
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if err != nil || n != size {
		t.Errorf("download: %d bytes, %v; want %d", n, err, size)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestListenerTimeoutsStopAtTheProxy: a server whose read and write
// timeouts bound gatehouse's own answers still carries a slow upload and a
// download longer than them, whole.
func TestListenerTimeoutsStopAtTheProxy(t *testing.T) {
	f := newFixture(t)
	a := newApp(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "GET" {
			for i := 0; i < 4; i++ {
				_, _ = io.WriteString(w, "piece\n")
				w.(http.Flusher).Flush()
				time.Sleep(150 * time.Millisecond)
			}
		}
	})
	h, err := New(f.checker, []Upstream{{URL: a.srv.URL}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ReadTimeout, srv.Config.WriteTimeout = 300*time.Millisecond, 300*time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)

	req, _ := http.NewRequest("GET", srv.URL+"/public/slow-download", nil)
	req.Host = appHost
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil || string(b) != strings.Repeat("piece\n", 4) {
		t.Errorf("download past the write timeout: %q, %v", b, err)
	}

	pr, pw := io.Pipe()
	go func() {
		for i := 0; i < 4; i++ {
			_, _ = pw.Write(make([]byte, 1024))
			time.Sleep(150 * time.Millisecond)
		}
		_ = pw.Close()
	}()
	req, _ = http.NewRequest("POST", srv.URL+"/public/slow-upload", pr)
	req.Host = appHost
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	var got seen
	for _, s := range a.take() {
		if s.Method == "POST" {
			got = s
		}
	}
	if resp.StatusCode != 200 || got.Body != 4096 {
		t.Errorf("upload past the read timeout: %d, the upstream read %d bytes, want 4096", resp.StatusCode, got.Body)
	}
}
