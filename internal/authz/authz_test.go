package authz

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"
)

func testPolicy() *Policy {
	return &Policy{
		LoginURL:     "https://auth.example.com/oauth2/start",
		EmailDomains: []string{"example.com"},
		Emails:       map[string]struct{}{"guest@partner.org": {}},
		Groups:       map[string]struct{}{"ops": {}},
		Skip: []Route{
			{PathPrefix: "/healthz"},
			{Methods: []string{"GET"}, PathRegexp: mustPattern(`^/public/`)},
			{Host: "status.example.com"},
		},
		Headers: DefaultHeaderNames(),
	}
}

func browserReq(path string) *Request {
	return &Request{Method: "GET", Scheme: "https", Host: "app.example.com", Path: path, Accept: "text/html,application/xhtml+xml", ClientIP: netip.MustParseAddr("10.0.0.1")}
}

func apiReq(path string) *Request {
	r := browserReq(path)
	r.Accept = "application/json"
	return r
}

func TestDecide(t *testing.T) {
	alice := &Identity{Subject: "1", User: "alice", Email: "alice@example.com", EmailVerified: true, PreferredUsername: "al", Groups: []string{"dev", "qa"}}
	cases := map[string]struct {
		req    *Request
		state  SessionState
		id     *Identity
		policy func(*Policy)
		want   Outcome
		reason Reason
	}{
		"store failure fails closed even for a skip route": {browserReq("/healthz"), StoreFailed, nil, nil, Unavailable, ReasonStoreUnavailable},
		"store failure with identity never allows":         {browserReq("/"), StoreFailed, alice, nil, Unavailable, ReasonStoreUnavailable},
		"skip route prefix":                                {browserReq("/healthz"), NoSession, nil, nil, Allow, ReasonSkipRoute},
		"skip route prefix on segment boundary only":       {browserReq("/healthzz"), NoSession, nil, nil, Unauthenticated, ReasonNoSession},
		"skip regexp with method":                          {browserReq("/public/x"), NoSession, nil, nil, Allow, ReasonSkipRoute},
		"skip regexp wrong method":                         {&Request{Method: "POST", Scheme: "https", Host: "a", Path: "/public/x", Accept: "text/html"}, NoSession, nil, nil, Unauthenticated, ReasonNoSession},
		"skip host mixed case and trailing dot":            {&Request{Method: "GET", Scheme: "https", Host: "Status.Example.COM.:443", Path: "/", Accept: "text/html"}, NoSession, nil, nil, Allow, ReasonSkipRoute},
		"skip never matches the query":                     {&Request{Method: "GET", Scheme: "https", Host: "a", Path: "/admin", RawQuery: "x=/public/", Accept: "text/html"}, NoSession, nil, nil, Unauthenticated, ReasonNoSession},
		"no session browser":                               {browserReq("/x"), NoSession, nil, nil, Unauthenticated, ReasonNoSession},
		"no session api client":                            {apiReq("/x"), NoSession, nil, nil, Unauthenticated, ReasonNoSession},
		"invalid session":                                  {browserReq("/x"), InvalidSession, nil, nil, Unauthenticated, ReasonInvalidSession},
		"allowed by domain":                                {browserReq("/"), ValidSession, alice, nil, Allow, ReasonAllowed},
		"domain is case-insensitive":                       {browserReq("/"), ValidSession, &Identity{Email: "bob@EXAMPLE.com", EmailVerified: true}, nil, Allow, ReasonAllowed},
		"allowed by email":                                 {browserReq("/"), ValidSession, &Identity{Email: "Guest@Partner.org", EmailVerified: true}, nil, Allow, ReasonAllowed},
		"allowed by group":                                 {browserReq("/"), ValidSession, &Identity{Email: "x@other.org", Groups: []string{"ops"}}, nil, Allow, ReasonAllowed},
		"other domain forbidden":                           {browserReq("/"), ValidSession, &Identity{Email: "eve@evil.com", EmailVerified: true}, nil, Forbidden, ReasonNotAllowed},
		"suffix confusion forbidden":                       {browserReq("/"), ValidSession, &Identity{Email: "eve@badexample.com", EmailVerified: true}, nil, Forbidden, ReasonNotAllowed},
		"subdomain is not the domain":                      {browserReq("/"), ValidSession, &Identity{Email: "eve@x.example.com", EmailVerified: true}, nil, Forbidden, ReasonNotAllowed},
		"two @ never match":                                {browserReq("/"), ValidSession, &Identity{Email: "eve@evil.com@example.com", EmailVerified: true}, nil, Forbidden, ReasonNotAllowed},
		"two @ never match the email list":                 {browserReq("/"), ValidSession, &Identity{Email: "guest@partner.org@x", EmailVerified: true}, nil, Forbidden, ReasonNotAllowed},
		"unverified email never matches":                   {browserReq("/"), ValidSession, &Identity{Email: "alice@example.com"}, nil, Forbidden, ReasonNotAllowed},
		"empty lists admit nobody": {browserReq("/"), ValidSession, alice, func(p *Policy) {
			p.EmailDomains, p.Emails, p.Groups = nil, nil, nil
		}, Forbidden, ReasonNotAllowed},
		"allow any authenticated": {browserReq("/"), ValidSession, &Identity{Email: "eve@evil.com"}, func(p *Policy) {
			p.EmailDomains, p.Emails, p.Groups, p.AllowAnyAuthenticated = nil, nil, nil, true
		}, Allow, ReasonAllowed},
		"valid state without identity is unauthenticated": {browserReq("/"), ValidSession, nil, nil, Unauthenticated, ReasonNoSession},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := testPolicy()
			if tc.policy != nil {
				tc.policy(p)
			}
			d := Decide(p, tc.req, tc.state, tc.id)
			if d.Outcome != tc.want || d.Reason != tc.reason {
				t.Fatalf("got %v/%s, want %v/%s", d.Outcome, d.Reason, tc.want, tc.reason)
			}
			if d.Outcome == Allow {
				// Every identity header is present on every allow.
				if len(d.UpstreamHeaders) != len(p.Headers.All()) {
					t.Fatalf("allow must set all identity headers, got %v", d.UpstreamHeaders)
				}
				for i, n := range p.Headers.All() {
					if d.UpstreamHeaders[i].Name != n {
						t.Errorf("header %d = %q, want %q", i, d.UpstreamHeaders[i].Name, n)
					}
				}
			} else if len(d.UpstreamHeaders) != 0 {
				t.Errorf("denial carries upstream headers: %v", d.UpstreamHeaders)
			}
		})
	}
}

