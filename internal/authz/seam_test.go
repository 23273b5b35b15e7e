package authz

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"unicode/utf8"
)

// The request constructor is the one place where a proxy's description of
// a request becomes what gatehouse judges. These tests pin its rules.

func TestParsePathForms(t *testing.T) {
	for raw, want := range map[string]Paths{
		"/a/b":                  {"/a/b", "/a/b", "/a/b"},
		"/a//b/":                {"/a/b/", "/a/b/", "/a/b/"},
		"/a/%62":                {"/a/b", "/a/%62", "/a/b"},
		"/%70ublic/x":           {"/public/x", "/%70ublic/x", "/public/x"},
		"/admin;x/users":        {"/admin;x/users", "/admin;x/users", "/admin/users"},
		"/admin%3bx/users":      {"/admin;x/users", "/admin%3bx/users", "/admin/users"},
		"/public/;x/../admin":   {"/public/admin", "/public/admin", "/admin"},
		"/a;jsessionid=1/b.jsp": {"/a;jsessionid=1/b.jsp", "/a;jsessionid=1/b.jsp", "/a/b.jsp"},
		"/caf%C3%A9":            {"/café", "/caf%C3%A9", "/café"},
		"/admin.":               {"/admin.", "/admin.", "/admin"},
		"/Admin.%20/x":          {"/Admin. /x", "/Admin.%20/x", "/Admin/x"},
		"/internal..;/":         {"/internal..;/", "/internal..;/", "/internal/"},
		"/a/.hidden/b":          {"/a/.hidden/b", "/a/.hidden/b", "/a/.hidden/b"},
		"/100%":                 {}, // a lone % is a bad escape: refused below
	} {
		got, err := ParsePath(raw)
		if raw == "/100%" {
			if err == nil {
				t.Errorf("ParsePath(%q) accepted", raw)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("ParsePath(%q) = %+v, %v; want %+v", raw, got, err, want)
		}
	}
}

func TestParsePathRefusesAmbiguity(t *testing.T) {
	for _, raw := range []string{
		"/public#/../dashboard",     // fragment: some servers take # as a literal
		"/public/x#/../../admin",    //
		"/public/..;/dashboard",     // dot segment with params (Tomcat drops them)
		"/public/..%3b/dashboard",   // the same, encoded
		"/public/.;x/dashboard",     //
		"/public/%2e%2e/admin",      // a dot segment only once decoded
		"/public/.%2e/admin",        //
		"/public/%2E/admin",         //
		"/public/%252e%252e/adm",    // double encoding
		"/a%252fb",                  //
		"/a%2fb", "/a%5Cb", "/a\\b", // encoded or literal separators
		"/a%00", "/a%0d%0ax", "/a\x01", "/a b", // controls and space
		"/%c0%ae%c0%ae/admin",                                             // overlong UTF-8 dots (old IIS)
		"/public/.../admin", "/public/..%20/admin", "/public/.%20./admin", // dots and spaces
		"/public/%ef%bc%8e%ef%bc%8e/admin", "/public/\uff0e\uff0e/admin", // full-width dots (NFKC)
		"/public%ef%bc%8f..%ef%bc%8fadmin", // full-width solidus
		"/\xff",                            // not UTF-8
		"", "a", "*", "http://app.example.com/",
	} {
		if got, err := ParsePath(raw); err == nil || !errors.Is(err, ErrBadRequest) {
			t.Errorf("ParsePath(%q) = %+v, %v; want ErrBadRequest", raw, got, err)
		}
	}
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"/", "/a/../b", "/%2e%2e/", "//x", "/a%2fb", "/./.././", "/a;b/..;/c", "/A%3bb/%41", "/x#y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		ps, err := ParsePath(raw)
		if err != nil {
			return
		}
		for _, p := range []string{ps.Clean, ps.Undecoded, ps.Lenient} {
			if !strings.HasPrefix(p, "/") || strings.Contains(p, "//") || strings.Contains(p, "/../") ||
				strings.HasSuffix(p, "/..") || strings.ContainsAny(p, "#\\") {
				t.Fatalf("ParsePath(%q) = %+v: %q is not normal", raw, ps, p)
			}
		}
		if !utf8.ValidString(ps.Clean) {
			t.Fatalf("ParsePath(%q).Clean is not UTF-8", raw)
		}
		if strings.Contains(ps.Lenient, ";") {
			t.Fatalf("ParsePath(%q).Lenient = %q keeps a ;", raw, ps.Lenient)
		}
	})
}

