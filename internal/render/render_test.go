package render_test

import (
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/render"
)

const (
	browserAccept = "text/html,application/xhtml+xml"
	apiAccept     = "application/json"
)

func policy() *authz.Policy {
	return &authz.Policy{
		LoginURL:     "https://auth.example.com/oauth2/start",
		EmailDomains: []string{"example.com"},
		Skip:         []authz.Route{{PathPrefix: "/healthz"}},
		Rules:        []authz.Rule{{Name: "internal", Paths: []string{"/internal"}, Action: authz.ActionDeny}},
		Headers:      authz.DefaultHeaderNames(),
	}
}

func request(path, accept string) *authz.Request {
	return &authz.Request{Method: "GET", Scheme: "https", Host: "app.example.com", Path: path, Accept: accept, ClientIP: netip.MustParseAddr("10.0.0.1")}
}

func header(hs []authz.Header, name string) string {
	for _, h := range hs {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// TestStatusForEveryOutcome drives real decisions through the renderer:
// the fixed mapping of outcomes to replies, for browsers and API clients.
func TestStatusForEveryOutcome(t *testing.T) {
	alice := &authz.Identity{User: "alice", Email: "alice@example.com", EmailVerified: true}
	eve := &authz.Identity{User: "eve", Email: "eve@evil.com", EmailVerified: true}
	for name, c := range map[string]struct {
		path, accept string
		state        authz.SessionState
		id           *authz.Identity
		status       int
		ctype        string
	}{
		"allowed":                   {"/", browserAccept, authz.ValidSession, alice, 200, ""},
		"skip route":                {"/healthz", apiAccept, authz.NoSession, nil, 200, ""},
		"store down, browser":       {"/", browserAccept, authz.StoreFailed, nil, 503, "text/html; charset=utf-8"},
		"store down, API":           {"/", apiAccept, authz.StoreFailed, alice, 503, "application/json"},
		"no session, browser":       {"/x", browserAccept, authz.NoSession, nil, 302, ""},
		"no session, API":           {"/x", apiAccept, authz.NoSession, nil, 401, "application/json"},
		"invalid session, browser":  {"/x", browserAccept, authz.InvalidSession, nil, 302, ""},
		"bad bearer token, browser": {"/x", browserAccept, authz.InvalidToken, nil, 401, "application/json"},
		"not admitted, browser":     {"/", browserAccept, authz.ValidSession, eve, 403, "text/html; charset=utf-8"},
		"not admitted, API":         {"/", apiAccept, authz.ValidSession, eve, 403, "application/json"},
		"deny rule, browser":        {"/internal", browserAccept, authz.ValidSession, alice, 403, "text/html; charset=utf-8"},
	} {
		t.Run(name, func(t *testing.T) {
			p, r := policy(), request(c.path, c.accept)
			d := authz.Decide(p, r, c.state, c.id)
			rep := render.For(p, r, &d)
			if rep.Status != c.status || header(rep.Headers, "Content-Type") != c.ctype {
				t.Errorf("%v/%s: %d %q, want %d %q", d.Outcome, d.Reason, rep.Status, header(rep.Headers, "Content-Type"), c.status, c.ctype)
			}
			if (rep.Status == 302) != (header(rep.Headers, "Location") != "") {
				t.Errorf("Location %q with status %d", header(rep.Headers, "Location"), rep.Status)
			}
			if rep.Status == 401 && !strings.HasPrefix(header(rep.Headers, "WWW-Authenticate"), "Bearer realm=") {
				t.Errorf("401 without WWW-Authenticate: %v", rep.Headers)
			}
			if rep.Status == 503 && header(rep.Headers, "Retry-After") == "" {
				t.Errorf("503 without Retry-After")
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	for reason, status := range map[authz.Reason]int{
		authz.ReasonBadRequest:        400,
		authz.ReasonSpoofedHeader:     400,
		authz.ReasonUntrustedSource:   403,
		authz.ReasonIssuerUnavailable: 503,
	} {
		d := authz.Reject(reason)
		if reason == authz.ReasonIssuerUnavailable {
			d.Outcome = authz.Unavailable
		}
		rep := render.For(nil, nil, &d)
		if rep.Status != status || header(rep.Headers, "Content-Type") != "application/json" || !strings.Contains(rep.Body, "error") {
			t.Errorf("%s: %d %v %q, want %d JSON", reason, rep.Status, rep.Headers, rep.Body, status)
		}
	}
	d := authz.Decision{Outcome: authz.Unavailable, Reason: authz.ReasonAssertionFailed}
	if rep := render.For(nil, nil, &d); rep.Status != 500 || rep.Body != `{"error":"assertion_failed"}` {
		t.Errorf("assertion failure: %d %q", rep.Status, rep.Body)
	}
	if d := authz.Decide(policy(), request("/", browserAccept), authz.InvalidToken, nil); render.For(policy(), request("/", browserAccept), &d).Body != `{"error":"invalid_token"}` {
		t.Error("a bad bearer token is never redirected")
	}
}

func TestLoginRedirectKeepsOriginalURL(t *testing.T) {
	p := policy()
	r := request("/a/b", browserAccept)
	r.RawPath = "/a/./b"
	r.RawQuery = "q=1&x=%2F"
	d := authz.Decide(p, r, authz.NoSession, nil)
	rep := render.For(p, r, &d)
	loc := header(rep.Headers, "Location")
	u, err := url.Parse(loc)
	if err != nil || u.Host != "auth.example.com" || u.Path != "/oauth2/start" {
		t.Fatalf("Location = %q", loc)
	}
	if rd := u.Query().Get("rd"); rd != "https://app.example.com/a/./b?q=1&x=%2F" {
		t.Errorf("rd = %q", rd)
	}
	if rep.LoginURL != loc {
		t.Errorf("LoginURL %q != Location %q", rep.LoginURL, loc)
	}
	api := render.For(p, request("/", apiAccept), &d)
	if header(api.Headers, "Location") != "" || api.LoginURL == "" {
		t.Errorf("API client: %v, login %q", api.Headers, api.LoginURL)
	}
}

// TestRelativeLoginURLUsesRequestOrigin: without a public URL the login
// endpoint lives on the protected host itself; the redirect must name that
// host, never be relative (Traefik would resolve it against gatehouse).
func TestRelativeLoginURLUsesRequestOrigin(t *testing.T) {
	p := policy()
	p.LoginURL = "/oauth2/start"
	if got := render.LoginURL(p, request("/x", browserAccept)); !strings.HasPrefix(got, "https://app.example.com/oauth2/start?rd=") {
		t.Errorf("login URL = %q", got)
	}
}

func TestForbiddenBody(t *testing.T) {
	p := policy()
	eve := &authz.Identity{Email: "eve@evil.com", EmailVerified: true}
	r := request("/", browserAccept)
	d := authz.Decide(p, r, authz.ValidSession, eve)
	if rep := render.For(p, r, &d); !strings.Contains(rep.Body, "<html") {
		t.Errorf("browser 403 should be HTML: %q", rep.Body)
	}
	r = request("/", apiAccept)
	if rep := render.For(p, r, &d); rep.Body != `{"error":"forbidden"}` {
		t.Errorf("API 403 body = %q", rep.Body)
	}
}
