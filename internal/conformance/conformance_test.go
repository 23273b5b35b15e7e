package conformance_test

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/check"
	"github.com/gatehouse/gatehouse/internal/envoy"
	"github.com/gatehouse/gatehouse/internal/forwardauth"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/cookie"
	"github.com/gatehouse/gatehouse/internal/session/memstore"
)

const (
	host          = "app.example.com"
	cookieName    = "_gatehouse"
	loginURL      = "https://auth.example.com/oauth2/start"
	browserAccept = "text/html,application/xhtml+xml,*/*;q=0.8"
	apiAccept     = "application/json"
	clientAddr    = "203.0.113.7"
)

// identityHeaders are the default identity header names, lower case.
var identityHeaders = []string{"x-auth-request-user", "x-auth-request-email", "x-auth-request-groups", "x-auth-request-preferred-username", "x-auth-request-access-token"}

// switchStore is the real MemoryStore whose loads can be made to fail.
type switchStore struct {
	*memstore.Store
	down atomic.Bool
}

var errDown = errors.New("store: connection refused")

func (s *switchStore) Load(ctx context.Context, id string) (*session.Session, error) {
	if s.down.Load() {
		return nil, errDown
	}
	return s.Store.Load(ctx, id)
}

func (s *switchStore) LoadIdentity(ctx context.Context, id string) (*session.Session, error) {
	if s.down.Load() {
		return nil, errDown
	}
	return s.Store.LoadIdentity(ctx, id)
}

func (s *switchStore) LoadWithTokens(ctx context.Context, id string) (*session.Session, error) {
	if s.down.Load() {
		return nil, errDown
	}
	return s.Store.LoadWithTokens(ctx, id)
}

var _ session.Reader = (*switchStore)(nil)

// scenario is one request and the verdict every adapter must reach, stated
// as Envoy and forward-auth express it (the canonical form).
type scenario struct {
	name   string
	method string // default GET
	target string // path and query as the client sent them
	accept string
	cookie string            // a key of fixture.cookies, or a literal Cookie header
	spoof  map[string]string // identity headers the client sends itself
	// spoofMulti are headers the client sends more than once.
	spoofMulti map[string][]string
	storeDown  bool
	want       verdict
}

// verdict is what the client and the upstream end up with.
type verdict struct {
	Status    int
	Reason    string
	Identity  map[string]string // identity headers the upstream sees; absent when empty
	Cookie    string            // the Cookie header the upstream sees, on allow
	SetCookie []string
	Login     string // login URL conveyed to the client (Location, or nginx's header)
	WWWAuth   string
	Body      string // compared between adapters, not against the table
	CType     string // ditto
}

var clearCookie = cookieName + "=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax"

func login(target string) string {
	return loginURL + "?rd=" + url.QueryEscape("https://"+host+target)
}

var alice = map[string]string{
	"x-auth-request-user":   "alice",
	"x-auth-request-email":  "alice@example.com",
	"x-auth-request-groups": "eng,ops",
}

var spoofed = map[string]string{
	"X-Auth-Request-User":               "admin",
	"X-Auth-Request-Email":              "ceo@example.com",
	"X-Auth-Request-Groups":             "admins",
	"X-Auth-Request-Preferred-Username": "root",
	"x-AUTH-request-access-TOKEN":       "stolen-token",
}

const bearer = `Bearer realm="gatehouse"`

