package spoa_test

import (
	"context"
	"errors"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gatehouse/gatehouse/internal/spoa"
	"github.com/gatehouse/gatehouse/internal/spop"
	"github.com/gatehouse/gatehouse/internal/spop/spoptest"
)

func TestHandshake(t *testing.T) {
	f := newFixture(t, spoa.Options{MaxFrameSize: 8192})
	c := f.dial(t, spoptest.HelloOptions{})
	if got := c.Hello["version"].String(); got != "2.0" {
		t.Errorf("version %q", got)
	}
	if got := c.Hello["max-frame-size"]; got.Kind != spop.KindUint32 || got.Uint != 8192 {
		t.Errorf("max-frame-size %+v, want the agent's 8192 (lower than HAProxy's 16380)", got)
	}
	if got := c.Hello["capabilities"].String(); got != "pipelining" {
		t.Errorf("capabilities %q, want pipelining (never fragmentation)", got)
	}
	small := f.dial(t, spoptest.HelloOptions{MaxFrameSize: 1024, Capabilities: "async"})
	if got := small.Hello["max-frame-size"].Uint; got != 1024 {
		t.Errorf("max-frame-size %d, want HAProxy's 1024", got)
	}
	if got := small.Hello["capabilities"].String(); got != "" {
		t.Errorf("capabilities %q for a HAProxy without pipelining", got)
	}
}

func TestHealthcheckClosesAfterHello(t *testing.T) {
	f := newFixture(t, spoa.Options{})
	c := f.dial(t, spoptest.HelloOptions{Healthcheck: true})
	if _, err := c.Read(); err == nil {
		t.Fatal("connection still open after a health check's AGENT-HELLO")
	}
}

