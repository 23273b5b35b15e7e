package render_test

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/render"
)

// What browsers send when the user navigates to a page.
const (
	chromeAccept  = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
	firefoxAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	safariAccept  = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
)

func TestPrefersHTML(t *testing.T) {
	for _, c := range []struct {
		accept string
		want   bool
	}{
		{chromeAccept, true},
		{firefoxAccept, true},
		{safariAccept, true},
		{"text/html", true},
		{"TEXT/HTML", true},
		{"text/*", true},
		{"text/html, */*", true},
		{"text/html;q=0.5, application/json;q=0.4", true},
		{"application/json;q=0.5, text/*;q=0.9", true},
		{"*/*;q=0.1, text/html;q=0.2", true},
		{`text/html;charset="UTF-8"`, true},                  // the page's own type
		{`application/json;v="1,2";q=0.5, text/html`, true},  // a quoted comma is no list separator
		{"text/html;level=1, application/json;q=0.5", false}, // a range with parameters matches only those
		{"text/html ; q=0.9 , application/json ; q=0.8", true},
		// Equal quality: the range listed first wins.
		{"text/html, application/json", true},
		{"application/json, text/html", false},
		// JSON preferred, or HTML not acceptable at all.
		{"application/json, text/html;q=0.1", false},
		{"application/json;q=1, text/html;q=0.999", false},
		{"text/html;q=0", false},
		{"text/html;q=0.000, */*", false},
		{"text/*;q=0, application/json", false},
		{"text/html;q=0, text/*", false}, // the most specific range decides
		{"*/*;q=0", false},
		// No HTML named: curl, fetch(), Go, Python.
		{"", false},
		{"*/*", false},
		{"application/json", false},
		{"application/*", false},
		{"image/avif,image/webp,*/*;q=0.8", false},
		{"application/xhtml+xml", false},
		{"text/plain", false},
		// Malformed: never a browser, never a panic.
		{"text/html;q=abc", false},
		{"text/html;q=1.5", false},
		{"text/html;q=", false},
		{"text/html;;", false},
		{"text/", false},
		{"/html", false},
		{"*/html", false},
		{"text/html,", false},
		{",text/html", false},
		{`text/html;x="unterminated`, false},
		{"text/html\x00", false},
		{"   ", false},
	} {
		if got := render.PrefersHTML(c.accept); got != c.want {
			t.Errorf("PrefersHTML(%q) = %v, want %v", c.accept, got, c.want)
		}
	}
}

func TestIsScripted(t *testing.T) {
	for _, c := range []struct {
		mode, with string
		want       bool
	}{
		{"", "", false},
		{"navigate", "", false},
		{"Navigate", "", false},
		{"navigate, navigate", "", false},
		{"cors", "", true},
		{"no-cors", "", true},
		{"same-origin", "", true},
		{"websocket", "", true},
		{"navigate,cors", "", true}, // two values: one says script
		{"", "XMLHttpRequest", true},
		{"", "xmlhttprequest", true},
		{"navigate", "XMLHttpRequest", true},
		{"", "com.example.app", false}, // Android WebView sends the app's package name
	} {
		if got := render.IsScripted(c.mode, c.with); got != c.want {
			t.Errorf("IsScripted(%q, %q) = %v, want %v", c.mode, c.with, got, c.want)
		}
	}
}

