package envoy_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/envoy"
	"github.com/gatehouse/gatehouse/internal/testpki"
)

const (
	browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	apiAccept     = "application/json"
)

func call(t *testing.T, conn *grpc.ClientConn, req *authv3.CheckRequest) *authv3.CheckResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := authv3.NewAuthorizationClient(conn).Check(ctx, req)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if err := resp.ValidateAll(); err != nil {
		t.Fatalf("response fails Envoy's validation: %v", err)
	}
	return resp
}

func headerMap(hs []*corev3.HeaderValueOption) map[string]*corev3.HeaderValueOption {
	m := map[string]*corev3.HeaderValueOption{}
	for _, h := range hs {
		m[h.GetHeader().GetKey()] = h
	}
	return m
}

func meta(resp *authv3.CheckResponse, key string) string {
	return resp.GetDynamicMetadata().GetFields()[key].GetStringValue()
}

func wantDenied(t *testing.T, resp *authv3.CheckResponse, code codes.Code, httpStatus int) *authv3.DeniedHttpResponse {
	t.Helper()
	if got := codes.Code(resp.GetStatus().GetCode()); got != code {
		t.Fatalf("grpc status = %v, want %v", got, code)
	}
	d := resp.GetDeniedResponse()
	if d == nil {
		t.Fatalf("no denied_response in %v", resp)
	}
	if got := int(d.GetStatus().GetCode()); got != httpStatus {
		t.Fatalf("http status = %d, want %d", got, httpStatus)
	}
	for _, h := range d.GetHeaders() {
		want := corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
		if h.GetHeader().GetKey() == "set-cookie" {
			want = corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD
		}
		if h.GetAppendAction() != want {
			t.Errorf("header %q: append_action %v, want %v", h.GetHeader().GetKey(), h.GetAppendAction(), want)
		}
	}
	return d
}

func TestAllowSetsAndRemovesIdentityHeaders(t *testing.T) {
	e := newEnv(t, 0)
	conn := serve(t, envoy.NewService(e.checker, envoy.ServiceOptions{}), envoy.ServerOptions{})
	cookie := e.login(t, "alice@example.com", true, "eng", "ops")

	in := map[string]string{
		"cookie": cookie, "accept": browserAccept,
		// Spoofed identity, in the case a client would send it.
		"x-auth-request-email":              "ceo@example.com",
		"x-auth-request-preferred-username": "root",
	}
	resp := call(t, conn, checkReq("GET", "app.example.com", "/dashboard?tab=1", in))
	if codes.Code(resp.GetStatus().GetCode()) != codes.OK {
		t.Fatalf("status %v, want OK", resp.GetStatus())
	}
	ok := resp.GetOkResponse()
	if ok == nil {
		t.Fatal("no ok_response")
	}
	got := headerMap(ok.GetHeaders())
	for name, want := range map[string]string{
		"x-auth-request-user":   "alice",
		"x-auth-request-email":  "alice@example.com",
		"x-auth-request-groups": "eng,ops",
	} {
		h := got[name]
		if h.GetHeader().GetValue() != want {
			t.Errorf("%s = %q, want %q", name, h.GetHeader().GetValue(), want)
		}
		if h.GetAppendAction() != corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD {
			t.Errorf("%s append_action = %v", name, h.GetAppendAction())
		}
	}
	if !slices.Equal(ok.GetHeadersToRemove(), []string{"x-auth-request-preferred-username", "x-auth-request-access-token"}) {
		t.Errorf("headers_to_remove = %q", ok.GetHeadersToRemove())
	}
	// What the upstream would see after Envoy applies the response.
	up := applyOK(t, in, ok)
	if v := up["x-auth-request-email"]; !slices.Equal(v, []string{"alice@example.com"}) {
		t.Errorf("upstream email = %q: spoofed value survived", v)
	}
	if v, present := up["x-auth-request-preferred-username"]; present {
		t.Errorf("upstream preferred username = %q: spoofed header survived", v)
	}
	if meta(resp, envoy.MetadataOutcome) != "allow" || meta(resp, envoy.MetadataReason) != "allowed" || meta(resp, envoy.MetadataUser) != "alice" {
		t.Errorf("dynamic metadata = %v", resp.GetDynamicMetadata())
	}
	if strings.Contains(resp.String(), cookie[len("theme=dark; "+cookieName+"="):]) {
		t.Error("response leaks the session cookie")
	}
}

