package pages

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const hostile = `<script>alert("x")</script>`

func newPages(t *testing.T, o Options) *Pages {
	t.Helper()
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// poisoned returns d with every string field set to hostile, URLs
// included.
func poisoned(d any) any {
	v := reflect.New(reflect.TypeOf(d)).Elem()
	v.Set(reflect.ValueOf(d))
	var walk func(reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.String:
			v.SetString(hostile)
		case reflect.Struct:
			for i := range v.NumField() {
				walk(v.Field(i))
			}
		case reflect.Slice:
			for i := range v.Len() {
				walk(v.Index(i))
			}
		}
	}
	walk(v)
	return v.Interface()
}

// TestEveryPageRendersEscaped renders every variant of every page with
// each of its strings set to a script tag: the output is a whole,
// landmarked page, and the tag only ever appears escaped.
func TestEveryPageRendersEscaped(t *testing.T) {
	p := newPages(t, Options{ProductName: hostile, Links: []Link{{Text: hostile, URL: "javascript:alert(1)"}}})
	seen := map[Name]bool{}
	for _, s := range samples() {
		seen[s.name] = true
		t.Run(string(s.name)+"/"+s.variant, func(t *testing.T) {
			out := string(p.render(s.name, s.status, poisoned(s.data)))
			if strings.Contains(out, "<script") {
				t.Errorf("unescaped script tag in\n%s", out)
			}
			if !strings.Contains(out, "&lt;script&gt;") {
				t.Errorf("no escaped script tag in\n%s", out)
			}
			if strings.Contains(out, `href="javascript:`) {
				t.Errorf("javascript: URL kept in\n%s", out)
			}
			for _, want := range []string{`<html lang="en">`, "<title>", "<main>", "<h1>", `<header class="brand">`, "<footer>", `name="viewport"`, "prefers-color-scheme: dark"} {
				if !strings.Contains(out, want) {
					t.Errorf("missing %q", want)
				}
			}
			for _, bad := range []string{"<link", "<script", `src="http`, "url(", "@import"} {
				if strings.Contains(out, bad) {
					t.Errorf("external asset or script %q in page", bad)
				}
			}
		})
	}
	for _, n := range Names() {
		if n != Layout && !seen[n] {
			t.Errorf("page %s has no sample data", n)
		}
	}
}

func TestPagesSayWhatTheyShould(t *testing.T) {
	p := newPages(t, Options{})
	for name, c := range map[string]struct {
		out     []byte
		want    []string
		notWant []string
	}{
		"forbidden names the account": {
			p.Forbidden(ForbiddenData{Account: "eve@evil.test", SwitchURL: "/oauth2/sign_out?rd=%2Foauth2%2Fsign_in"}),
			[]string{"Access denied", `<span class="account">eve@evil.test</span>`, `href="/oauth2/sign_out?rd=%2Foauth2%2Fsign_in">Use another account`},
			nil,
		},
		"deny rule offers no account switch": {
			p.Forbidden(ForbiddenData{ByRule: true, SwitchURL: "/x"}),
			[]string{"cannot be reached through gatehouse, whoever is signed in"},
			[]string{"Use another account"},
		},
		"signed out, provider keeps its session": {
			p.SignedOut(SignedOutData{SignInURL: "/oauth2/start?rd=%2Fa", ProviderKeepsSession: true, ProviderName: "accounts.google.com"}),
			[]string{"You are signed out", "accounts.google.com may still have you signed in", `href="/oauth2/start?rd=%2Fa">Sign in again`},
			nil,
		},
		"signed out, provider session ended": {
			p.SignedOut(SignedOutData{SignInURL: "/oauth2/start", ProviderName: "id.example.com"}),
			[]string{"You are signed out", "Sign in again"},
			[]string{"may still have you signed in"},
		},
		"sign-in lists every provider": {
			p.SignIn(SignInData{Providers: []Provider{{Name: "Acme ID", URL: "/oauth2/start?rd=%2F"}, {Name: "Partner ID", URL: "/oauth2/start?p=2"}}}),
			[]string{`href="/oauth2/start?rd=%2F">Continue with Acme ID`, `href="/oauth2/start?p=2">Continue with Partner ID`},
			nil,
		},
		"sign-in failed: words, then the code small": {
			p.Error(400, ErrorData{Message: "This sign-in was not started in this browser.", Reason: "state_mismatch", RestartURL: "/"}),
			[]string{"Sign-in failed", "<p>This sign-in was not started in this browser.</p>", `<p class="code">Reason: <code>state_mismatch</code> · 400</p>`},
			nil,
		},
		"unavailable": {
			p.Unavailable(UnavailableData{What: "the session store", Reason: "store_unavailable", RetryURL: "https://app.example.com/x?y=1"}),
			[]string{"the session store is not answering", `href="https://app.example.com/x?y=1">Try again`, "<code>store_unavailable</code> · 503"},
			nil,
		},
		"upstream": {
			p.Upstream(502, UpstreamData{App: "ClearML", Reason: "upstream_unreachable", RetryURL: "/"}),
			[]string{"ClearML did not answer gatehouse", "<code>upstream_unreachable</code> · 502"},
			nil,
		},
		"sign-out confirmation posts back": {
			p.SignOut(SignOutData{Action: "/oauth2/sign_out", ReturnTo: "https://app.example.com/"}),
			[]string{`<form method="post" action="/oauth2/sign_out"`, `name="rd" value="https://app.example.com/"`, "Stay signed in"},
			nil,
		},
	} {
		t.Run(name, func(t *testing.T) {
			for _, w := range c.want {
				if !bytes.Contains(c.out, []byte(w)) {
					t.Errorf("missing %q in\n%s", w, c.out)
				}
			}
			for _, w := range c.notWant {
				if bytes.Contains(c.out, []byte(w)) {
					t.Errorf("unexpected %q", w)
				}
			}
		})
	}
}