func scenarios() []scenario {
	return []scenario{
		{name: "no session, browser", target: "/app", accept: browserAccept,
			want: verdict{Status: 302, Reason: "no_session", Login: login("/app")}},
		{name: "no session, API client", target: "/api/v1/tasks?page=2", accept: apiAccept,
			want: verdict{Status: 401, Reason: "no_session", Login: login("/api/v1/tasks?page=2"), WWWAuth: bearer}},
		{name: "no session, API POST", method: "POST", target: "/api/v1/tasks", accept: apiAccept,
			want: verdict{Status: 401, Reason: "no_session", Login: login("/api/v1/tasks"), WWWAuth: bearer}},
		{name: "garbage cookie, browser", target: "/app", accept: browserAccept, cookie: cookieName + "=not-a-sealed-value",
			want: verdict{Status: 302, Reason: "invalid_session", Login: login("/app"), SetCookie: []string{clearCookie}}},
		{name: "tampered cookie, API client", target: "/app", accept: apiAccept, cookie: "tampered",
			want: verdict{Status: 401, Reason: "invalid_session", Login: login("/app"), WWWAuth: bearer, SetCookie: []string{clearCookie}}},
		{name: "cookie of a revoked session", target: "/app", accept: browserAccept, cookie: "revoked",
			want: verdict{Status: 302, Reason: "invalid_session", Login: login("/app"), SetCookie: []string{clearCookie}}},
		{name: "valid allowed user", target: "/app?x=1", accept: browserAccept, cookie: "alice",
			want: verdict{Status: 200, Reason: "allowed", Identity: alice, Cookie: "theme=dark"}},
		{name: "valid allowed user sends spoofed identity", target: "/app", accept: apiAccept, cookie: "alice", spoof: spoofed,
			want: verdict{Status: 200, Reason: "allowed", Identity: alice, Cookie: "theme=dark"}},
		{name: "only gatehouse's cookies: the upstream gets none", target: "/app", accept: apiAccept, cookie: "alice-only",
			want: verdict{Status: 200, Reason: "allowed", Identity: alice}},
		{name: "skip route with a session: the upstream gets no session cookie", target: "/public/x", accept: apiAccept, cookie: "alice",
			want: verdict{Status: 200, Reason: "skip_route", Cookie: "theme=dark"}},
		{name: "identity header look-alike, signed in", target: "/app", accept: apiAccept, cookie: "alice",
			spoof: map[string]string{"X-Auth-Request_Groups": "admins"},
			want:  verdict{Status: 400, Reason: "spoofed_header"}},
		{name: "identity header look-alike on a skip route", target: "/public/x", accept: apiAccept,
			spoof: map[string]string{"X_Auth_Request_User": "admin"},
			want:  verdict{Status: 400, Reason: "spoofed_header"}},
		{name: "another product's identity header look-alike", target: "/public/x", accept: apiAccept,
			spoof: map[string]string{"X-Remote_User": "admin"},
			want:  verdict{Status: 400, Reason: "spoofed_header"}},
		{name: "fragment in the target", target: "/public#/../app", accept: apiAccept,
			want: verdict{Status: 400, Reason: "bad_request"}},
		{name: "fragment in the query", target: "/public?a=1#/../app", accept: apiAccept,
			want: verdict{Status: 400, Reason: "bad_request"}},
		{name: ";params in a dot segment", target: "/public/..;/app", accept: apiAccept,
			want: verdict{Status: 400, Reason: "bad_request"}},
		{name: "percent-encoded dot segment", target: "/public/%2e%2e/app", accept: apiAccept,
			want: verdict{Status: 400, Reason: "bad_request"}},
		{name: "double percent-encoding", target: "/public/%252e%252e/app", accept: apiAccept,
			want: verdict{Status: 400, Reason: "bad_request"}},
		{name: "lower-case method", method: "get", target: "/public/x", accept: apiAccept,
			want: verdict{Status: 400, Reason: "bad_request"}},
		{name: "a method-override header that names no method", target: "/public/x", accept: apiAccept,
			spoof: map[string]string{"X-HTTP-Method-Override": "DELETE, PUT"},
			want:  verdict{Status: 400, Reason: "bad_request"}},
		{name: "a method-override header repeated", target: "/public/x", accept: apiAccept,
			spoofMulti: map[string][]string{"X-HTTP-Method-Override": {"GET", "DELETE"}},
			want:       verdict{Status: 400, Reason: "bad_request"}},
		{name: "extension method", method: "M-SEARCH", target: "/app", accept: apiAccept,
			want: verdict{Status: 401, Reason: "no_session", Login: login("/app"), WWWAuth: bearer}},
		{name: "skip route in another letter case", target: "/PUBLIC/x", accept: apiAccept,
			want: verdict{Status: 401, Reason: "no_session", Login: login("/PUBLIC/x"), WWWAuth: bearer}},
		{name: "skip route with ;params", target: "/public;x/y", accept: apiAccept,
			want: verdict{Status: 401, Reason: "no_session", Login: login("/public;x/y"), WWWAuth: bearer}},
		{name: "skip route percent-encoded", target: "/%70ublic/x", accept: apiAccept,
			want: verdict{Status: 401, Reason: "no_session", Login: login("/%70ublic/x"), WWWAuth: bearer}},
		{name: "valid user, wrong domain", target: "/app", accept: browserAccept, cookie: "mallory",
			want: verdict{Status: 403, Reason: "not_allowed"}},
		{name: "unverified email", target: "/app", accept: apiAccept, cookie: "unverified",
			want: verdict{Status: 403, Reason: "not_allowed"}},
		{name: "email with two @", target: "/app", accept: apiAccept, cookie: "twoat",
			want: verdict{Status: 403, Reason: "not_allowed"}},
		{name: "skip route", target: "/public/logo.png", accept: browserAccept,
			want: verdict{Status: 200, Reason: "skip_route"}},
		{name: "skip route with spoofed identity", target: "/public/logo.png", accept: apiAccept, spoof: spoofed,
			want: verdict{Status: 200, Reason: "skip_route"}},
		{name: "skip route with a protected path in the query", target: "/public?x=/admin", accept: apiAccept,
			want: verdict{Status: 200, Reason: "skip_route"}},
		{name: "protected path with a skip route in the query", target: "/admin?x=/public", accept: browserAccept,
			want: verdict{Status: 302, Reason: "no_session", Login: login("/admin?x=/public")}},
		{name: "dot segments out of a skip route", target: "/public/../admin", accept: apiAccept,
			want: verdict{Status: 401, Reason: "no_session", Login: login("/public/../admin"), WWWAuth: bearer}},
		{name: "rule naming providers, session from another provider", target: "/corp/x", accept: browserAccept, cookie: "alice",
			want: verdict{Status: 403, Reason: "provider_not_accepted"}},
		{name: "rule naming providers, session from that provider", target: "/corp/x", accept: apiAccept, cookie: "dave-corp",
			want: verdict{Status: 200, Reason: "allowed", Identity: map[string]string{"x-auth-request-user": "dave", "x-auth-request-email": "dave@example.com"}, Cookie: "theme=dark"}},
		{name: "identity with CR LF: refused, never spelt one way or another in a header", target: "/app", accept: apiAccept, cookie: "crlf",
			want: verdict{Status: 403, Reason: "invalid_identity"}},
		{name: "a group with DEL: refused", target: "/app", accept: apiAccept, cookie: "ctl-group",
			want: verdict{Status: 403, Reason: "invalid_identity"}},
		{name: "store failure, browser", target: "/app", accept: browserAccept, cookie: "alice", storeDown: true,
			want: verdict{Status: 503, Reason: "store_unavailable"}},
		{name: "store failure, API client", target: "/app", accept: apiAccept, cookie: "alice", storeDown: true, spoof: spoofed,
			want: verdict{Status: 503, Reason: "store_unavailable"}},
	}
}