func TestSkipRouteStripsSpoofedIdentity(t *testing.T) {
	e := newEnv(t, 0)
	conn := serve(t, envoy.NewService(e.checker, envoy.ServiceOptions{}), envoy.ServerOptions{})
	in := map[string]string{"accept": apiAccept, "x-auth-request-user": "admin", "X-Auth-Request-Groups": "admins"}
	resp := call(t, conn, checkReq("GET", "app.example.com", "/public/logo.png", in))
	ok := resp.GetOkResponse()
	if ok == nil || meta(resp, envoy.MetadataReason) != "skip_route" {
		t.Fatalf("want skip-route allow, got %v", resp)
	}
	if len(ok.GetHeaders()) != 0 {
		t.Errorf("skip route sets identity headers %v", ok.GetHeaders())
	}
	if up := applyOK(t, in, ok); len(up) != 1 {
		t.Errorf("upstream headers after apply = %v, want only accept", up)
	}
}

func TestQueryIsNotMatchedAgainstRoutes(t *testing.T) {
	e := newEnv(t, 0)
	conn := serve(t, envoy.NewService(e.checker, envoy.ServiceOptions{}), envoy.ServerOptions{})
	// A skip-route path with a protected-looking query passes...
	resp := call(t, conn, checkReq("GET", "app.example.com", "/public?x=/admin", map[string]string{"accept": apiAccept}))
	if resp.GetOkResponse() == nil {
		t.Fatalf("/public?x=/admin: want allow, got %v", resp)
	}
	// ...and a protected path with a skip-route query does not.
	resp = call(t, conn, checkReq("GET", "app.example.com", "/admin?r=/public", map[string]string{"accept": browserAccept}))
	d := wantDenied(t, resp, codes.Unauthenticated, 302)
	loc := headerMap(d.GetHeaders())["location"].GetHeader().GetValue()
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	if rd := u.Query().Get("rd"); rd != "https://app.example.com/admin?r=/public" {
		t.Errorf("rd = %q", rd)
	}
}

func TestDotSegmentsCannotReachProtectedPathThroughSkipRoute(t *testing.T) {
	e := newEnv(t, 0)
	conn := serve(t, envoy.NewService(e.checker, envoy.ServiceOptions{}), envoy.ServerOptions{})
	for _, p := range []string{"/public/../admin", "/public/./../admin", "//public/../admin"} {
		resp := call(t, conn, checkReq("GET", "app.example.com", p, map[string]string{"accept": apiAccept}))
		wantDenied(t, resp, codes.Unauthenticated, 401)
	}
	// A dot segment only once decoded, or with ;params, is ambiguous.
	for _, p := range []string{"/public/%2E%2e/admin", "/public/..;/admin", "/public/..%3B/admin"} {
		resp := call(t, conn, checkReq("GET", "app.example.com", p, map[string]string{"accept": apiAccept}))
		wantDenied(t, resp, codes.InvalidArgument, 400)
	}
	// Normalization that stays inside the skip route still passes.
	resp := call(t, conn, checkReq("GET", "app.example.com", "/admin/../public/x", map[string]string{"accept": apiAccept}))
	if resp.GetOkResponse() == nil {
		t.Errorf("/admin/../public/x: want skip-route allow, got %v", resp.GetStatus())
	}
}

