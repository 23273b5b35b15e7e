package conformance_test

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/spoa"
	"github.com/gatehouse/gatehouse/internal/spop"
	"github.com/gatehouse/gatehouse/internal/spop/spoptest"
)

// spoaDriver drives the HAProxy SPOE agent over a real loopback SPOP
// connection, as HAProxy's gatehouse-check message does, and reads the
// verdict from the ACK's variables as deploy/haproxy/haproxy.cfg acts on
// them: the up_* variables become the upstream's identity headers and
// Cookie (a header without one is removed), hdr_* and body the reply.
func spoaDriver(t *testing.T, f *fixture) driver { return recordingSPOADriver(t, f, map[string]bool{}) }

// recordingSPOADriver is spoaDriver that also notes in seen the name of
// every variable an ACK set.
func recordingSPOADriver(t *testing.T, f *fixture, seen map[string]bool) driver {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- spoa.New(f.checker, spoa.Options{}).Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("spoa Run: %v", err)
		}
	})
	c, err := spoptest.Dial(ln.Addr().String(), spoptest.HelloOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	var stream uint64
	return driver{name: "haproxy-spoe", expect: canonical, run: func(t *testing.T, sc scenario, cookie string) verdict {
		hdrs := [][2]string{{"host", host}, {"accept", sc.accept}, {"user-agent", "conformance"}}
		if cookie != "" {
			hdrs = append(hdrs, [2]string{"cookie", cookie})
		}
		for k, v := range sc.spoof {
			hdrs = append(hdrs, [2]string{k, v})
		}
		for k, vs := range sc.spoofMulti {
			for _, v := range vs {
				hdrs = append(hdrs, [2]string{k, v})
			}
		}
		msg := spop.Message{Name: spoa.MessageName, Args: []spop.KV{
			{Name: spoa.ArgMethod, Value: spop.StringValue(sc.method)},
			{Name: spoa.ArgHTTPS, Value: spop.BoolValue(true)},
			{Name: spoa.ArgURL, Value: spop.StringValue(sc.target)},
			{Name: spoa.ArgHeaders, Value: spop.BinaryValue(spoptest.HeadersBin(hdrs))},
			{Name: spoa.ArgSource, Value: spop.Value{Kind: spop.KindIPv4, Addr: netip.MustParseAddr(clientAddr)}},
		}}
		stream++
		vars, err := c.Check(stream, 1, msg)
		if err != nil {
			t.Fatalf("SPOE check: %v", err)
		}
		for name := range vars {
			seen[name] = true
		}
		str := func(name string) string { return vars[name].String() }
		status := vars[spoa.VarStatus]
		if status.Kind != spop.KindInt32 {
			t.Fatalf("no integer status variable in %v: haproxy.cfg would refuse with 503", vars)
		}
		v := verdict{Status: int(status.Int), Reason: str(spoa.VarReason)}
		if v.Status == 200 {
			v.Identity = pickIdentity(func(name string) (string, bool) {
				val, ok := vars[spoa.VarName(spoa.UpstreamPrefix, name)]
				return val.String(), ok
			})
			v.Cookie = str(spoa.VarName(spoa.UpstreamPrefix, "Cookie"))
			for name := range vars {
				if len(name) > len(spoa.ReplyPrefix) && name[:len(spoa.ReplyPrefix)] == spoa.ReplyPrefix {
					t.Errorf("allow sets reply header variable %s", name)
				}
			}
			return v
		}
		if hc, ok := vars[spoa.VarName(spoa.ReplyPrefix, "Set-Cookie")]; ok {
			v.SetCookie = []string{hc.String()}
		}
		v.WWWAuth = str(spoa.VarName(spoa.ReplyPrefix, "WWW-Authenticate"))
		v.Body = str(spoa.VarBody)
		v.CType = str(spoa.VarName(spoa.ReplyPrefix, "Content-Type"))
		// Location on the redirect, the login header on a 401, as the
		// shipped haproxy.cfg sends them.
		v.Login = str(spoa.VarName(spoa.ReplyPrefix, "Location"))
		if v.Login == "" {
			v.Login = str(spoa.VarName(spoa.ReplyPrefix, "X-Auth-Request-Redirect"))
		}
		return v
	}}
}

// TestSPOAAgrees runs the scenario table through the HAProxy SPOE agent:
// the same verdicts as every other adapter, and the same bodies and
// content types as ext_authz (on one line, as the body variable carries
// them).
func TestSPOAAgrees(t *testing.T) {
	f := newFixture(t)
	ref := envoyDriver(t, f)
	seen := map[string]bool{}
	d := recordingSPOADriver(t, f, seen)
	for _, sc := range scenarios() {
		if sc.method == "" {
			sc.method = "GET"
		}
		t.Run(sc.name, func(t *testing.T) {
			f.store.down.Store(sc.storeDown)
			defer f.store.down.Store(false)
			got := d.run(t, sc, f.cookieHeader(sc))
			cmp := got
			cmp.Body, cmp.CType = "", ""
			if want := d.expect(sc.want); !reflect.DeepEqual(cmp, want) {
				t.Errorf("%s:\n got %+v\nwant %+v", d.name, cmp, want)
			}
			r := ref.run(t, sc, f.cookieHeader(sc))
			if got.Body != spoa.OneLine(r.Body) || got.CType != r.CType {
				t.Errorf("body/content-type (%q, %q) differ from %s (%q, %q)", got.Body, got.CType, ref.name, r.Body, r.CType)
			}
		})
	}
	// HAProxy ignores a variable its configuration never names: every
	// variable the agent set for the table must be acted on by the shipped
	// haproxy.cfg, or a header would silently go missing (a new security
	// header of the pages, say, or the cleaned Cookie).
	cfg, err := os.ReadFile(filepath.Join("..", "..", "deploy", "haproxy", "haproxy.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	for name := range seen {
		if !strings.Contains(string(cfg), "var(txn.gatehouse."+name+")") {
			t.Errorf("the agent sets txn.gatehouse.%s, which deploy/haproxy/haproxy.cfg never reads", name)
		}
	}
	if len(seen) < 10 {
		t.Errorf("only %d variables seen: %v", len(seen), seen)
	}
}