func TestVerdicts(t *testing.T) {
	f := newFixture(t, spoa.Options{})
	c := f.dial(t, spoptest.HelloOptions{})
	browser := [2]string{"accept", "text/html,*/*"}
	for i, tc := range []struct {
		name      string
		req       request
		storeDown bool
		want      map[string]string
	}{
		{name: "signed in: identity and the app's cookies only", req: request{url: "/app", headers: [][2]string{{"host", host}, {"cookie", f.alice},
			{"x-auth-request-user", "admin"}, {"X-Auth-Request-Preferred-Username", "root"}}},
			want: map[string]string{"status": "200", "reason": "allowed", "user": "alice",
				"up_x_auth_request_user": "alice", "up_x_auth_request_email": "alice@example.com", "up_x_auth_request_groups": "eng,ops", "up_cookie": "theme=dark",
				"up_x_auth_request_preferred_username": "", "up_x_auth_request_access_token": ""}},
		{name: "signed in over HTTP/2 (absolute target)", req: request{url: "https://" + host + "/app?x=1", headers: [][2]string{{"host", host}, {"cookie", f.alice}}},
			want: map[string]string{"status": "200", "reason": "allowed", "user": "alice",
				"up_x_auth_request_user": "alice", "up_x_auth_request_email": "alice@example.com", "up_x_auth_request_groups": "eng,ops", "up_cookie": "theme=dark",
				"up_x_auth_request_preferred_username": "", "up_x_auth_request_access_token": ""}},
		{name: "cookies split over two headers", req: request{url: "/app", headers: [][2]string{{"host", host}, {"cookie", "theme=dark"}, {"cookie", f.alice[len("theme=dark; "):]}}},
			want: map[string]string{"status": "200", "reason": "allowed", "user": "alice",
				"up_x_auth_request_user": "alice", "up_x_auth_request_email": "alice@example.com", "up_x_auth_request_groups": "eng,ops", "up_cookie": "theme=dark",
				"up_x_auth_request_preferred_username": "", "up_x_auth_request_access_token": ""}},
		{name: "browser without a session", req: request{url: "/app?x=1", headers: [][2]string{{"host", host}, browser}},
			want: map[string]string{"status": "302", "reason": "no_session",
				"hdr_location": loginURL + "?rd=https%3A%2F%2Fapp.example.com%2Fapp%3Fx%3D1", "hdr_cache_control": "no-store"}},
		{name: "plain HTTP keeps its scheme in the return URL", req: request{url: "/app", http: true, headers: [][2]string{{"host", host}, browser}},
			want: map[string]string{"status": "302", "reason": "no_session",
				"hdr_location": loginURL + "?rd=http%3A%2F%2Fapp.example.com%2Fapp", "hdr_cache_control": "no-store"}},
		{name: "API client without a session", req: request{url: "/api", headers: [][2]string{{"host", host}, {"accept", "application/json"}}},
			want: map[string]string{"status": "401", "reason": "no_session", "hdr_www_authenticate": `Bearer realm="gatehouse"`,
				"hdr_content_type": "application/json", "hdr_x_auth_request_redirect": loginURL + "?rd=https%3A%2F%2Fapp.example.com%2Fapi", "body": "*"}},
		{name: "skip route: no identity (every identity variable empty), session cookie removed", req: request{url: "/public/x", headers: [][2]string{{"host", host}, {"cookie", f.alice}}},
			want: map[string]string{"status": "200", "reason": "skip_route", "up_cookie": "theme=dark", "up_x_auth_request_user": "", "up_x_auth_request_email": "",
				"up_x_auth_request_groups": "", "up_x_auth_request_preferred_username": "", "up_x_auth_request_access_token": ""}},
		{name: "skip route with only gatehouse's cookie: an empty cookie variable", req: request{url: "/public/x", headers: [][2]string{{"host", host}, {"cookie", f.alice[len("theme=dark; "):]}}},
			want: map[string]string{"status": "200", "reason": "skip_route", "up_cookie": "", "up_x_auth_request_user": "", "up_x_auth_request_email": "",
				"up_x_auth_request_groups": "", "up_x_auth_request_preferred_username": "", "up_x_auth_request_access_token": ""}},
		{name: "look-alike identity header", req: request{url: "/public/x", headers: [][2]string{{"host", host}, {"x-auth-request_user", "admin"}}},
			want: map[string]string{"status": "400", "reason": "spoofed_header", "hdr_content_type": "application/json", "body": "*"}},
		{name: "method override on a skip route is still judged", req: request{method: "GET", url: "/public/x", headers: [][2]string{{"host", host}, {"x-http-method-override", "DELETE, PUT"}}},
			want: map[string]string{"status": "400", "reason": "bad_request", "hdr_content_type": "application/json", "body": "*"}},
		{name: "lower-case method", req: request{method: "get", url: "/public/x"},
			want: map[string]string{"status": "400", "reason": "bad_request", "hdr_content_type": "application/json", "body": "*"}},
		{name: "authority differs from Host", req: request{url: "https://other.example.com/public/x", headers: [][2]string{{"host", host}}},
			want: map[string]string{"status": "400", "reason": "bad_request", "hdr_content_type": "application/json", "body": "*"}},
		{name: "two Host headers", req: request{url: "/public/x", headers: [][2]string{{"host", host}, {"Host", "status.example.com"}}},
			want: map[string]string{"status": "400", "reason": "bad_request", "hdr_content_type": "application/json", "body": "*"}},
		{name: "asterisk target", req: request{method: "OPTIONS", url: "*"},
			want: map[string]string{"status": "400", "reason": "bad_request", "hdr_content_type": "application/json", "body": "*"}},
		{name: "store outage with a session", storeDown: true, req: request{url: "/app", headers: [][2]string{{"host", host}, {"cookie", f.alice}, browser}},
			want: map[string]string{"status": "503", "reason": "store_unavailable", "hdr_retry_after": "1", "body": "*"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.store.down.Store(tc.storeDown)
			defer f.store.down.Store(false)
			vars, err := c.Check(uint64(i+1), 1, message(tc.req))
			if err != nil {
				t.Fatal(err)
			}
			got := strs(t, vars)
			if tc.want["body"] == "*" {
				if got["body"] == "" {
					t.Error("denial without a body")
				}
				got["body"] = "*"
			}
			if tc.want["status"] != "200" {
				// A denial's reply headers are the renderer's to choose
				// (security headers on pages, say): compare the ones
				// named, and require that no upstream header is set.
				for k := range got {
					if _, named := tc.want[k]; !named && strings.HasPrefix(k, spoa.ReplyPrefix) {
						delete(got, k)
					}
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("variables\n got %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestNotifyWithoutTheMessageGetsAnEmptyAck(t *testing.T) {
	f := newFixture(t, spoa.Options{})
	c := f.dial(t, spoptest.HelloOptions{})
	vars, err := c.Check(1, 1, spop.Message{Name: "something-else"})
	if err != nil {
		t.Fatal(err)
	}
	if len(vars) != 0 {
		t.Errorf("variables %v: haproxy.cfg must see no status and deny", vars)
	}
	// A message whose arguments are missing is a request the agent will
	// not judge: 400.
	vars, err = c.Check(1, 2, spop.Message{Name: spoa.MessageName})
	if err != nil {
		t.Fatal(err)
	}
	if got := strs(t, vars)["status"]; got != "400" {
		t.Errorf("status %q for a message without arguments, want 400", got)
	}
}

func TestPipelinedAnswersMatchTheirFrames(t *testing.T) {
	f := newFixture(t, spoa.Options{})
	c := f.dial(t, spoptest.HelloOptions{})
	want := map[[2]uint64]string{}
	for i := range 30 {
		id := [2]uint64{uint64(100 + i), uint64(i%3 + 1)}
		url, status := "/app", "401"
		if i%2 == 0 {
			url, status = "/public/x", "200"
		}
		want[id] = status
		if err := c.Notify(id[0], id[1], message(request{url: url})); err != nil {
			t.Fatal(err)
		}
	}
	for range 30 {
		ack, err := c.Read()
		if err != nil {
			t.Fatal(err)
		}
		vars, err := spoptest.Vars(ack)
		if err != nil {
			t.Fatal(err)
		}
		id := [2]uint64{ack.StreamID, ack.FrameID}
		w, ok := want[id]
		if !ok {
			t.Fatalf("ACK for %v: no such NOTIFY pending", id)
		}
		if got := strs(t, vars)["status"]; got != w {
			t.Errorf("ACK %v: status %s, want %s", id, got, w)
		}
		delete(want, id)
	}
}

// readDisconnect reads frames until an AGENT-DISCONNECT and returns its
// status.
func readDisconnect(t *testing.T, c *spoptest.Client) spop.Disconnect {
	t.Helper()
	for {
		fr, err := c.Read()
		if err != nil {
			t.Fatalf("no AGENT-DISCONNECT: %v", err)
		}
		if fr.Type != spop.TypeAgentDisconnect {
			continue
		}
		d, err := spop.DecodeDisconnect(fr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(); err == nil {
			t.Error("connection open after AGENT-DISCONNECT")
		}
		return d
	}
}

func TestProtocolErrorsAreReported(t *testing.T) {
	f := newFixture(t, spoa.Options{MaxFrameSize: 1024})
	t.Run("fragmented NOTIFY", func(t *testing.T) {
		c := f.dial(t, spoptest.HelloOptions{})
		var p []byte
		p = spop.AppendMessage(p, message(request{url: "/app"}))
		if err := c.Send(spop.Frame{Type: spop.TypeNotify, StreamID: 1, FrameID: 1, Payload: p}); err != nil {
			t.Fatal(err)
		}
		if d := readDisconnect(t, c); d.Status != spop.StatusFragNotSupported {
			t.Errorf("status %d (%s), want %d", d.Status, d.Message, spop.StatusFragNotSupported)
		}
	})
	t.Run("fragment continuation", func(t *testing.T) {
		c := f.dial(t, spoptest.HelloOptions{})
		if err := c.Send(spop.Frame{Type: spop.TypeUnset, Flags: spop.FlagFin, StreamID: 1, FrameID: 1, Payload: []byte{1}}); err != nil {
			t.Fatal(err)
		}
		if d := readDisconnect(t, c); d.Status != spop.StatusFragNotSupported {
			t.Errorf("status %d, want %d", d.Status, spop.StatusFragNotSupported)
		}
	})
	t.Run("frame above max-frame-size", func(t *testing.T) {
		c := f.dial(t, spoptest.HelloOptions{})
		big := request{url: "/app", headers: [][2]string{{"host", host}, {"x-big", strings.Repeat("y", 2000)}}}
		if err := c.Notify(1, 1, message(big)); err != nil {
			t.Fatal(err)
		}
		if d := readDisconnect(t, c); d.Status != spop.StatusTooBig {
			t.Errorf("status %d, want %d", d.Status, spop.StatusTooBig)
		}
	})
	t.Run("malformed NOTIFY", func(t *testing.T) {
		c := f.dial(t, spoptest.HelloOptions{})
		if err := c.Send(spop.Frame{Type: spop.TypeNotify, Flags: spop.FlagFin, StreamID: 1, FrameID: 1, Payload: []byte{5, 'a'}}); err != nil {
			t.Fatal(err)
		}
		if d := readDisconnect(t, c); d.Status != spop.StatusInvalid {
			t.Errorf("status %d, want %d", d.Status, spop.StatusInvalid)
		}
	})
	t.Run("unsupported version", func(t *testing.T) {
		nc, err := net.Dial("tcp", f.addr)
		if err != nil {
			t.Fatal(err)
		}
		c := &spoptest.Client{Conn: nc}
		defer c.Close()
		var p []byte
		p = spop.AppendKV(p, "supported-versions", spop.StringValue("1.0"))
		p = spop.AppendKV(p, "max-frame-size", spop.UintValue(16380))
		p = spop.AppendKV(p, "capabilities", spop.StringValue(""))
		if err := c.Send(spop.Frame{Type: spop.TypeHAProxyHello, Flags: spop.FlagFin, Payload: p}); err != nil {
			t.Fatal(err)
		}
		if d := readDisconnect(t, c); d.Status != spop.StatusBadVersion {
			t.Errorf("status %d, want %d", d.Status, spop.StatusBadVersion)
		}
	})
	t.Run("HAPROXY-DISCONNECT is answered", func(t *testing.T) {
		c := f.dial(t, spoptest.HelloOptions{})
		var p []byte
		p = spop.AppendKV(p, "status-code", spop.UintValue(0))
		p = spop.AppendKV(p, "message", spop.StringValue("normal"))
		if err := c.Send(spop.Frame{Type: spop.TypeHAProxyDisconnect, Flags: spop.FlagFin, Payload: p}); err != nil {
			t.Fatal(err)
		}
		if d := readDisconnect(t, c); d.Status != spop.StatusNormal {
			t.Errorf("status %d, want 0", d.Status)
		}
	})
}

func TestOversizedAnswerIsRefusedNotTruncated(t *testing.T) {
	f := newFixture(t, spoa.Options{})
	// HAProxy allows 1024-byte frames; carol's 200 groups do not fit.
	c := f.dial(t, spoptest.HelloOptions{MaxFrameSize: 1024})
	vars, err := c.Check(1, 1, message(request{url: "/app", headers: [][2]string{{"host", host}, {"cookie", f.carol}}}))
	if err != nil {
		t.Fatal(err)
	}
	got := strs(t, vars)
	if got["status"] != "500" || got["reason"] != "reply_too_large" {
		t.Errorf("variables %v, want status 500 reply_too_large", got)
	}
}

func TestRunStopsCleanly(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	f := newFixture(t, spoa.Options{})
	idle := f.dial(t, spoptest.HelloOptions{})
	busy := f.dial(t, spoptest.HelloOptions{})
	if _, err := busy.Check(1, 1, message(request{url: "/public/x"})); err != nil {
		t.Fatal(err)
	}
	f.stop(t)
	for name, c := range map[string]*spoptest.Client{"idle": idle, "busy": busy} {
		if d := readDisconnect(t, c); d.Status != spop.StatusNormal {
			t.Errorf("%s: status %d", name, d.Status)
		}
	}
	if _, err := net.DialTimeout("tcp", f.addr, time.Second); err == nil {
		t.Error("listener still accepting after Run returned")
	}
}

func TestOversizedPageIsSentWithoutItsBody(t *testing.T) {
	f := newFixture(t, spoa.Options{})
	f.store.down.Store(true)
	// 1024 bytes hold a 503's status and headers, not its HTML page.
	c := f.dial(t, spoptest.HelloOptions{MaxFrameSize: 1024})
	vars, err := c.Check(1, 1, message(request{url: "/app", headers: [][2]string{{"host", host}, {"accept", "text/html"}, {"cookie", f.alice}}}))
	if err != nil {
		t.Fatal(err)
	}
	got := strs(t, vars)
	if got["status"] != "503" || got["reason"] != "store_unavailable" || got["hdr_retry_after"] != "1" || got["body"] != "" {
		t.Errorf("variables %v, want the 503 without its page", got)
	}
	// With room for it, the page is sent.
	big := f.dial(t, spoptest.HelloOptions{})
	vars, err = big.Check(1, 1, message(request{url: "/app", headers: [][2]string{{"host", host}, {"accept", "text/html"}, {"cookie", f.alice}}}))
	if err != nil {
		t.Fatal(err)
	}
	if len(vars["body"].String()) < 1024 {
		t.Errorf("page of %d bytes; the test needs one above 1024", len(vars["body"].String()))
	}
}

// failingListener fails its first Accept calls with a non-closed error,
// then hands out one end of a pipe, then reports itself closed.
type failingListener struct {
	net.Listener
	fails int
	conns chan net.Conn
}

func (l *failingListener) Accept() (net.Conn, error) {
	if l.fails > 0 {
		l.fails--
		return nil, errors.New("accept: too many open files")
	}
	c, ok := <-l.conns
	if !ok {
		return nil, net.ErrClosed
	}
	return c, nil
}

func TestRunSurvivesAcceptErrorsAndReportsAClosedListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fl := &failingListener{Listener: ln, fails: 3, conns: make(chan net.Conn, 1)}
	server, client := net.Pipe()
	fl.conns <- server
	done := make(chan error, 1)
	go func() { done <- spoa.New(nil, spoa.Options{}).Run(context.Background(), fl) }()
	// After three failed accepts the agent still answers a handshake.
	c, err := spoptest.Handshake(client, spoptest.HelloOptions{})
	if err != nil {
		t.Fatalf("handshake after accept errors: %v", err)
	}
	_ = c.Close()
	close(fl.conns)
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Run = %v, want the closed listener's error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return when its listener closed")
	}
}