// fixture is one Checker over a real MemoryStore and codec, with sessions.
type fixture struct {
	store   *switchStore
	checker *check.Checker
	cookies map[string]string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	key := make([]byte, cookie.KeySize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	codec, err := cookie.NewCodec([][]byte{key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := &switchStore{Store: memstore.New(memstore.Options{})}
	t.Cleanup(func() { _ = st.Close() })
	policy := &authz.Policy{
		LoginURL:     loginURL,
		Skip:         []authz.Route{{PathPrefix: "/public"}},
		EmailDomains: []string{"example.com"},
		Headers:      authz.DefaultHeaderNames(),
		// Sessions without a provider (alice's) come from "oidc".
		Rules:           []authz.Rule{{Name: "corp", Paths: []string{"/corp"}, Action: authz.ActionAuthenticate, Providers: []string{"corp"}}},
		DefaultProvider: "oidc",
	}
	// The access-token header is configured but the sessions hold no
	// token: every adapter must still remove a client-sent value.
	policy.Headers.AccessToken = "X-Auth-Request-Access-Token"
	f := &fixture{
		store:   st,
		checker: check.New(st, codec, cookie.Settings{Name: cookieName, Secure: true}, policy, check.Options{Timeout: 100 * time.Millisecond}),
		cookies: map[string]string{},
	}
	var provider string // of the next session add saves
	add := func(key, user, email string, verified bool, groups ...string) string {
		id, err := session.NewID()
		if err != nil {
			t.Fatal(err)
		}
		exp := time.Now().Add(time.Hour)
		s := &session.Session{ID: id, Issuer: "https://idp.example.com", Subject: "sub-" + user, User: user,
			Email: email, EmailVerified: verified, Groups: groups, CreatedAt: time.Now(), ExpiresAt: exp, Provider: provider}
		if err := st.Save(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		v, err := codec.SealID(cookieName, id, exp)
		if err != nil {
			t.Fatal(err)
		}
		f.cookies[key] = "theme=dark; " + cookieName + "=" + v
		return id
	}
	add("alice", "alice", "alice@example.com", true, "eng", "ops")
	f.cookies["alice-only"] = strings.TrimPrefix(f.cookies["alice"], "theme=dark; ") + "; " + cookieName + "_login=x"
	add("mallory", "mallory", "mallory@evil.com", true)
	add("unverified", "bob", "bob@example.com", false)
	add("twoat", "eve", "alice@example.com@evil.com", true)
	add("crlf", "eve\r\nX-Injected: 1", "eve@example.com", true, "eng")
	add("ctl-group", "frank", "frank@example.com", true, "eng\x7f")
	provider = "corp"
	add("dave-corp", "dave", "dave@example.com", true)
	provider = ""
	revoked := add("revoked", "carol", "carol@example.com", true)
	if err := st.Delete(context.Background(), revoked); err != nil {
		t.Fatal(err)
	}
	good := f.cookies["alice"]
	i := len(good) - 20
	flip := byte('A')
	if good[i] == 'A' {
		flip = 'B'
	}
	f.cookies["tampered"] = good[:i] + string(flip) + good[i+1:]
	return f
}

func (f *fixture) cookieHeader(sc scenario) string {
	if c, ok := f.cookies[sc.cookie]; ok {
		return c
	}
	return sc.cookie
}

// driver sends a scenario through one adapter and reports the verdict.
type driver struct {
	name string
	// expect turns the canonical verdict into what this adapter must say.
	expect func(verdict) verdict
	run    func(t *testing.T, sc scenario, cookie string) verdict
}

func canonical(v verdict) verdict {
	if v.Status != 302 && (v.Status != 401 || v.WWWAuth != bearer) {
		// Location is sent only with the redirect, and the login header
		// only with a 401 that is not about a bearer token.
		v.Login = ""
	}
	return v
}

// nginxExpect is forwardauth's documented auth_request mapping: nginx only
// understands 2xx/401/403, so the redirect becomes 401 with the login URL
// in X-Auth-Request-Redirect (on every unauthenticated reply), and a store
// outage becomes 403 with X-Gatehouse-Reason store_unavailable, which the
// shipped nginx config turns into 503.
func nginxExpect(v verdict) verdict {
	switch v.Status {
	case 302:
		v.Status = 401
	case 503, 400:
		v.Status = 403
	}
	return v
}

func envoyDriver(t *testing.T, f *fixture) driver {
	svc := envoy.NewService(f.checker, envoy.ServiceOptions{})
	srv, _ := envoy.NewServer(svc, envoy.ServerOptions{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	client := authv3.NewAuthorizationClient(conn)

	return driver{name: "envoy-ext_authz", expect: canonical, run: func(t *testing.T, sc scenario, cookie string) verdict {
		hdr := map[string]string{"accept": sc.accept, "user-agent": "conformance"}
		if cookie != "" {
			hdr["cookie"] = cookie
		}
		for k, v := range sc.spoof {
			hdr[strings.ToLower(k)] = v
		}
		for k, vs := range sc.spoofMulti {
			hdr[strings.ToLower(k)] = strings.Join(vs, ",") // as Envoy joins repeated headers
		}
		req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
				SocketAddress: &corev3.SocketAddress{Address: clientAddr, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 40000}},
			}}},
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
				Method: sc.method, Host: host, Path: sc.target, Scheme: "https", Protocol: "HTTP/2", Headers: hdr,
			}},
		}}
		ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
		defer cancel()
		resp, err := client.Check(ctx, req)
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		if err := resp.ValidateAll(); err != nil {
			t.Fatalf("invalid CheckResponse: %v", err)
		}
		v := verdict{Reason: resp.GetDynamicMetadata().GetFields()[envoy.MetadataReason].GetStringValue()}
		if ok := resp.GetOkResponse(); ok != nil {
			if codes.Code(resp.GetStatus().GetCode()) != codes.OK {
				t.Fatalf("ok_response with status %v", resp.GetStatus())
			}
			v.Status = 200
			v.Identity, v.Cookie = upstreamIdentity(t, hdr, ok)
			for _, h := range ok.GetResponseHeadersToAdd() {
				if h.GetHeader().GetKey() == "set-cookie" {
					v.SetCookie = append(v.SetCookie, h.GetHeader().GetValue())
				}
			}
			return v
		}
		d := resp.GetDeniedResponse()
		if d == nil || codes.Code(resp.GetStatus().GetCode()) == codes.OK {
			t.Fatalf("neither allowed nor denied: %v", resp)
		}
		v.Status = int(d.GetStatus().GetCode())
		v.Body = d.GetBody()
		for _, h := range d.GetHeaders() {
			switch val := h.GetHeader().GetValue(); h.GetHeader().GetKey() {
			case "set-cookie":
				v.SetCookie = append(v.SetCookie, val)
			case "location", "x-auth-request-redirect":
				v.Login = val
			case "www-authenticate":
				v.WWWAuth = val
			case "content-type":
				v.CType = val
			}
		}
		return v
	}}
}

