package render_test

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/pages"
	"github.com/gatehouse/gatehouse/internal/render"
)

// TestBrowserPages: browsers get the designed pages, with the pages'
// security headers; the forbidden page names the account, escaped, and
// offers a sign-out that returns to the same URL.
func TestBrowserPages(t *testing.T) {
	pg, err := pages.New(pages.Options{ProductName: "Acme SSO"})
	if err != nil {
		t.Fatal(err)
	}
	rr := render.New(pg)
	p := policy()
	mallory := &authz.Identity{User: "mallory", Email: `<script>alert(1)</script>`, EmailVerified: true}
	alice := &authz.Identity{User: "alice", Email: "alice@example.com", EmailVerified: true}
	for name, c := range map[string]struct {
		path    string
		state   authz.SessionState
		id      *authz.Identity
		status  int
		want    []string
		notWant []string
	}{
		"not admitted": {"/x?y=1", authz.ValidSession, mallory, 403, []string{
			"Access denied", "Acme SSO",
			`You are signed in as <span class="account">&lt;script&gt;alert(1)&lt;/script&gt;</span>`,
			// sign out, then back to https://app.example.com/x?y=1
			`href="https://auth.example.com/oauth2/sign_out?rd=https%3A%2F%2Fapp.example.com%2Fx%3Fy%3D1">Use another account`,
		}, []string{"<script>"}},
		"deny rule":  {"/internal", authz.ValidSession, alice, 403, []string{"cannot be reached through Acme SSO"}, []string{"Use another account", "alice"}},
		"store down": {"/x", authz.StoreFailed, nil, 503, []string{"the session store is not answering", `href="https://app.example.com/x">Try again`, "<code>store_unavailable</code>"}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			r := request(c.path, browserAccept)
			d := authz.Decide(p, r, c.state, c.id)
			rep := rr.For(p, r, &d)
			if rep.Status != c.status {
				t.Fatalf("status %d, want %d", rep.Status, c.status)
			}
			for _, w := range c.want {
				if !strings.Contains(rep.Body, w) {
					t.Errorf("missing %q in\n%s", w, rep.Body)
				}
			}
			for _, w := range c.notWant {
				if strings.Contains(rep.Body, w) {
					t.Errorf("unexpected %q", w)
				}
			}
			for k, v := range map[string]string{"Content-Type": pages.ContentType, "Content-Security-Policy": pages.CSP, "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"} {
				if got := header(rep.Headers, k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if c.status == 503 && header(rep.Headers, "Retry-After") == "" {
				t.Error("503 page without Retry-After")
			}
			// An API client asking the same gets JSON, never the page.
			ra := request(c.path, apiAccept)
			da := authz.Decide(p, ra, c.state, c.id)
			if api := rr.For(p, ra, &da); header(api.Headers, "Content-Type") != "application/json" || strings.Contains(api.Body, "<") {
				t.Errorf("API client got %q %s", header(api.Headers, "Content-Type"), api.Body)
			}
		})
	}

	// The package-level For uses the built-in pages.
	r := request("/", browserAccept)
	d := authz.Decide(p, r, authz.ValidSession, mallory)
	if b := render.For(p, r, &d).Body; !strings.Contains(b, "Protected by gatehouse") {
		t.Errorf("built-in pages not used: %s", b)
	}
	// A host-relative login URL gives a host-relative sign-out on the request's origin.
	p.LoginURL = "/oauth2/start"
	if b := render.For(p, r, &d).Body; !strings.Contains(b, `href="https://app.example.com/oauth2/sign_out?rd=https%3A%2F%2Fapp.example.com%2F"`) {
		t.Errorf("relative login URL: %s", b)
	}
}

// TestForbiddenNamesUserWithoutEmail: without an email the page names the
// user.
func TestForbiddenNamesUserWithoutEmail(t *testing.T) {
	p := policy()
	p.EmailDomains = nil
	p.Emails = map[string]struct{}{"someone@example.com": {}}
	r := request("/", browserAccept)
	d := authz.Decide(p, r, authz.ValidSession, &authz.Identity{User: "u-42"})
	if b := render.For(p, r, &d).Body; !strings.Contains(b, `<span class="account">u-42</span>`) {
		t.Errorf("user not named: %s", b)
	}
}