func TestNewRequest(t *testing.T) {
	good := []struct{ method, scheme, host, target string }{
		{"GET", "https", "app.example.com", "/"},
		{"M-SEARCH", "http", "app.example.com:8080", "/x?y=1"},
		{"PROPFIND", "HTTPS", "[::1]:443", "/dav/"},
		{"GET", "", "10.0.0.1", "/?q=%23"},
	}
	for _, c := range good {
		if _, err := NewRequest(c.method, c.scheme, c.host, c.target); err != nil {
			t.Errorf("NewRequest(%q, %q, %q, %q): %v", c.method, c.scheme, c.host, c.target, err)
		}
	}
	bad := []struct{ method, scheme, host, target string }{
		{"get", "https", "app.example.com", "/"},      // methods are case-sensitive
		{"CONNECT", "https", "app.example.com", "/"},  // the app sees an authority-form target
		{"G ET", "https", "app.example.com", "/"},     //
		{"", "https", "app.example.com", "/"},         //
		{"GET", "ftp", "app.example.com", "/"},        //
		{"GET", "https", "", "/"},                     //
		{"GET", "https", "user@app.example.com", "/"}, //
		{"GET", "https", "app.example.com:", "/"},     //
		{"GET", "https", "app.example.com:80x", "/"},  //
		{"GET", "https", "app.example.com/x", "/"},    //
		{"GET", "https", "[]", "/"},                   //
		{"GET", "https", "app.example.com", "http://other.example.com/"},
		{"GET", "https", "app.example.com", "/x?a=1#frag"},
		{"GET", "https", "app.example.com", "/x?a=\r\n"},
		{"GET", "https", "app.example.com", "/" + strings.Repeat("a", MaxTargetLen)},
	}
	for _, c := range bad {
		if _, err := NewRequest(c.method, c.scheme, c.host, c.target); !errors.Is(err, ErrBadRequest) {
			t.Errorf("NewRequest(%q, %q, %q, %q) = %v, want ErrBadRequest", c.method, c.scheme, c.host, c.target, err)
		}
	}
	r, err := NewRequest("GET", "HTTPS", "App.Example.com", "/A/./b;x/%63?q=1")
	if err != nil {
		t.Fatal(err)
	}
	if r.Scheme != "https" || r.Path != "/A/b;x/c" || r.PathUndecoded != "/A/b;x/%63" || r.PathLenient != "/A/b/c" ||
		r.RawPath != "/A/./b;x/%63" || r.RawQuery != "q=1" {
		t.Errorf("NewRequest = %+v", r)
	}
}

// seamPolicy has a rule of every kind on app.example.com.
func seamPolicy() *Policy {
	p := testPolicy()
	p.Skip = []Route{{Host: "status.example.com"}, {PathPrefix: "/healthz"}}
	p.Rules = []Rule{
		{Name: "public", Paths: []string{"/public"}, Action: ActionAllow},
		{Name: "assets", PathRegexp: mustPattern(`^/assets/`), Action: ActionAllow},
		{Name: "admin", Paths: []string{"/admin"}, Action: ActionRequire, Require: Requirement{Groups: map[string]struct{}{"admins": {}}}},
		{Name: "ops", PathRegexp: mustPattern(`^/ops(/|$)`), Action: ActionRequire, Require: Requirement{Groups: map[string]struct{}{"admins": {}}}},
		{Name: "internal", Paths: []string{"/internal"}, Action: ActionDeny},
	}
	return p
}

func seamReq(t *testing.T, target string) *Request {
	t.Helper()
	r, err := NewRequest("GET", "https", "app.example.com", target)
	if err != nil {
		t.Fatalf("NewRequest(%q): %v", target, err)
	}
	r.Accept = "text/html"
	r.ClientIP = netip.MustParseAddr("10.0.0.1")
	return &r
}