func TestUnauthenticated(t *testing.T) {
	e := newEnv(t, 0)
	conn := serve(t, envoy.NewService(e.checker, envoy.ServiceOptions{}), envoy.ServerOptions{})

	t.Run("browser is redirected", func(t *testing.T) {
		resp := call(t, conn, checkReq("GET", "app.example.com", "/x", map[string]string{"accept": browserAccept}))
		d := wantDenied(t, resp, codes.Unauthenticated, 302)
		loc := headerMap(d.GetHeaders())["location"]
		if !strings.HasPrefix(loc.GetHeader().GetValue(), loginURL+"?rd=") {
			t.Errorf("location = %q", loc.GetHeader().GetValue())
		}
		if meta(resp, envoy.MetadataReason) != "no_session" || meta(resp, envoy.MetadataOutcome) != "unauthenticated" {
			t.Errorf("metadata = %v", resp.GetDynamicMetadata())
		}
	})
	t.Run("api client gets 401", func(t *testing.T) {
		resp := call(t, conn, checkReq("GET", "app.example.com", "/api/v1", map[string]string{"accept": apiAccept}))
		d := wantDenied(t, resp, codes.Unauthenticated, 401)
		if headerMap(d.GetHeaders())["www-authenticate"] == nil || d.GetBody() == "" {
			t.Errorf("401 without www-authenticate or body: %v", d)
		}
		if headerMap(d.GetHeaders())["location"] != nil {
			t.Error("401 carries a location")
		}
	})
	t.Run("tampered cookie is cleared", func(t *testing.T) {
		good := e.login(t, "alice@example.com", true)
		i := len(good) - 20 // a character inside the sealed value
		flip := byte('A')
		if good[i] == 'A' {
			flip = 'B'
		}
		bad := good[:i] + string(flip) + good[i+1:]
		resp := call(t, conn, checkReq("GET", "app.example.com", "/x", map[string]string{"accept": browserAccept, "cookie": bad}))
		d := wantDenied(t, resp, codes.Unauthenticated, 302)
		sc := headerMap(d.GetHeaders())["set-cookie"]
		if !strings.HasPrefix(sc.GetHeader().GetValue(), cookieName+"=;") || !strings.Contains(sc.GetHeader().GetValue(), "Max-Age=0") {
			t.Errorf("set-cookie = %q", sc.GetHeader().GetValue())
		}
		if meta(resp, envoy.MetadataReason) != "invalid_session" {
			t.Errorf("reason = %q", meta(resp, envoy.MetadataReason))
		}
	})
}

func TestForbidden(t *testing.T) {
	e := newEnv(t, 0)
	conn := serve(t, envoy.NewService(e.checker, envoy.ServiceOptions{}), envoy.ServerOptions{})
	for _, email := range []string{"mallory@evil.com", "alice@example.com@evil.com"} {
		cookie := e.login(t, email, true)
		resp := call(t, conn, checkReq("GET", "app.example.com", "/", map[string]string{"accept": apiAccept, "cookie": cookie}))
		d := wantDenied(t, resp, codes.PermissionDenied, 403)
		if !strings.Contains(d.GetBody(), "forbidden") {
			t.Errorf("%s: body = %q", email, d.GetBody())
		}
		if meta(resp, envoy.MetadataUser) == "" || meta(resp, envoy.MetadataReason) != "not_allowed" {
			t.Errorf("%s: metadata = %v", email, resp.GetDynamicMetadata())
		}
	}
	unverified := e.login(t, "bob@example.com", false)
	resp := call(t, conn, checkReq("GET", "app.example.com", "/", map[string]string{"accept": apiAccept, "cookie": unverified}))
	wantDenied(t, resp, codes.PermissionDenied, 403)
}

func TestStoreFailureFailsClosed(t *testing.T) {
	e := newEnv(t, 0)
	conn := serve(t, envoy.NewService(e.checker, envoy.ServiceOptions{}), envoy.ServerOptions{})
	cookie := e.login(t, "alice@example.com", true)
	e.store.err = errStoreDown
	resp := call(t, conn, checkReq("GET", "app.example.com", "/", map[string]string{"accept": browserAccept, "cookie": cookie}))
	d := wantDenied(t, resp, codes.Unavailable, 503)
	if headerMap(d.GetHeaders())["location"] != nil {
		t.Error("store failure redirects (would loop)")
	}
	if strings.Contains(d.GetBody(), "refused") {
		t.Error("store error detail leaks to the client")
	}
}

