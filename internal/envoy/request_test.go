package envoy

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/gatehouse/gatehouse/internal/authz"
)

func httpReq(h *authv3.AttributeContext_HttpRequest, source string) *authv3.CheckRequest {
	cr := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{Http: h}}}
	if source != "" {
		cr.Attributes.Source = &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: source},
		}}}
	}
	return cr
}

// toRequest is parseRequest returning its result, the zero checkInput
// on error.
func toRequest(cr *authv3.CheckRequest) (checkInput, error) {
	var in checkInput
	if err := parseRequest(cr, &in); err != nil {
		return checkInput{}, err
	}
	return in, nil
}

func TestToRequestMapping(t *testing.T) {
	in, err := toRequest(httpReq(&authv3.AttributeContext_HttpRequest{
		Method: "GET", Scheme: "HTTPS", Host: "App.Example.com:8443", Path: "/a/b?x=1&y=/admin",
		Headers: map[string]string{"accept": "text/html", "cookie": "a=b; _gatehouse=v"},
	}, "::ffff:203.0.113.9"))
	if err != nil {
		t.Fatal(err)
	}
	r := in.req
	if r.Method != "GET" || r.Scheme != "https" || r.Host != "App.Example.com:8443" || r.Path != "/a/b" || r.RawQuery != "x=1&y=/admin" || r.Accept != "text/html" {
		t.Errorf("request = %+v", r)
	}
	if r.ClientIP != netip.MustParseAddr("203.0.113.9") {
		t.Errorf("client IP = %v", r.ClientIP)
	}
	if in.cookie != "a=b; _gatehouse=v" {
		t.Errorf("cookie = %q", in.cookie)
	}
	if r.URL() != "https://App.Example.com:8443/a/b?x=1&y=/admin" || r.RawPath != "" {
		t.Errorf("URL = %q", r.URL())
	}
}

func TestToRequestQueryFieldAndBadSource(t *testing.T) {
	in, err := toRequest(httpReq(&authv3.AttributeContext_HttpRequest{
		Method: "POST", Scheme: "http", Host: "[::1]:8080", Path: "/p", Query: "a=1",
	}, "not-an-ip"))
	if err != nil {
		t.Fatal(err)
	}
	if in.req.Path != "/p" || in.req.RawQuery != "a=1" {
		t.Errorf("path %q query %q", in.req.Path, in.req.RawQuery)
	}
	if in.req.ClientIP.IsValid() {
		t.Errorf("client IP from garbage = %v", in.req.ClientIP)
	}
}

func TestRouteExtensionBounded(t *testing.T) {
	cr := httpReq(&authv3.AttributeContext_HttpRequest{Method: "GET", Scheme: "http", Host: "h", Path: "/"}, "")
	cr.Attributes.ContextExtensions = map[string]string{ContextExtensionRoute: strings.Repeat("r", 500)}
	in, err := toRequest(cr)
	if err != nil || in.route != "" {
		t.Errorf("oversized route label kept: %q, %v", in.route, err)
	}
}

func FuzzToRequest(f *testing.F) {
	f.Add("GET", "https", "app.example.com", "/a?b=c", "_gatehouse=x")
	f.Add("", "", "", "", "")
	f.Add("GET", "http", "[::1]", "/%2e%2e/x", "")
	f.Fuzz(func(t *testing.T, method, scheme, host, path, cookie string) {
		in, err := toRequest(httpReq(&authv3.AttributeContext_HttpRequest{
			Method: method, Scheme: scheme, Host: host, Path: path,
			Headers: map[string]string{"cookie": cookie},
		}, host))
		if err != nil {
			return
		}
		r := in.req
		if !strings.HasPrefix(r.Path, "/") || hasCTL(r.Path+r.RawQuery) {
			t.Fatalf("accepted bad path %q query %q", r.Path, r.RawQuery)
		}
		if strings.ContainsAny(r.Host, "/@\\?# ") || r.Host == "" {
			t.Fatalf("accepted bad host %q", r.Host)
		}
		for seg := range strings.SplitSeq(r.Path, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("normalized path %q keeps a dot segment", r.Path)
			}
		}
		if r.RawPath != "" && r.RawPath == r.Path {
			t.Fatalf("RawPath set to the normalized path %q", r.Path)
		}
	})
}

func TestMethodOverrideKeys(t *testing.T) {
	for i, name := range authz.MethodOverrideHeaders {
		if got := methodOverrideKey(name); got != strings.ToLower(name) || got != methodOverrideKeys[i] {
			t.Errorf("methodOverrideKey(%q) = %q", name, got)
		}
		if http.CanonicalHeaderKey(name) != name {
			t.Errorf("authz.MethodOverrideHeaders[%d] = %q is not canonical (%q)", i, name, http.CanonicalHeaderKey(name))
		}
	}
}