// upstreamIdentity applies an OkHttpResponse to the client's headers as
// Envoy does and returns the identity headers the upstream receives.
func upstreamIdentity(t *testing.T, client map[string]string, ok *authv3.OkHttpResponse) (map[string]string, string) {
	t.Helper()
	up := map[string]string{}
	for k, v := range client {
		up[k] = v
	}
	for _, k := range ok.GetHeadersToRemove() {
		delete(up, k)
	}
	for _, h := range ok.GetHeaders() {
		if h.GetAppendAction() != corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD {
			t.Fatalf("header %s set with %v: a client value could survive", h.GetHeader().GetKey(), h.GetAppendAction())
		}
		up[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
	}
	return pickIdentity(func(name string) (string, bool) { v, ok := up[name]; return v, ok }), up["cookie"]
}

func pickIdentity(get func(string) (string, bool)) map[string]string {
	var id map[string]string
	for _, name := range identityHeaders {
		if v, ok := get(name); ok && v != "" {
			if id == nil {
				id = map[string]string{}
			}
			id[name] = v
		}
	}
	return id
}

// httpDriver drives forwardauth's endpoint at path over a real loopback
// HTTP connection, as the proxy's sub-request would.
func httpDriver(t *testing.T, name string, srv *httptest.Server, path string, expect func(verdict) verdict, setTarget func(h http.Header, sc scenario)) driver {
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	client.Timeout = 5 * time.Second
	return driver{name: name, expect: expect, run: func(t *testing.T, sc scenario, cookie string) verdict {
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		// The proxy passes the client's headers on, spoofed ones included.
		for k, v := range sc.spoof {
			req.Header.Set(k, v)
		}
		for k, vs := range sc.spoofMulti {
			for _, v := range vs {
				req.Header.Add(k, v)
			}
		}
		req.Header.Set("Accept", sc.accept)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		req.Header.Set("X-Forwarded-For", clientAddr)
		setTarget(req.Header, sc)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		v := verdict{
			Status:    resp.StatusCode,
			Reason:    resp.Header.Get(forwardauth.ReasonHeader),
			SetCookie: resp.Header.Values("Set-Cookie"),
			WWWAuth:   resp.Header.Get("WWW-Authenticate"),
		}
		if resp.StatusCode/100 == 2 {
			// Every identity header must be in the reply, empty when
			// unknown, so the proxy overwrites what the client sent.
			for _, name := range identityHeaders {
				if _, ok := resp.Header[http.CanonicalHeaderKey(name)]; !ok {
					t.Errorf("allow reply lacks %s: a spoofed value would reach the upstream", name)
				}
			}
			v.Identity = pickIdentity(func(n string) (string, bool) {
				vals, ok := resp.Header[http.CanonicalHeaderKey(n)]
				if !ok || len(vals) == 0 {
					return "", false
				}
				return vals[0], true
			})
			// The shipped configs replace the client's Cookie header with
			// the reply's (empty: removed); with none, it must not matter.
			cookies, ok := resp.Header["Cookie"]
			switch {
			case ok && len(cookies) == 1:
				v.Cookie = cookies[0]
			case ok:
				t.Errorf("allow reply has %d Cookie headers", len(cookies))
			case cookie != "":
				t.Errorf("allow reply lacks the Cookie header: gatehouse's cookie would reach the upstream")
			}
			return v
		}
		v.Body, v.CType = string(body), resp.Header.Get("Content-Type")
		if v.Login = resp.Header.Get("Location"); v.Login == "" {
			v.Login = resp.Header.Get(forwardauth.LoginHeader)
		}
		return v
	}}
}

func drivers(t *testing.T, f *fixture) []driver {
	h := forwardauth.NewHandler(f.checker, forwardauth.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	method := func(sc scenario) string {
		if sc.method == "" {
			return http.MethodGet
		}
		return sc.method
	}
	return []driver{
		envoyDriver(t, f),
		httpDriver(t, "forward-auth", srv, forwardauth.ForwardAuthPath, canonical, func(h http.Header, sc scenario) {
			h.Set("X-Forwarded-Method", method(sc))
			h.Set("X-Forwarded-Proto", "https")
			h.Set("X-Forwarded-Host", host)
			h.Set("X-Forwarded-Uri", sc.target)
		}),
		httpDriver(t, "auth-request", srv, forwardauth.AuthRequestPath, nginxExpect, func(h http.Header, sc scenario) {
			h.Set("X-Original-Method", method(sc))
			h.Set("X-Original-URL", "https://"+host+sc.target)
		}),
	}
}

func TestAdaptersAgree(t *testing.T) {
	f := newFixture(t)
	ds := drivers(t, f)
	for _, sc := range scenarios() {
		if sc.method == "" {
			sc.method = http.MethodGet
		}
		t.Run(sc.name, func(t *testing.T) {
			f.store.down.Store(sc.storeDown)
			defer f.store.down.Store(false)
			got := map[string]verdict{}
			for _, d := range ds {
				v := d.run(t, sc, f.cookieHeader(sc))
				got[d.name] = v
				want := d.expect(sc.want)
				cmp := v
				cmp.Body, cmp.CType = "", ""
				if !reflect.DeepEqual(cmp, want) {
					t.Errorf("%s:\n got %+v\nwant %+v", d.name, cmp, want)
				}
			}
			// What only the table cannot state: the same body and
			// content type from every adapter.
			ref := got[ds[0].name]
			for _, d := range ds[1:] {
				if g := got[d.name]; g.Body != ref.Body || g.CType != ref.CType {
					t.Errorf("%s body/content-type (%q, %q) differ from %s (%q, %q)", d.name, g.Body, g.CType, ds[0].name, ref.Body, ref.CType)
				}
			}
		})
	}
}

// TestTableCoversEveryOutcome guards the table itself.
func TestTableCoversEveryOutcome(t *testing.T) {
	seen := map[int]bool{}
	for _, sc := range scenarios() {
		seen[sc.want.Status] = true
	}
	for _, s := range []int{200, 302, 400, 401, 403, 503} {
		if !seen[s] {
			t.Errorf("no scenario ends in %d", s)
		}
	}
}