// TestRestrictLooselyOpenStrictly: rules that restrict are not escaped by
// letter case, ;params or encodings; rules that open are not widened.
func TestRestrictLooselyOpenStrictly(t *testing.T) {
	alice := &Identity{User: "alice", Email: "alice@example.com", EmailVerified: true}
	for target, want := range map[string]struct {
		anon  Outcome // without a session
		alice Outcome // signed in, not in admins
		rule  string
	}{
		"/public/x":           {Allow, Allow, "public"},
		"/assets/app.js":      {Allow, Allow, "assets"},
		"/Public/x":           {Unauthenticated, Allow, RuleDefault},
		"/PUBLIC":             {Unauthenticated, Allow, RuleDefault},
		"/public;x/y":         {Unauthenticated, Allow, RuleDefault},
		"/%70ublic/x":         {Unauthenticated, Allow, RuleDefault},
		"/%61ssets/app.js":    {Unauthenticated, Allow, RuleDefault},
		"/Assets/app.js":      {Unauthenticated, Allow, RuleDefault},
		"/admin/users":        {Unauthenticated, Forbidden, "admin"},
		"/ADMIN/users":        {Unauthenticated, Forbidden, "admin"},
		"/Admin":              {Unauthenticated, Forbidden, "admin"},
		"/admin;x/users":      {Unauthenticated, Forbidden, "admin"},
		"/admin%3B/users":     {Unauthenticated, Forbidden, "admin"},
		"/%61dmin/users":      {Unauthenticated, Forbidden, "admin"},
		"/OPS/x":              {Unauthenticated, Forbidden, "ops"},
		"/ops;v=1":            {Unauthenticated, Forbidden, "ops"},
		"/public/;x/../admin": {Unauthenticated, Forbidden, "admin"},
		"/INTERNAL/x":         {Forbidden, Forbidden, "internal"},
		"/internal;/x":        {Forbidden, Forbidden, "internal"},
		"/healthz":            {Allow, Allow, RuleSkip},
		"/Healthz":            {Unauthenticated, Allow, RuleDefault},
		"/healthz;x":          {Unauthenticated, Allow, RuleDefault},
		"/%68ealthz":          {Unauthenticated, Allow, RuleDefault},
		"/adminx":             {Unauthenticated, Allow, RuleDefault},
		"/admin.":             {Unauthenticated, Forbidden, "admin"},
		"/admin%20":           {Unauthenticated, Forbidden, "admin"},
		"/admin%2e":           {Unauthenticated, Forbidden, "admin"},
		"/Admin./x":           {Unauthenticated, Forbidden, "admin"},
		"/internal.%20/x":     {Forbidden, Forbidden, "internal"},
		"/internal..;/":       {Forbidden, Forbidden, "internal"},
		"/public.":            {Unauthenticated, Allow, RuleDefault},
		"/public%20/x":        {Unauthenticated, Allow, RuleDefault},
	} {
		p := seamPolicy()
		r := seamReq(t, target)
		if d := Decide(p, r, NoSession, nil); d.Outcome != want.anon || d.Rule != want.rule {
			t.Errorf("%s anonymous: %v by %q, want %v by %q", target, d.Outcome, d.Rule, want.anon, want.rule)
		}
		if d := Decide(p, r, ValidSession, alice); d.Outcome != want.alice || d.Rule != want.rule {
			t.Errorf("%s as alice: %v by %q, want %v by %q", target, d.Outcome, d.Rule, want.alice, want.rule)
		}
	}
}

func TestPrefixFoldUnicode(t *testing.T) {
	for path, want := range map[string]bool{
		"/admin": true, "/ADMIN/x": true, "/aDmIn": true,
		"/\u212Aey": true, // KELVIN SIGN folds to k
		"/admi":     false, "/adminx": false, "/édmin": false,
	} {
		prefix := "/admin"
		if strings.HasPrefix(path, "/\u212A") {
			prefix = "/key"
		}
		if got := pathHasPrefix(path, prefix, true); got != want {
			t.Errorf("pathHasPrefix(%q, %q, fold) = %v, want %v", path, prefix, got, want)
		}
	}
}

