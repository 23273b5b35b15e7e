package login_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/login"
)

// signOutReq sends one sign-out request with the browser's cookies and the
// given request headers, without following redirects.
func signOutReq(t *testing.T, e *env, c *http.Client, method, rd string, hdr map[string]string) *http.Response {
	t.Helper()
	u := e.srv.URL + login.SignOutPath
	var req *http.Request
	if method == http.MethodPost {
		req, _ = http.NewRequest(method, u, strings.NewReader(url.Values{"rd": {rd}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req, _ = http.NewRequest(method, u+"?rd="+url.QueryEscape(rd), nil)
	}
	req.Header.Set("Accept", "text/html")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	nc := *c
	nc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := nc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body(resp) // buffer it
	resp.Body.Close()
	return resp
}

func signedIn(t *testing.T, e *env) *http.Client {
	t.Helper()
	c := newClient(t)
	if _, err := e.op.Login(context.Background(), c, e.startURL("/"), "alice", "wonderland"); err != nil {
		t.Fatal(err)
	}
	if n := len(e.store.all()); n != 1 {
		t.Fatalf("%d sessions after login, want 1", n)
	}
	return c
}

// assertSignedOut: the answer ends the session, clears the cookie and
// redirects to the signed-out page, whose "sign in again" returns to rd.
func assertSignedOut(t *testing.T, e *env, resp *http.Response, rd string) {
	t.Helper()
	if want := signedOutURL(rd); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
		t.Fatalf("status %d to %q, want 302 to %q; body %s", resp.StatusCode, resp.Header.Get("Location"), want, body(resp))
	}
	if sc := setCookie(resp, cookieName); sc == nil || sc.MaxAge >= 0 {
		t.Fatal("session cookie not cleared")
	}
	e.assertNoSession(t)
}

// assertStillSignedIn: the answer neither ended the session nor touched
// the session cookie.
func assertStillSignedIn(t *testing.T, e *env, resp *http.Response) {
	t.Helper()
	if sc := setCookie(resp, cookieName); sc != nil {
		t.Fatalf("session cookie set: %v", sc)
	}
	if resp.Header.Get("Location") != "" {
		t.Fatalf("redirected to %q", resp.Header.Get("Location"))
	}
	if n := len(e.store.all()); n != 1 {
		t.Fatalf("%d sessions in the store, want the one still live", n)
	}
}

var formRD = regexp.MustCompile(`<form method="post" action="` + regexp.QuoteMeta(login.SignOutPath) + `">\s*<input type="hidden" name="rd" value="([^"]*)">`)

// assertConfirmation: the answer is the confirmation page, whose POST form
// carries rd, and which cannot be framed or cached.
func assertConfirmation(t *testing.T, resp *http.Response, rd string) {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200 confirmation page; body %s", resp.StatusCode, body(resp))
	}
	b := body(resp)
	m := formRD.FindStringSubmatch(b)
	if m == nil {
		t.Fatalf("no sign-out form in %s", b)
	}
	if got := html.UnescapeString(m[1]); got != rd {
		t.Fatalf("form rd %q, want %q", got, rd)
	}
	for k, want := range map[string]string{
		"Content-Type":            "text/html; charset=utf-8",
		"Cache-Control":           "no-store",
		"X-Frame-Options":         "DENY",
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": "frame-ancestors 'none'",
	} {
		if got := resp.Header.Get(k); !strings.Contains(got, want) {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
}

// TestSignOutCrossSiteGETNeverEndsTheSession: a GET that another site
// triggered (a link, an image, a redirect) shows the confirmation page
// instead of signing out; its form, posted from gatehouse's own page,
// signs out and goes to rd.
func TestSignOutCrossSiteGETNeverEndsTheSession(t *testing.T) {
	e := newEnv(t, envOptions{config: func(c *login.Config) { c.SkipProviderLogout = true }})
	c := signedIn(t, e)
	for name, hdr := range map[string]map[string]string{
		"fetch metadata cross-site":          {"Sec-Fetch-Site": "cross-site"},
		"cross-site with referer":            {"Sec-Fetch-Site": "cross-site", "Referer": "https://evil.example/page"},
		"same-site, referer not allowed":     {"Sec-Fetch-Site": "same-site", "Referer": "https://other.example.org/"},
		"same-site without referer":          {"Sec-Fetch-Site": "same-site"},
		"old browser, cross-site referer":    {"Referer": "https://evil.example/"},
		"old browser, referer with userinfo": {"Referer": "http://127.0.0.1@evil.example/"},
		"cross-site, opaque origin":          {"Sec-Fetch-Site": "cross-site", "Origin": "null"},
	} {
		t.Run(name, func(t *testing.T) {
			resp := signOutReq(t, e, c, http.MethodGet, "/bye", hdr)
			assertConfirmation(t, resp, "/bye")
			assertStillSignedIn(t, e, resp)
		})
	}
	t.Run("unsafe rd is replaced before it reaches the page", func(t *testing.T) {
		resp := signOutReq(t, e, c, http.MethodGet, `https://evil.example/"><script>x</script>`, map[string]string{"Sec-Fetch-Site": "cross-site"})
		assertConfirmation(t, resp, "/")
		assertStillSignedIn(t, e, resp)
	})
	t.Run("rd is escaped on the page", func(t *testing.T) {
		rd := `/bye?a="><b>&c=1`
		resp := signOutReq(t, e, c, http.MethodGet, rd, map[string]string{"Sec-Fetch-Site": "cross-site"})
		if strings.Contains(body(resp), "<b>") {
			t.Fatalf("rd not escaped: %s", body(resp))
		}
		assertConfirmation(t, resp, rd)
	})
	t.Run("the page's form signs out", func(t *testing.T) {
		resp := signOutReq(t, e, c, http.MethodPost, "/bye", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": e.srv.URL})
		assertSignedOut(t, e, resp, "/bye")
	})
}

// TestSignOutGETFromOwnSite: a typed URL, a bookmark, gatehouse's own link
// or a link on an allowed host still signs out with a GET, as existing
// nginx and oauth2-proxy snippets expect; so does a client that sends no
// browser metadata at all.
func TestSignOutGETFromOwnSite(t *testing.T) {
	e := newEnv(t, envOptions{config: func(c *login.Config) { c.SkipProviderLogout = true }})
	for name, hdr := range map[string]map[string]string{
		"typed URL":                          {"Sec-Fetch-Site": "none"},
		"own link":                           {"Sec-Fetch-Site": "same-origin", "Referer": "http://127.0.0.1/app"},
		"same-site link on an allowed host":  {"Sec-Fetch-Site": "same-site", "Referer": "http://127.0.0.1:9/app"},
		"cross-site link on an allowed host": {"Sec-Fetch-Site": "cross-site", "Referer": "http://127.0.0.1:9/app"},
		"no browser metadata":                {},
	} {
		t.Run(name, func(t *testing.T) {
			c := signedIn(t, e)
			assertSignedOut(t, e, signOutReq(t, e, c, http.MethodGet, "/bye", hdr), "/bye")
		})
	}
}

// TestSignOutPOST: a POST from gatehouse's own pages or an allowed host
// signs out; a cross-site POST is refused with 403 and changes nothing.
func TestSignOutPOST(t *testing.T) {
	e := newEnv(t, envOptions{config: func(c *login.Config) { c.SkipProviderLogout = true }})
	c := signedIn(t, e)
	for name, hdr := range map[string]map[string]string{
		"cross-site":                    {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
		"cross-site, allowed referer":   {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example", "Referer": "http://127.0.0.1/"},
		"same-site, origin not allowed": {"Sec-Fetch-Site": "same-site", "Origin": "https://other.example.org"},
		"opaque origin":                 {"Origin": "null"},
		"old browser, foreign origin":   {"Origin": "https://evil.example"},
		"cross-site without origin":     {"Sec-Fetch-Site": "cross-site"},
	} {
		t.Run(name, func(t *testing.T) {
			resp := signOutReq(t, e, c, http.MethodPost, "/bye", hdr)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body(resp), string(login.ReasonCrossSiteRequest)) {
				t.Fatalf("status %d, want 403 %s; body %s", resp.StatusCode, login.ReasonCrossSiteRequest, body(resp))
			}
			assertStillSignedIn(t, e, resp)
		})
	}
	// The session the refused POSTs left alone ends with a same-origin one.
	assertSignedOut(t, e, signOutReq(t, e, c, http.MethodPost, "/bye", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": e.srv.URL}), "/bye")
	for name, hdr := range map[string]map[string]string{
		"old browser, own origin":     {"Origin": e.srv.URL},
		"allowed origin":              {"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1:9"},
		"same-site, allowed referer":  {"Sec-Fetch-Site": "same-site", "Referer": "http://127.0.0.1:9/app"},
		"no browser metadata (a CLI)": {},
	} {
		t.Run(name, func(t *testing.T) {
			c := signedIn(t, e)
			assertSignedOut(t, e, signOutReq(t, e, c, http.MethodPost, "/bye", hdr), "/bye")
		})
	}
}

// TestSignOutEndsEveryCookieCopy: with a second copy of the session cookie
// planted in front of the user's own (a sibling host under cookie.domain),
// signing out still ends the user's session, not only the planted one.
func TestSignOutEndsEveryCookieCopy(t *testing.T) {
	e := newEnv(t, envOptions{config: func(c *login.Config) { c.SkipProviderLogout = true }})
	own := signedIn(t, e)
	planted := newClient(t)
	if _, err := e.op.Login(context.Background(), planted, e.startURL("/"), "alice", "wonderland"); err != nil {
		t.Fatal(err)
	}
	if n := len(e.store.all()); n != 2 {
		t.Fatalf("%d sessions, want 2", n)
	}
	value := func(c *http.Client) string {
		u, _ := url.Parse(e.srv.URL)
		for _, ck := range c.Jar.Cookies(u) {
			if ck.Name == cookieName {
				return ck.Value
			}
		}
		t.Fatal("no session cookie in the jar")
		return ""
	}
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+login.SignOutPath+"?rd=/bye", nil)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Cookie", cookieName+"="+value(planted)+"; "+cookieName+"="+value(own))
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	assertSignedOut(t, e, resp, "/bye")
}