func TestHangingStoreAnswersBeforeEnvoyTimeout(t *testing.T) {
	// Envoy's default ext_authz timeout is 200ms; the answer must be
	// gatehouse's 503, well before that, not a gRPC deadline error.
	for _, tc := range []struct {
		name           string
		checkTimeout   time.Duration
		envoyTimeout   time.Duration
		wantBelow      time.Duration
		wantAtLeastFor time.Duration
	}{
		{"check timeout shorter than envoy's", 50 * time.Millisecond, 200 * time.Millisecond, 150 * time.Millisecond, 50 * time.Millisecond},
		{"envoy deadline shorter than check timeout", 5 * time.Second, 200 * time.Millisecond, 200 * time.Millisecond, 100 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.checkTimeout)
			conn := serve(t, envoy.NewService(e.checker, envoy.ServiceOptions{}), envoy.ServerOptions{})
			cookie := e.login(t, "alice@example.com", true)
			e.store.hang = true
			// Warm the connection so the measurement is the check alone.
			call(t, conn, checkReq("GET", "app.example.com", "/public", nil))

			ctx, cancel := context.WithTimeout(context.Background(), tc.envoyTimeout)
			defer cancel()
			start := time.Now()
			resp, err := authv3.NewAuthorizationClient(conn).Check(ctx, checkReq("GET", "app.example.com", "/", map[string]string{"cookie": cookie}))
			took := time.Since(start)
			if err != nil {
				t.Fatalf("Check: %v after %v (want a 503 answer)", err, took)
			}
			wantDenied(t, resp, codes.Unavailable, 503)
			if took >= tc.wantBelow || took < tc.wantAtLeastFor {
				t.Errorf("answered after %v, want in [%v, %v)", took, tc.wantAtLeastFor, tc.wantBelow)
			}
		})
	}
}

func TestMalformedRequestsAreDenied(t *testing.T) {
	e := newEnv(t, 0)
	conn := serve(t, envoy.NewService(e.checker, envoy.ServiceOptions{}), envoy.ServerOptions{})
	cookie := e.login(t, "alice@example.com", true)
	h := map[string]string{"cookie": cookie, "accept": apiAccept}
	mod := func(f func(r *authv3.AttributeContext_HttpRequest)) *authv3.CheckRequest {
		r := checkReq("GET", "app.example.com", "/", h)
		f(r.Attributes.Request.Http)
		return r
	}
	cases := map[string]*authv3.CheckRequest{
		"empty request":      {},
		"no request":         {Attributes: &authv3.AttributeContext{}},
		"no http":            {Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{}}},
		"empty path":         mod(func(r *authv3.AttributeContext_HttpRequest) { r.Path = "" }),
		"relative path":      mod(func(r *authv3.AttributeContext_HttpRequest) { r.Path = "admin" }),
		"absolute-form path": mod(func(r *authv3.AttributeContext_HttpRequest) { r.Path = "https://evil.com/" }),
		"asterisk path":      mod(func(r *authv3.AttributeContext_HttpRequest) { r.Path = "*" }),
		"space in path":      mod(func(r *authv3.AttributeContext_HttpRequest) { r.Path = "/a b" }),
		"newline in path":    mod(func(r *authv3.AttributeContext_HttpRequest) { r.Path = "/a\r\nx-auth: y" }),
		"nul in query":       mod(func(r *authv3.AttributeContext_HttpRequest) { r.Path = "/a?x=\x00" }),
		"bad escape":         mod(func(r *authv3.AttributeContext_HttpRequest) { r.Path = "/a%zz" }),
		"fragment":           mod(func(r *authv3.AttributeContext_HttpRequest) { r.Path = "/a#b" }),
		"encoded slash":      mod(func(r *authv3.AttributeContext_HttpRequest) { r.Path = "/public%2f..%2fadmin" }),
		"backslash":          mod(func(r *authv3.AttributeContext_HttpRequest) { r.Path = "/public\\..\\admin" }),
		"huge path":          mod(func(r *authv3.AttributeContext_HttpRequest) { r.Path = "/" + strings.Repeat("a", 9000) }),
		"empty host":         mod(func(r *authv3.AttributeContext_HttpRequest) { r.Host = "" }),
		"host with slash":    mod(func(r *authv3.AttributeContext_HttpRequest) { r.Host = "evil.com/x" }),
		"host with userinfo": mod(func(r *authv3.AttributeContext_HttpRequest) { r.Host = "app.example.com@evil.com" }),
		"empty method":       mod(func(r *authv3.AttributeContext_HttpRequest) { r.Method = "" }),
		"method with space":  mod(func(r *authv3.AttributeContext_HttpRequest) { r.Method = "GE T" }),
		"scheme ftp":         mod(func(r *authv3.AttributeContext_HttpRequest) { r.Scheme = "ftp" }),
		"lower-case method":  mod(func(r *authv3.AttributeContext_HttpRequest) { r.Method = "get" }),
		"fragment in query":  mod(func(r *authv3.AttributeContext_HttpRequest) { r.Path = "/a?b=1#c" }),
		"double encoding":    mod(func(r *authv3.AttributeContext_HttpRequest) { r.Path = "/a/%252e%252e/b" }),
		"not UTF-8":          mod(func(r *authv3.AttributeContext_HttpRequest) { r.Path = "/%c0%ae%c0%ae/admin" }),
		"bad port":           mod(func(r *authv3.AttributeContext_HttpRequest) { r.Host = "app.example.com:x" }),
	}
	for name, req := range cases {
		t.Run(name, func(t *testing.T) {
			resp := call(t, conn, req)
			wantDenied(t, resp, codes.InvalidArgument, 400)
			if meta(resp, envoy.MetadataReason) != "bad_request" {
				t.Errorf("reason = %q", meta(resp, envoy.MetadataReason))
			}
		})
	}
}