func TestAllowHeaders(t *testing.T) {
	p := testPolicy()
	d := Decide(p, browserReq("/"), ValidSession, &Identity{User: "u1", Email: "a@example.com", EmailVerified: true, PreferredUsername: "ali", Groups: []string{"g1", "g2"}})
	want := []Header{{"X-Auth-Request-User", "u1"}, {"X-Auth-Request-Email", "a@example.com"}, {"X-Auth-Request-Groups", "g1,g2"}, {"X-Auth-Request-Preferred-Username", "ali"}}
	for i, h := range want {
		if d.UpstreamHeaders[i] != h {
			t.Errorf("header %d = %v, want %v", i, d.UpstreamHeaders[i], h)
		}
	}
	d = Decide(p, browserReq("/healthz"), NoSession, nil)
	for _, h := range d.UpstreamHeaders {
		if h.Value != "" {
			t.Errorf("skip route leaks identity %v", h)
		}
	}
}

func TestCanonicalHost(t *testing.T) {
	for in, want := range map[string]string{
		"App.Example.com":      "app.example.com",
		"app.example.com.":     "app.example.com",
		"app.example.com:8443": "app.example.com",
		"APP.example.com.:443": "app.example.com",
		"[::1]:80":             "::1",
		"[::1]":                "::1",
		"::1":                  "::1",
		"":                     "",
	} {
		if got := CanonicalHost(in); got != want {
			t.Errorf("CanonicalHost(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNormalizePath(t *testing.T) {
	for in, want := range map[string]string{
		"/":                "/",
		"/a/b":             "/a/b",
		"/a/b/":            "/a/b/",
		"/a//b":            "/a/b",
		"/a/./b":           "/a/b",
		"/public/../admin": "/admin",
		"/../../etc":       "/etc",
		"/a/%7Euser":       "/a/~user",
		"/.well-known/x":   "/.well-known/x",
		"/a/..":            "/",
		"/a/.b":            "/a/.b",
	} {
		got, ok := NormalizePath(in)
		if !ok || got != want {
			t.Errorf("NormalizePath(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, bad := range []string{"/public/%2e%2e/admin", "", "a/b", "/a%2fb", "/a%2Fb", "/a%5cb", "/a\\b", "/a%00b", "/a%0ab", "/a\tb", "/%zz", "/a%"} {
		if got, ok := NormalizePath(bad); ok {
			t.Errorf("NormalizePath(%q) = %q, want refusal", bad, got)
		}
	}
}

func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"/", "/a/../b", "/%2e%2e/", "//x", "/a%2fb", "/./.././"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		p, ok := NormalizePath(raw)
		if !ok {
			return
		}
		if !strings.HasPrefix(p, "/") || strings.Contains(p, "//") || strings.Contains(p, "/../") || strings.HasSuffix(p, "/..") {
			t.Fatalf("NormalizePath(%q) = %q is not normal", raw, p)
		}
		if again, ok := NormalizePath(p); !ok || again != p {
			// Decoding is applied once: a decoded path may contain '%'.
			if !strings.Contains(p, "%") {
				t.Fatalf("not idempotent: %q -> %q -> %q", raw, p, again)
			}
		}
	})
}

// TestLayering guards the architecture: the core imports no transport,
// store or provider code.
func TestLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := []string{"net/http", "google.golang.org/grpc", "github.com/envoyproxy/", "github.com/redis/", "github.com/coreos/go-oidc", "golang.org/x/oauth2", "github.com/gatehouse/gatehouse/internal/"}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "github.com/gatehouse/gatehouse/internal/authz" {
			continue
		}
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") || strings.HasSuffix(f, "/") && strings.HasPrefix(dep, f) {
				t.Errorf("internal/authz depends on %s", dep)
			}
		}
	}
}

func header(hs []Header, name string) string {
	for _, h := range hs {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

func BenchmarkDecideAllowed(b *testing.B) {
	p := testPolicy()
	r := browserReq("/dashboard")
	id := &Identity{User: "alice", Email: "alice@example.com", EmailVerified: true, Groups: []string{"dev"}}
	b.ReportAllocs()
	for b.Loop() {
		if d := Decide(p, r, ValidSession, id); d.Outcome != Allow {
			b.Fatal(d.Reason)
		}
	}
}