func TestSpoofedHeaderRefused(t *testing.T) {
	p := seamPolicy()
	p.Headers.AccessToken = "X-Auth-Request-Access-Token"
	alice := &Identity{User: "alice", Email: "alice@example.com", EmailVerified: true}
	for _, name := range []string{
		"X-Auth-Request_Groups", "X_Auth-Request-User", "x_auth_request_email", "X-AUTH-REQUEST-PREFERRED_USERNAME",
		"X-Auth-Request-Access_Token", "X-Remote_User", "Remote_User", "X_Forwarded_Email",
		"X_HTTP_Method_Override", "X-Http-Method_Override", "X_Method_Override", "x_http_method",
		"SCRIPT_NAME", "script_name", "PATH_INFO",
	} {
		for _, target := range []string{"/x", "/public/x", "/healthz"} {
			r := seamReq(t, target)
			r.UnderscoreHeaders = []string{"X_Custom", name}
			d := Decide(p, r, ValidSession, alice)
			if d.Outcome != Forbidden || d.Reason != ReasonSpoofedHeader || d.RuleIndex != -1 {
				t.Errorf("%s with %s: %v %s, want a refusal %s", target, name, d.Outcome, d.Reason, ReasonSpoofedHeader)
			}
		}
	}
	for _, name := range []string{"X_Custom", "X-Auth-Request_Groupsx", "Accept_Language", "X-Auth_Request-Assertion", "X_HTTP_Method_Overridex"} {
		r := seamReq(t, "/x")
		r.UnderscoreHeaders = []string{name}
		if d := Decide(p, r, ValidSession, alice); d.Outcome != Allow {
			t.Errorf("%s: %v %s, want allow", name, d.Outcome, d.Reason)
		}
	}
	if got := UnderscoreHeaders(map[string][]string{"A_b": nil, "C-d": nil}); len(got) != 1 || got[0] != "A_b" {
		t.Errorf("UnderscoreHeaders = %v", got)
	}
	if n := testing.AllocsPerRun(100, func() { UnderscoreHeaders(map[string]string{"accept": "", "cookie": ""}) }); n != 0 {
		t.Errorf("UnderscoreHeaders without underscores allocates %v times", n)
	}
}

// TestMethodOverride: a method named in a method-override header, which
// frameworks act on, cannot escape a rule that restricts by method nor
// widen one that opens.
func TestMethodOverride(t *testing.T) {
	p := testPolicy()
	p.Skip = []Route{{Methods: []string{"GET"}, PathPrefix: "/feed"}}
	p.Rules = []Rule{
		{Name: "no-deletes", Methods: []string{"DELETE"}, Action: ActionDeny},
		{Name: "reads", Methods: []string{"GET", "HEAD"}, Paths: []string{"/docs"}, Action: ActionAllow},
	}
	for _, c := range []struct {
		method, override, target string
		want                     Outcome
		rule                     string
	}{
		{"GET", "", "/docs/x", Allow, "reads"},
		{"GET", "DELETE", "/docs/x", Forbidden, "no-deletes"},
		{"POST", "delete", "/x", Forbidden, "no-deletes"},
		{"GET", "PUT", "/docs/x", Unauthenticated, RuleDefault},
		{"GET", "HEAD", "/docs/x", Allow, "reads"},
		{"GET", "", "/feed", Allow, RuleSkip},
		{"GET", "POST", "/feed", Unauthenticated, RuleDefault},
	} {
		r := seamReq(t, c.target)
		r.Method = c.method
		if err := r.SetMethodOverride(func(name string) string {
			if name == "X-Http-Method-Override" {
				return c.override
			}
			return ""
		}); err != nil {
			t.Fatal(err)
		}
		if d := Decide(p, r, NoSession, nil); d.Outcome != c.want || d.Rule != c.rule {
			t.Errorf("%s %s with override %q: %v by %q, want %v by %q", c.method, c.target, c.override, d.Outcome, d.Rule, c.want, c.rule)
		}
	}
	for _, hs := range []map[string]string{
		{"X-Http-Method-Override": "DELETE, PUT"},
		{"X-Http-Method-Override": "DELETE", "X-Http-Method": "PUT"},
		{"X-Method-Override": "GET\x00"},
	} {
		r := seamReq(t, "/x")
		if err := r.SetMethodOverride(func(name string) string { return hs[name] }); !errors.Is(err, ErrBadRequest) {
			t.Errorf("overrides %v: %v, want ErrBadRequest", hs, err)
		}
	}
}

