package redirect

import (
	"bufio"
	"net/url"
	"os"
	"strings"
	"testing"
)

const whitelisted = "www.whitelisteddomain.tld"

func mustValidator(t testing.TB, domains ...string) *Validator {
	t.Helper()
	v, err := NewValidator(domains)
	if err != nil {
		t.Fatalf("NewValidator(%q): %v", domains, err)
	}
	return v
}

// browserHost reports where a browser that receives s as a Location (or
// navigates to it from a page of gatehouse) ends up: ("", true) for the
// same site, (host, true) for an http(s) URL on host, ("", false) for
// anything else (another scheme, or a URL it cannot read). It follows the
// WHATWG URL rules that matter for redirects: leading and trailing C0
// controls and spaces are stripped, tabs and newlines are removed
// everywhere, backslashes count as slashes in http(s) URLs, any number of
// slashes may precede the authority, user info ends at the last '@', and
// the host is percent-decoded and lower-cased.
func browserHost(s string) (host string, ok bool) {
	s = strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
	s = strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(s)
	s = strings.ReplaceAll(s, `\`, "/")
	rest := s
	if i := strings.IndexByte(s, ':'); i > 0 && isScheme(s[:i]) {
		scheme := strings.ToLower(s[:i])
		if scheme != "http" && scheme != "https" {
			return "", false
		}
		rest = s[i+1:]
		// "http:evil.com" from an https page, or "http:/evil.com":
		// special schemes ignore missing or extra slashes.
	} else if !strings.HasPrefix(s, "//") {
		return "", true // a path, relative to the current page
	}
	rest = strings.TrimLeft(rest, "/")
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		authority = authority[i+1:]
	}
	h := authority
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i >= 0 {
			h = h[:i+1]
		}
	} else if i := strings.IndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	dec, err := url.PathUnescape(h)
	if err != nil {
		return "", false
	}
	return strings.TrimSuffix(strings.ToLower(dec), "."), true
}

func isScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		alpha := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !alpha && (i == 0 || !('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return s != ""
}

// assertStaysHome fails unless got, the output of Safe for in, keeps a
// browser on the allowed domains, as both a browser and net/url read it.
func assertStaysHome(t *testing.T, v *Validator, in, got string) {
	t.Helper()
	if got == "/" {
		return
	}
	if got != in {
		t.Fatalf("Safe(%q) = %q: must be the input or \"/\"", in, got)
	}
	host, ok := browserHost(got)
	if !ok {
		t.Fatalf("Safe(%q) accepted a URL a browser does not read as http(s)", in)
	}
	if host != "" && !v.AllowedHost(host) {
		t.Fatalf("Safe(%q) accepted a URL a browser sends to %q", in, host)
	}
	if host == "" && !strings.HasPrefix(got, "/") {
		t.Fatalf("Safe(%q) accepted a relative URL not starting with /", in)
	}
	u, err := url.Parse(got)
	if err != nil {
		t.Fatalf("Safe(%q) accepted what net/url cannot parse: %v", in, err)
	}
	if u.User != nil || strings.ContainsAny(got, "\\ \t\r\n") {
		t.Fatalf("Safe(%q) accepted user info, a backslash or whitespace", in)
	}
	if u.Host != "" && !v.AllowedHost(u.Hostname()) {
		t.Fatalf("Safe(%q): net/url sees foreign host %q", in, u.Hostname())
	}
	if u.Host == "" && (u.Scheme != "" || strings.HasPrefix(got, "//")) {
		t.Fatalf("Safe(%q) accepted a scheme or scheme-relative URL without host", in)
	}
}

// TestOpenRedirectPayloads runs the public payload list (see
// testdata/README.md), raw and once query-unescaped as a server would see
// it: every payload is refused, except ones that really stay on the
// allowed host, which must pass the browser-reading check.
func TestOpenRedirectPayloads(t *testing.T) {
	f, err := os.Open("../../testdata/openredirects.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v := mustValidator(t, whitelisted)
	var n, accepted int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		n++
		inputs := []string{line}
		if dec, err := url.QueryUnescape(line); err == nil && dec != line {
			inputs = append(inputs, dec)
		}
		for _, in := range inputs {
			got := v.Safe(in)
			if got != "/" {
				accepted++
				t.Logf("accepted (stays on the allowed host): %q", in)
			}
			assertStaysHome(t, v, in, got)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 559 {
		t.Fatalf("read %d payloads, want 559", n)
	}
	if accepted != 0 {
		t.Errorf("%d payloads accepted; the list holds none that should be", accepted)
	}
}

func TestSafe(t *testing.T) {
	v := mustValidator(t, "app.example.com", ".corp.example", "127.0.0.1", "::1")
	cases := []struct {
		name, in string
		ok       bool
	}{
		// Accepted.
		{"root", "/", true},
		{"path", "/app/page", true},
		{"path with query and fragment", "/app?x=1&y=%20z#frag", true},
		{"exact host", "https://app.example.com/x?y=1", true},
		{"http exact host", "http://app.example.com", true},
		{"mixed case host", "https://APP.Example.COM/x", true},
		{"upper case scheme", "HTTPS://app.example.com/", true},
		{"port on allowed host", "https://app.example.com:8443/x", true},
		{"trailing dot host", "https://app.example.com./x", true},
		{"suffix apex", "https://corp.example/", true},
		{"suffix subdomain", "https://a.b.corp.example/", true},
		{"ip host", "http://127.0.0.1:5050/", true},
		{"ipv6 host", "http://[::1]:8080/", true},
		{"double slash in absolute path", "https://app.example.com//x", true},

		// Foreign hosts.
		{"other host", "https://evil.com/", false},
		{"suffix lookalike", "https://badcorp.example/", false},
		{"exact is not suffix", "https://x.app.example.com/", false},
		{"allowed as subdomain of evil", "https://app.example.com.evil.com/", false},
		{"non-canonical ip", "http://127.1/", false},
		{"octal ip", "http://0177.0.0.1/", false},
		{"ipv6 zone", "http://[::1%25eth0]/", false},
		{"percent in host", "https://app.example.com%2eevil.com/", false},
		{"encoded dot host", "https://evil%2ecom/", false},
		{"double trailing dot", "https://app.example.com../", false},
		{"empty port", "https://app.example.com:/", false},
		{"port with letters", "https://app.example.com:80x/", false},
		{"port too large", "https://app.example.com:65536/", false},

		// Scheme-relative and slashes.
		{"scheme relative", "//evil.com", false},
		{"triple slash", "///evil.com", false},
		{"slash backslash", "/\\evil.com", false},
		{"backslash slash", "\\/evil.com", false},
		{"backslash in path", "/a\\b", false},
		{"backslash in host", "https://app.example.com\\@evil.com", false},
		{"encoded double slash", "/%2f%2fevil.com", false},
		{"encoded backslash", "/%5cevil.com", false},
		{"double encoded backslash", "/%255cevil.com", false},
		{"slashes in query", "/?next=//evil.com", false},
		{"missing slashes", "https:evil.com", false},
		{"one slash", "https:/evil.com", false},
		{"no scheme host", "evil.com", false},
		{"relative dot", "./evil", false},

		// Control characters and whitespace.
		{"tab", "/\t/evil.com", false},
		{"newline", "/\n/evil.com", false},
		{"carriage return", "/\r/evil.com", false},
		{"nul", "/\x00/evil.com", false},
		{"leading space", " /x", false},
		{"space in path", "/a b", false},
		{"encoded tab", "/%09/evil.com", false},
		{"encoded newline", "/%0a/evil.com", false},
		{"encoded carriage return", "/%0d/evil.com", false},
		{"encoded nul", "/%00/evil.com", false},
		{"double encoded newline", "/%250a/evil.com", false},
		{"encoded del", "/%7f", false},
		{"encoded tab absolute", "https://app.example.com/%09x", false},
		{"non-ascii", "/caf\u00e9", false},
		{"fullwidth dot host", "https://evil\u3002com/", false},

		// User info.
		{"userinfo", "https://app.example.com@evil.com/", false},
		{"userinfo on allowed", "https://user@app.example.com/", false},
		{"userinfo with password", "https://u:p@app.example.com/", false},

		// Other schemes.
		{"javascript", "javascript:alert(1)", false},
		{"javascript slashes", "javascript://app.example.com/%0aalert(1)", false},
		{"data", "data:text/html,<script>alert(1)</script>", false},
		{"vbscript", "vbscript:msgbox(1)", false},
		{"ftp", "ftp://app.example.com/", false},
		{"file", "file:///etc/passwd", false},

		// Limits.
		{"empty", "", false},
		{"too long", "/" + strings.Repeat("a", MaxLength), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := v.Safe(tc.in)
			want := "/"
			if tc.ok {
				want = tc.in
			}
			if got != want {
				t.Fatalf("Safe(%q) = %q, want %q", tc.in, got, want)
			}
			assertStaysHome(t, v, tc.in, got)
		})
	}
}

func TestNewValidator(t *testing.T) {
	good := [][]string{nil, {"example.com"}, {".example.com", "a.b"}, {"127.0.0.1"}, {"[::1]"}, {"Example.COM."}}
	for _, d := range good {
		if _, err := NewValidator(d); err != nil {
			t.Errorf("NewValidator(%q): %v", d, err)
		}
	}
	bad := [][]string{{""}, {"."}, {"example.com:443"}, {"*.example.com"}, {"ex ample.com"}, {"a..b"}, {".1.2"}, {"127.1"}, {"http://x"}, {"good.com", "bad/"}}
	for _, d := range bad {
		if _, err := NewValidator(d); err == nil {
			t.Errorf("NewValidator(%q): want an error", d)
		}
	}
	// Several problems are reported together.
	_, err := NewValidator([]string{"a:1", "ok.com", "b c"})
	if err == nil || !strings.Contains(err.Error(), `"a:1"`) || !strings.Contains(err.Error(), `"b c"`) {
		t.Fatalf("error %v should name both bad entries", err)
	}
}

func TestAllowedHost(t *testing.T) {
	v := mustValidator(t, "App.Example.com", ".corp.example")
	for host, want := range map[string]bool{
		"app.example.com":   true,
		"APP.EXAMPLE.COM.":  true,
		"example.com":       false,
		"corp.example":      true,
		"x.corp.example":    true,
		"xcorp.example":     false,
		"corp.example.evil": false,
		"":                  false,
	} {
		if got := v.AllowedHost(host); got != want {
			t.Errorf("AllowedHost(%q) = %v, want %v", host, got, want)
		}
	}
}

// FuzzSafe checks the one property that matters: whatever Safe returns, a
// browser (and net/url) reading it never leaves the allowed domains.
func FuzzSafe(f *testing.F) {
	for _, s := range []string{
		"/", "/a?b#c", "https://app.example.com/x", "//evil.com", "/\\evil.com", "/%09/evil.com",
		"https://app.example.com@evil.com", "https://x.corp.example:8080/", "javascript:alert(1)",
		"http:evil.com", "HTTPS://APP.EXAMPLE.COM./", "http://[::1]/", "/%2f%2fevil.com",
	} {
		f.Add(s)
	}
	if b, err := os.ReadFile("../../testdata/openredirects.txt"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			f.Add(line)
		}
	}
	v := mustValidator(f, "app.example.com", ".corp.example", "::1", whitelisted)
	f.Fuzz(func(t *testing.T, in string) {
		assertStaysHome(t, v, in, v.Safe(in))
	})
}

func BenchmarkSafe(b *testing.B) {
	v := mustValidator(b, "app.example.com", ".corp.example")
	for _, in := range []string{"https://app.example.com/some/path?with=query", "/%09/evil.com"} {
		b.Run(in, func(b *testing.B) {
			for b.Loop() {
				_ = v.Safe(in)
			}
		})
	}
}