// TestLookAlikeIdentityHeadersRefused: a header that a WSGI app would read
// as an identity header is refused, from the string map and from the raw
// header_map Envoy sends with encode_raw_headers.
func TestLookAlikeIdentityHeadersRefused(t *testing.T) {
	e := newEnv(t, 0)
	conn := serve(t, envoy.NewService(e.checker, envoy.ServiceOptions{}), envoy.ServerOptions{})
	cookie := e.login(t, "alice@example.com", true)
	resp := call(t, conn, checkReq("GET", "app.example.com", "/public/x", map[string]string{"accept": apiAccept, "x-auth-request_groups": "admins"}))
	wantDenied(t, resp, codes.InvalidArgument, 400)
	if meta(resp, envoy.MetadataReason) != string(authz.ReasonSpoofedHeader) {
		t.Errorf("reason = %q", meta(resp, envoy.MetadataReason))
	}
	raw := checkReq("GET", "app.example.com", "/x", nil)
	raw.Attributes.Request.Http.HeaderMap = &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
		{Key: "cookie", RawValue: []byte(cookie)}, {Key: "accept", RawValue: []byte(apiAccept)},
		{Key: "x_auth_request_email", RawValue: []byte("ceo@example.com")},
	}}
	resp = call(t, conn, raw)
	wantDenied(t, resp, codes.InvalidArgument, 400)
	// The real header in any letter case is replaced, not refused.
	resp = call(t, conn, checkReq("GET", "app.example.com", "/x", map[string]string{"accept": apiAccept, "cookie": cookie, "x-auth-request-groups": "admins"}))
	if resp.GetOkResponse() == nil {
		t.Fatalf("canonical identity header: %v", resp.GetStatus())
	}
}

// TestUpstreamCookieWithoutGatehouseCookie: the upstream keeps the app's
// cookies and never receives gatehouse's; an unchanged header is not
// rewritten.
func TestUpstreamCookieWithoutGatehouseCookie(t *testing.T) {
	e := newEnv(t, 0)
	conn := serve(t, envoy.NewService(e.checker, envoy.ServiceOptions{}), envoy.ServerOptions{})
	cookie := e.login(t, "alice@example.com", true)
	own := cookie[strings.Index(cookie, "_gatehouse="):]
	for _, c := range []struct{ sent, want string }{
		{"lang=en; " + own, "lang=en"},
		{own, ""},
	} {
		in := map[string]string{"accept": apiAccept, "cookie": c.sent}
		resp := call(t, conn, checkReq("GET", "app.example.com", "/x", in))
		ok := resp.GetOkResponse()
		if ok == nil {
			t.Fatalf("%q: %v", c.sent, resp.GetStatus())
		}
		if got := applyOK(t, in, ok)["cookie"]; strings.Join(got, "; ") != c.want {
			t.Errorf("upstream cookie for %q = %q, want %q", c.sent, got, c.want)
		}
	}
	in := map[string]string{"accept": apiAccept, "cookie": "theme=dark"}
	resp := call(t, conn, checkReq("GET", "app.example.com", "/public/x", in))
	for _, h := range resp.GetOkResponse().GetHeaders() {
		if h.GetHeader().GetKey() == "cookie" {
			t.Errorf("an unchanged Cookie header was rewritten: %v", h)
		}
	}
	if got := applyOK(t, in, resp.GetOkResponse())["cookie"]; strings.Join(got, "") != "theme=dark" {
		t.Errorf("app cookie lost: %q", got)
	}
}