// TestStrictestViewDecides: a reading of the request that an earlier,
// weaker rule matches must not shadow a later, stricter rule that another
// reading matches (first match wins per reading, not overall).
func TestStrictestViewDecides(t *testing.T) {
	ana := &Identity{User: "ana", Email: "ana@example.com", EmailVerified: true}
	writer := &Identity{User: "w", Email: "w@example.com", EmailVerified: true, Groups: []string{"api-writers"}}
	p := testPolicy()
	p.Skip = nil
	p.Rules = []Rule{
		{Name: "api-reads", Methods: []string{"GET", "HEAD"}, Action: ActionAuthenticate},
		{Name: "docs", Paths: []string{"/docs"}, Action: ActionAuthenticate},
		{Name: "api-writes", Action: ActionRequire, Require: Requirement{Groups: map[string]struct{}{"api-writers": {}}}},
	}
	p.Rules[1].Methods = []string{"POST"}
	for _, c := range []struct {
		method, override, target string
		id                       *Identity
		want                     Outcome
		rule                     string
	}{
		{"GET", "", "/v1/items/1", ana, Allow, "api-reads"},
		{"GET", "DELETE", "/v1/items/1", ana, Forbidden, "api-writes"},
		{"GET", "DELETE", "/v1/items/1", writer, Allow, "api-writes"},
		{"POST", "", "/docs/x", ana, Allow, "docs"},
		{"POST", "", "/DOCS/x", ana, Forbidden, "api-writes"}, // a case-sensitive app serves /DOCS elsewhere
	} {
		r := seamReq(t, c.target)
		r.Method = c.method
		if err := r.SetMethodOverride(func(name string) string {
			if name == MethodOverrideHeaders[0] {
				return c.override
			}
			return ""
		}); err != nil {
			t.Fatal(err)
		}
		d := Decide(p, r, ValidSession, c.id)
		if d.Outcome != c.want || d.Rule != c.rule {
			t.Errorf("%s %s override %q as %s: %v by %q, want %v by %q", c.method, c.target, c.override, c.id.User, d.Outcome, d.Rule, c.want, c.rule)
		}
	}
}

func TestExplainNamesTheDecidingReading(t *testing.T) {
	alice := &Identity{User: "alice", Email: "alice@example.com", EmailVerified: true}
	d, steps := Explain(seamPolicy(), seamReq(t, "/ADMIN/users"), ValidSession, alice)
	if d.Outcome != Forbidden || d.Rule != "admin" || len(steps) == 0 {
		t.Fatalf("decision %v by %q, %d steps", d.Outcome, d.Rule, len(steps))
	}
	if steps[0].Kind != "view" || !strings.Contains(steps[0].Detail, "/ADMIN/users") || !strings.Contains(steps[0].Detail, "ignoring letter case") {
		t.Errorf("first step = %+v, want the reading that decided", steps[0])
	}
	last := steps[len(steps)-1]
	if last.Name != "admin" || last.Failed != CondMatched {
		t.Errorf("last step = %+v, want rule admin matching", last)
	}
	_, steps = Explain(seamPolicy(), seamReq(t, "/admin/users"), ValidSession, alice)
	if steps[0].Kind == "view" {
		t.Errorf("canonical reading explained as another: %+v", steps[0])
	}
}

// TestExplainSkipRouteCondition: an explanation names the condition of a
// skip route that did not match, as it does for rules.
func TestExplainSkipRouteCondition(t *testing.T) {
	p := testPolicy()
	p.Skip = []Route{{Methods: []string{"POST"}, PathPrefix: "/x"}, {Host: "status.example.com"}, {PathPrefix: "/healthz"}}
	_, steps := Explain(p, seamReq(t, "/x"), NoSession, nil)
	want := []Condition{CondMethod, CondHost, CondPath}
	for i, c := range want {
		if i >= len(steps) || steps[i].Kind != "skip" || steps[i].Failed != c {
			t.Fatalf("steps = %+v, want skip routes failing on %v", steps, want)
		}
	}
}