// TestCustomization: name, logo, colours and footer links from Options
// appear in every page.
func TestCustomization(t *testing.T) {
	dir := t.TempDir()
	logo := filepath.Join(dir, "logo.svg")
	write(t, logo, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><rect width="1" height="1"/></svg>`)
	p := newPages(t, Options{
		ProductName: "Acme SSO", LogoFile: logo, Accent: "#0a7f5a", AccentDark: "#7fe0bf",
		Links: []Link{{Text: "Help desk", URL: "https://help.acme.test/"}, {Text: "Mail IT", URL: "mailto:it@acme.test"}},
	})
	out := string(p.SignIn(SignInData{Providers: []Provider{{Name: "Acme ID", URL: "/oauth2/start"}}}))
	for _, want := range []string{
		"<title>Sign in · Acme SSO</title>",
		`<span class="name">Acme SSO</span>`,
		`<img class="logo" src="data:image/svg&#43;xml;base64,PHN2Zy`,
		"--accent: #0a7f5a;", "--accent: #7fe0bf;",
		`<nav aria-label="Footer">`, `<a href="https://help.acme.test/">Help desk</a>`, `<a href="mailto:it@acme.test">Mail IT</a>`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "<svg class=\"logo\"") {
		t.Error("built-in logo shown next to the custom one")
	}

	def := string(newPages(t, Options{}).SignIn(SignInData{}))
	for _, want := range []string{"<title>Sign in · gatehouse</title>", "--accent: #1d5fd1;", "--accent: #8ab4ff;", `<svg class="logo"`, "Protected by gatehouse."} {
		if !strings.Contains(def, want) {
			t.Errorf("default page lacks %q", want)
		}
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestBadOptions(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.png")
	write(t, big, "\x89PNG\r\n\x1a\n"+strings.Repeat("x", MaxLogoSize))
	text := filepath.Join(dir, "logo.png")
	write(t, text, "just some text")
	for name, c := range map[string]struct {
		o    Options
		want string
	}{
		"logo too large":  {Options{LogoFile: big}, "pages.logo_file: read " + big + ": larger than 65536 bytes"},
		"logo not image":  {Options{LogoFile: text}, "pages.logo_file: " + text + ": not a PNG, JPEG, GIF, WebP or SVG image (looks like text/plain"},
		"logo missing":    {Options{LogoFile: filepath.Join(dir, "nope.png")}, "pages.logo_file: read " + filepath.Join(dir, "nope.png")},
		"accent not hex":  {Options{Accent: "red;}body{display:none"}, `pages.colors.accent: must be a colour as #rgb or #rrggbb, not "red;}body{display:none"`},
		"dark not hex":    {Options{AccentDark: "#12"}, `pages.colors.accent_dark: must be a colour as #rgb or #rrggbb, not "#12"`},
		"no template dir": {Options{TemplatesDir: filepath.Join(dir, "none")}, "pages.templates_dir: open " + filepath.Join(dir, "none")},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(c.o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want %q", err, c.want)
			}
		})
	}
}