func TestRawHeaderMapAndContextExtensions(t *testing.T) {
	e := newEnv(t, 0)
	conn := serve(t, envoy.NewService(e.checker, envoy.ServiceOptions{}), envoy.ServerOptions{})
	cookie := e.login(t, "alice@example.com", true)

	// Envoy with encode_raw_headers sends header_map instead of headers,
	// possibly with the cookie split over several entries.
	req := checkReq("GET", "app.example.com", "/", nil)
	req.Attributes.Request.Http.HeaderMap = &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
		{Key: "accept", RawValue: []byte(apiAccept)},
		{Key: "cookie", RawValue: []byte("theme=dark")},
		{Key: "cookie", RawValue: []byte(strings.TrimPrefix(cookie, "theme=dark; "))},
	}}
	req.Attributes.ContextExtensions = map[string]string{
		envoy.ContextExtensionRoute: "clearml",
		"gatehouse_skip":            "true", // unknown: must not change anything
		"policy":                    "allow-all",
	}
	resp := call(t, conn, req)
	if resp.GetOkResponse() == nil || meta(resp, envoy.MetadataUser) != "alice" {
		t.Fatalf("want allow for alice, got %v", resp)
	}
	if meta(resp, envoy.MetadataRoute) != "clearml" {
		t.Errorf("route metadata = %q", meta(resp, envoy.MetadataRoute))
	}

	// Unknown extensions never admit anyone.
	anon := checkReq("GET", "app.example.com", "/", map[string]string{"accept": apiAccept})
	anon.Attributes.ContextExtensions = req.Attributes.ContextExtensions
	wantDenied(t, call(t, conn, anon), codes.Unauthenticated, 401)
}

func TestPanicBecomesDenial(t *testing.T) {
	// A Service without a checker panics inside Check; the caller must
	// still get a denial, and the server must keep serving.
	conn := serve(t, envoy.NewService(nil, envoy.ServiceOptions{}), envoy.ServerOptions{})
	for range 2 {
		resp := call(t, conn, checkReq("GET", "app.example.com", "/", nil))
		wantDenied(t, resp, codes.Unavailable, 500)
	}
}

func TestHealth(t *testing.T) {
	e := newEnv(t, 0)
	svc := envoy.NewService(e.checker, envoy.ServiceOptions{})
	conn := serve(t, svc, envoy.ServerOptions{})
	hc := healthpb.NewHealthClient(conn)
	want := func(st healthpb.HealthCheckResponse_ServingStatus) {
		t.Helper()
		for _, name := range []string{"", envoy.ServiceName} {
			resp, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{Service: name})
			if err != nil {
				t.Fatalf("health %q: %v", name, err)
			}
			if resp.GetStatus() != st {
				t.Errorf("health %q = %v, want %v", name, resp.GetStatus(), st)
			}
		}
	}
	want(healthpb.HealthCheckResponse_NOT_SERVING)
	svc.SetServing(true)
	want(healthpb.HealthCheckResponse_SERVING)
	svc.SetServing(false)
	want(healthpb.HealthCheckResponse_NOT_SERVING)
	svc.SetServing(true)
	want(healthpb.HealthCheckResponse_SERVING)

	if _, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{Service: "other"}); status.Code(err) != codes.NotFound {
		t.Errorf("unknown service: err = %v, want NotFound", err)
	}
}

func listServices(t *testing.T, conn *grpc.ClientConn) ([]string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	// On io.EOF the server has already ended the stream; Recv returns its status.
	resp, err := stream.Recv()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	return names, nil
}