// TestFetchAndXHRGet401WithLoginURL: a script is never redirected to the
// login page, even when it accepts HTML; it gets 401 with the login URL in
// LoginHeader, and JSON on a 403.
func TestFetchAndXHRGet401WithLoginURL(t *testing.T) {
	p := policy()
	eve := &authz.Identity{User: "eve", Email: "eve@evil.com", EmailVerified: true}
	for name, c := range map[string]struct {
		accept, mode, with string
		browser            bool
	}{
		"navigate":                {chromeAccept, "navigate", "", true},
		"no fetch metadata":       {chromeAccept, "", "", true},
		"fetch, cors":             {"*/*", "cors", "", false},
		"fetch asking for HTML":   {"text/html", "cors", "", false},
		"same-origin fetch":       {chromeAccept, "same-origin", "", false},
		"XHR":                     {"text/html, */*; q=0.01", "", "XMLHttpRequest", false},
		"JSON preferred":          {"application/json, text/html;q=0.1", "navigate", "", false},
		"HTML not acceptable":     {"text/html;q=0, */*", "navigate", "", false},
		"image load (no-cors)":    {"image/avif,image/webp,*/*;q=0.8", "no-cors", "", false},
		"websocket":               {"", "websocket", "", false},
		"API client, no metadata": {"application/json", "", "", false},
	} {
		t.Run(name, func(t *testing.T) {
			r := request("/x", c.accept)
			r.FetchMode, r.RequestedWith = c.mode, c.with
			if got := render.IsBrowser(r); got != c.browser {
				t.Fatalf("IsBrowser = %v, want %v", got, c.browser)
			}
			d := authz.Decide(p, r, authz.NoSession, nil)
			rep := render.For(p, r, &d)
			want := render.LoginURL(p, r)
			if c.browser {
				if rep.Status != 302 || header(rep.Headers, "Location") != want || header(rep.Headers, render.LoginHeader) != "" {
					t.Errorf("browser: %d %v, want 302 to %s", rep.Status, rep.Headers, want)
				}
			} else {
				if rep.Status != 401 || header(rep.Headers, "Location") != "" || header(rep.Headers, render.LoginHeader) != want ||
					header(rep.Headers, "WWW-Authenticate") != `Bearer realm="gatehouse"` || rep.Body != `{"error":"unauthenticated"}` {
					t.Errorf("script/API: %d %v %q, want 401 with %s %s", rep.Status, rep.Headers, rep.Body, render.LoginHeader, want)
				}
			}
			if rep.LoginURL != want {
				t.Errorf("LoginURL = %q, want %q", rep.LoginURL, want)
			}
			d = authz.Decide(p, r, authz.ValidSession, eve)
			rep = render.For(p, r, &d)
			if html := strings.HasPrefix(header(rep.Headers, "Content-Type"), "text/html"); rep.Status != 403 || html != c.browser {
				t.Errorf("403: %d %q, HTML wanted: %v", rep.Status, header(rep.Headers, "Content-Type"), c.browser)
			}
		})
	}
	if render.IsBrowser(nil) {
		t.Error("IsBrowser(nil) = true")
	}
}

// FuzzPrefersHTML: any Accept, Sec-Fetch-Mode and X-Requested-With is
// answered without a panic, and the answer agrees with its parts.
func FuzzPrefersHTML(f *testing.F) {
	for _, s := range []string{chromeAccept, "", "*/*", "text/html;q=0", "application/json, text/html;q=0.1",
		`text/html;a="b\"c,d";q=0.5`, "text/html;q=1.000", "text/html;q=0.", ";;;,,,", "\xff/\xfe"} {
		f.Add(s, "navigate", "")
		f.Add(s, "cors", "XMLHttpRequest")
	}
	f.Fuzz(func(t *testing.T, accept, mode, with string) {
		html := render.PrefersHTML(accept)
		scripted := render.IsScripted(mode, with)
		r := &authz.Request{Scheme: "https", Host: "app.example.com", Path: "/", Accept: accept, FetchMode: mode, RequestedWith: with}
		if got := render.IsBrowser(r); got != (html && !scripted) {
			t.Fatalf("IsBrowser = %v, PrefersHTML %v, IsScripted %v", got, html, scripted)
		}
		if html && !strings.Contains(strings.ToLower(accept), "text/") {
			t.Fatalf("PrefersHTML(%q) without any text/ range", accept)
		}
		// HTML refused up front is refused whatever follows.
		if render.PrefersHTML("text/html;q=0, text/*;q=0, " + accept) {
			t.Fatalf("PrefersHTML(refusals + %q) = true", accept)
		}
	})
}

// BenchmarkPrefersHTML: the negotiation runs on every denial.
func BenchmarkPrefersHTML(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if !render.PrefersHTML(chromeAccept) {
			b.Fatal("Chrome's Accept is a browser's")
		}
	}
}