// TestOverrides: a template from the folder replaces the built-in one and
// is escaped like it; a layout override frames every page; a broken
// override stops New with the file and the template named.
func TestOverrides(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "forbidden.html"), `{{define "title"}}Nope{{end}}{{define "content"}}<h1>No entry for {{.Page.Account}}</h1>{{end}}`)
	write(t, filepath.Join(dir, "notes.txt"), "ignored: not a template")
	p := newPages(t, Options{TemplatesDir: dir})
	out := string(p.Forbidden(ForbiddenData{Account: hostile}))
	if !strings.Contains(out, "<h1>No entry for &lt;script&gt;") || !strings.Contains(out, "<title>Nope · gatehouse</title>") {
		t.Errorf("override not used or not escaped:\n%s", out)
	}
	if !strings.Contains(string(p.SignIn(SignInData{})), "Sign in to continue") {
		t.Error("a page without an override lost its built-in template")
	}

	layoutDir := t.TempDir()
	write(t, filepath.Join(layoutDir, "layout.html"), `{{define "layout"}}<!doctype html><html lang="de"><title>{{template "title" .}}</title><main>{{template "content" .}}</main></html>{{end}}`)
	p = newPages(t, Options{TemplatesDir: layoutDir})
	for _, out := range [][]byte{p.SignIn(SignInData{}), p.Unavailable(UnavailableData{What: "x"})} {
		if !bytes.HasPrefix(out, []byte(`<!doctype html><html lang="de">`)) {
			t.Errorf("layout override not used: %s", out)
		}
	}

	for name, c := range map[string]struct {
		file, content string
		want          []string
	}{
		"parse error":          {"signin.html", `{{define "content"}}{{if}}{{end}}`, []string{"pages.templates_dir: ", "signin.html: template: signin.html:1: missing value for if"}},
		"unknown field":        {"error.html", `{{define "title"}}x{{end}}{{define "content"}}{{.Page.Mesage}}{{end}}`, []string{"error.html: page error (state mismatch): ", "can't evaluate field Mesage"}},
		"missing content":      {"upstream.html", `{{define "title"}}x{{end}}`, []string{"upstream.html: page upstream (named app): ", `no such template "content"`}},
		"broken layout":        {"layout.html", `{{define "layout"}}{{template "nope" .}}{{end}}`, []string{"layout.html: page signin (one provider): ", `no such template "nope"`}},
		"misspelt page":        {"forbiden.html", `x`, []string{"forbiden.html: no page is called \"forbiden\" (the templates are signin.html, signed_out.html"}},
		"variant-only failure": {"forbidden.html", `{{define "title"}}x{{end}}{{define "content"}}{{index .Page.Account 0}}{{end}}`, []string{"forbidden.html: page forbidden (account unknown)", "index out of range"}},
	} {
		t.Run(name, func(t *testing.T) {
			d := t.TempDir()
			write(t, filepath.Join(d, c.file), c.content)
			_, err := New(Options{TemplatesDir: d})
			if err == nil {
				t.Fatal("bad override accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if !strings.Contains(err.Error(), filepath.Join(d, c.file)) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestHeaders(t *testing.T) {
	got := map[string]string{}
	for _, kv := range Headers() {
		got[kv[0]] = kv[1]
	}
	for k, v := range map[string]string{
		"Content-Type":            "text/html; charset=utf-8",
		"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
		"X-Content-Type-Options":  "nosniff",
		"Cache-Control":           "no-store",
		"X-Frame-Options":         "DENY",
	} {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}