func TestReflection(t *testing.T) {
	e := newEnv(t, 0)
	on := serve(t, envoy.NewService(e.checker, envoy.ServiceOptions{}), envoy.ServerOptions{Reflection: true})
	names, err := listServices(t, on)
	if err != nil {
		t.Fatalf("reflection on: %v", err)
	}
	for _, want := range []string{envoy.ServiceName, "grpc.health.v1.Health"} {
		if !slices.Contains(names, want) {
			t.Errorf("reflection lists %q, missing %q", names, want)
		}
	}
	off := serve(t, envoy.NewService(e.checker, envoy.ServiceOptions{}), envoy.ServerOptions{})
	if _, err := listServices(t, off); status.Code(err) != codes.Unimplemented {
		t.Errorf("reflection off: err = %v, want Unimplemented", err)
	}
}

func TestTLS(t *testing.T) {
	e := newEnv(t, 0)
	c := testpki.New(t, "gatehouse")
	cookie := e.login(t, "alice@example.com", true)
	req := checkReq("GET", "app.example.com", "/", map[string]string{"cookie": cookie})
	srvTLS := &tls.Config{Certificates: []tls.Certificate{c.Server}, MinVersion: tls.VersionTLS12}

	t.Run("server TLS", func(t *testing.T) {
		conn := serve(t, envoy.NewService(e.checker, envoy.ServiceOptions{}), envoy.ServerOptions{TLS: srvTLS},
			tlsDial(&tls.Config{RootCAs: c.Pool, ServerName: "localhost"}))
		if call(t, conn, req).GetOkResponse() == nil {
			t.Fatal("want allow over TLS")
		}
	})
	t.Run("plaintext client refused", func(t *testing.T) {
		conn := serve(t, envoy.NewService(e.checker, envoy.ServiceOptions{}), envoy.ServerOptions{TLS: srvTLS},
			grpc.WithTransportCredentials(insecure.NewCredentials()))
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if _, err := authv3.NewAuthorizationClient(conn).Check(ctx, req); err == nil {
			t.Fatal("plaintext call to a TLS server succeeded")
		}
	})

	mtls := &tls.Config{Certificates: []tls.Certificate{c.Server}, ClientCAs: c.Pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
	t.Run("mTLS with client certificate", func(t *testing.T) {
		conn := serve(t, envoy.NewService(e.checker, envoy.ServiceOptions{}), envoy.ServerOptions{TLS: mtls},
			tlsDial(&tls.Config{RootCAs: c.Pool, ServerName: "localhost", Certificates: []tls.Certificate{c.Client}}))
		if call(t, conn, req).GetOkResponse() == nil {
			t.Fatal("want allow over mTLS")
		}
	})
	t.Run("mTLS without client certificate refused", func(t *testing.T) {
		conn := serve(t, envoy.NewService(e.checker, envoy.ServiceOptions{}), envoy.ServerOptions{TLS: mtls},
			tlsDial(&tls.Config{RootCAs: c.Pool, ServerName: "localhost"}))
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		resp, err := authv3.NewAuthorizationClient(conn).Check(ctx, req)
		if err == nil {
			t.Fatalf("call without client certificate answered: %v", resp)
		}
		if status.Code(err) != codes.Unavailable {
			t.Errorf("err = %v, want a transport failure (Unavailable)", err)
		}
	})
	t.Run("mTLS with certificate from another CA refused", func(t *testing.T) {
		other := testpki.New(t, "stranger")
		conn := serve(t, envoy.NewService(e.checker, envoy.ServiceOptions{}), envoy.ServerOptions{TLS: mtls},
			tlsDial(&tls.Config{RootCAs: c.Pool, ServerName: "localhost", Certificates: []tls.Certificate{other.Client}}))
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if _, err := authv3.NewAuthorizationClient(conn).Check(ctx, req); err == nil {
			t.Fatal("call with a foreign client certificate succeeded")
		}
	})
}

func TestServerOptionsLimits(t *testing.T) {
	e := newEnv(t, 0)
	conn := serve(t, envoy.NewService(e.checker, envoy.ServiceOptions{}), envoy.ServerOptions{MaxRecvMsgSize: 1024})
	big := checkReq("GET", "app.example.com", "/", map[string]string{"x-big": strings.Repeat("a", 4096)})
	_, err := authv3.NewAuthorizationClient(conn).Check(context.Background(), big)
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("oversized request: err = %v, want ResourceExhausted", err)
	}
}
