package login_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/login"
)

// startAttempt visits /oauth2/start with rd and returns the name of the
// login cookie it set and the state it sent to the provider.
func (e *env) startAttempt(t *testing.T, c *http.Client, rd string) (name, state string) {
	t.Helper()
	resp := get(t, c, e.startURL(rd))
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("start: %d %s", resp.StatusCode, body(resp))
	}
	for _, ck := range resp.Cookies() {
		if strings.HasPrefix(ck.Name, loginPrefix) && ck.Value != "" {
			if name != "" {
				t.Fatalf("start set two login cookies: %q", resp.Header.Values("Set-Cookie"))
			}
			name = ck.Name
		}
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || name == "" {
		t.Fatalf("start: Location %q, Set-Cookie %q", resp.Header.Get("Location"), resp.Header.Values("Set-Cookie"))
	}
	return name, loc.Query().Get("state")
}

func names(cs []*http.Cookie) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	slices.Sort(out)
	return out
}

// cookieBytes is what the cookies add to a Cookie header.
func cookieBytes(cs []*http.Cookie) int {
	n := 0
	for _, c := range cs {
		n += len(c.Name) + 1 + len(c.Value) + len("; ")
	}
	return n
}

// headerBytes is the size of a response's header block.
func headerBytes(resp *http.Response) int {
	n := 0
	for k, vs := range resp.Header {
		for _, v := range vs {
			n += len(k) + len(": ") + len(v) + len("\r\n")
		}
	}
	return n
}

// TestParallelLogins: two tabs sign in at once, interleaved (start A,
// start B, callback A, callback B); each callback finds its own attempt,
// returns to its own page, and clears only its own login cookie.
func TestParallelLogins(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := newClient(t)
	rdA, rdB := e.srv.URL+"/tab-a?x=1", e.srv.URL+"/tab-b"
	cbA, err := e.op.Authorize(context.Background(), c, e.startURL(rdA), "alice", "wonderland")
	if err != nil {
		t.Fatal(err)
	}
	nameA := e.loginCookie(t, c).Name
	cbB, err := e.op.Authorize(context.Background(), c, e.startURL(rdB), "alice", "wonderland")
	if err != nil {
		t.Fatal(err)
	}
	if got := len(e.loginCookies(c)); got != 2 {
		t.Fatalf("%d login cookies after two starts, want 2", got)
	}
	if cbA.Query().Get("state") == cbB.Query().Get("state") {
		t.Fatal("two attempts share a state")
	}

	respA := get(t, c, cbA.String())
	if respA.StatusCode != http.StatusFound || respA.Header.Get("Location") != rdA {
		t.Fatalf("callback A: %d to %q, want 302 to %s; %s", respA.StatusCode, respA.Header.Get("Location"), rdA, body(respA))
	}
	assertCleared(t, respA, nameA)
	left := e.loginCookies(c)
	if len(left) != 1 || left[0].Name == nameA {
		t.Fatalf("after callback A the jar holds login cookies %v, want only B's", names(left))
	}
	nameB := left[0].Name
	if sc := setCookie(respA, cookieName); sc == nil || sc.Value == "" {
		t.Fatal("callback A set no session cookie")
	}

	respB := get(t, c, cbB.String())
	if respB.StatusCode != http.StatusFound || respB.Header.Get("Location") != rdB {
		t.Fatalf("callback B: %d to %q, want 302 to %s; %s", respB.StatusCode, respB.Header.Get("Location"), rdB, body(respB))
	}
	assertCleared(t, respB, nameB)
	if cs := e.loginCookies(c); len(cs) != 0 {
		t.Fatalf("login cookies left after both callbacks: %v", names(cs))
	}
	// B's sign-in replaced A's session, as any new sign-in does.
	if s := e.store.all(); len(s) != 1 || s[0].Email != aliceUser.Email {
		t.Fatalf("sessions after both sign-ins: %+v", s)
	}
}

// TestLoginAttemptsBounded: a browser has at most login.MaxLoginAttempts
// sign-ins under way; starting more evicts the oldest, whose callback then
// fails, while the newest still signs in. The login cookies stay within 4
// KiB of Cookie header and a start response within nginx's default 4 KiB
// proxy_buffer_size.
func TestLoginAttemptsBounded(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := newClient(t)
	cbOldest, err := e.op.Authorize(context.Background(), c, e.startURL("/first"), "alice", "wonderland")
	if err != nil {
		t.Fatal(err)
	}
	all := []string{e.loginCookie(t, c).Name}
	for i := range login.MaxLoginAttempts {
		e.clock.Advance(time.Second)
		name, _ := e.startAttempt(t, c, "/tab-"+string(rune('a'+i)))
		all = append(all, name)
	}
	e.clock.Advance(time.Second)
	cbNewest, err := e.op.Authorize(context.Background(), c, e.startURL("/newest"), "alice", "wonderland")
	if err != nil {
		t.Fatal(err)
	}
	live := e.loginCookies(c)
	newest := slices.DeleteFunc(names(live), func(n string) bool { return slices.Contains(all, n) })
	if len(newest) != 1 {
		t.Fatalf("the newest attempt's cookie is not in the jar: %v", names(live))
	}
	all = append(all, newest[0])
	want := slices.Clone(all[len(all)-login.MaxLoginAttempts:])
	slices.Sort(want)
	if got := names(live); !slices.Equal(got, want) {
		t.Fatalf("live attempts %v, want the newest %d: %v", got, login.MaxLoginAttempts, want)
	}
	size := cookieBytes(live)
	t.Logf("%d live attempts: %d bytes of Cookie header (%d each)", len(live), size, size/len(live))
	if size > 4096 {
		t.Errorf("the login cookies take %d bytes of the Cookie header, want at most 4096", size)
	}

	assertRefused(t, get(t, c, cbOldest.String()), http.StatusBadRequest, login.ReasonStateMismatch)
	resp := get(t, c, cbNewest.String())
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/newest" {
		t.Fatalf("newest callback: %d to %q; %s", resp.StatusCode, resp.Header.Get("Location"), body(resp))
	}
	if got := len(e.loginCookies(c)); got != login.MaxLoginAttempts-1 {
		t.Errorf("%d attempts left after the newest signed in, want %d", got, login.MaxLoginAttempts-1)
	}
}

// TestLoginAttemptsBoundedInBytes: long return URLs make large login
// cookies; the oldest attempts make room so the total stays within 4 KiB,
// and a return URL too long for one attempt's cookie becomes "/".
func TestLoginAttemptsBoundedInBytes(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := newClient(t)
	long := "/p?q=" + strings.Repeat("x", 800)
	for range login.MaxLoginAttempts {
		e.clock.Advance(time.Second)
		e.startAttempt(t, c, long)
		if size := cookieBytes(e.loginCookies(c)); size > 4096 {
			t.Fatalf("login cookies take %d bytes, want at most 4096", size)
		}
	}
	live := e.loginCookies(c)
	if len(live) < 2 || len(live) >= login.MaxLoginAttempts {
		t.Fatalf("%d live attempts with %d-byte return URLs", len(live), len(long))
	}
	raw, err := e.codec.Open(live[0].Name, live[0].Value)
	if err != nil || !strings.Contains(string(raw), strings.Repeat("x", 800)) {
		t.Fatalf("an 800-byte return URL was not kept: %v", err)
	}
	t.Logf("%d live attempts with %d-byte return URLs: %d bytes of Cookie header", len(live), len(long), cookieBytes(live))

	name, _ := e.startAttempt(t, c, "/p?q="+strings.Repeat("y", 3000))
	for _, ck := range e.loginCookies(c) {
		if ck.Name == name {
			if raw, err := e.codec.Open(ck.Name, ck.Value); err != nil || !strings.Contains(string(raw), `"r":"/"`) || len(ck.Value) > 1536 {
				t.Fatalf("a 3000-byte return URL: %d-byte cookie %s (%v)", len(ck.Value), raw, err)
			}
		}
	}
}

// TestStaleLoginCookiesCleared: login cookies that do not open (expired,
// forged, the single cookie of older versions) are cleared by the next
// starts, at most eight at a time; the start response stays within nginx's
// default 4 KiB proxy_buffer_size even with eight to clear and the largest
// attempt cookie.
func TestStaleLoginCookiesCleared(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := newClient(t)
	for i := range 10 {
		e.putLoginCookie(c, loginPrefix+strings.Repeat(string(rune('A'+i)), 11), strings.Repeat("z", 200))
	}
	e.putLoginCookie(c, cookieName+"_login", "from-an-older-version")
	e.putLoginCookie(c, loginPrefix+"short", "not-an-attempt-name")

	// A return URL that just fits (the cookie is close to its 1536 bytes).
	rd := "/" + strings.Repeat("w", 880)
	resp := get(t, c, e.startURL(rd))
	var cleared, biggest int
	for _, ck := range resp.Cookies() {
		switch {
		case ck.MaxAge < 0:
			cleared++
		case strings.HasPrefix(ck.Name, loginPrefix):
			biggest = len(ck.Value)
		}
	}
	t.Logf("start response: %d header bytes, %d cookies cleared, a %d-byte attempt cookie", headerBytes(resp), cleared, biggest)
	if cleared != 8 || biggest < 1400 || biggest > 1536 {
		t.Fatalf("cleared %d (want 8), attempt cookie %d bytes (want 1400..1536): %q", cleared, biggest, resp.Header.Values("Set-Cookie"))
	}
	if n := headerBytes(resp); n > 3*1024 {
		t.Errorf("start response header is %d bytes, want at most 3 KiB (nginx proxy_buffer_size: 4 KiB)", n)
	}
	for i := range login.MaxLoginAttempts + 2 {
		e.clock.Advance(time.Second)
		e.startAttempt(t, c, "/live-"+string(rune('a'+i)))
	}
	u, _ := url.Parse(e.srv.URL)
	var opened int
	var stale []string
	for _, ck := range c.Jar.Cookies(u) {
		switch _, err := e.codec.Open(ck.Name, ck.Value); {
		case err == nil:
			opened++
		case strings.HasPrefix(ck.Name, cookieName+"_login") && ck.Name != loginPrefix+"short":
			stale = append(stale, ck.Name)
		}
	}
	if opened != login.MaxLoginAttempts || len(stale) != 0 {
		t.Errorf("%d attempts open (want %d), stale login cookies left: %v", opened, login.MaxLoginAttempts, stale)
	}
}

// TestSignOutClearsEveryAttempt: signing out ends every sign-in under way.
func TestSignOutClearsEveryAttempt(t *testing.T) {
	e := newEnv(t, envOptions{config: func(c *login.Config) { c.SkipProviderLogout = true }})
	c := newClient(t)
	cb, err := e.op.Authorize(context.Background(), c, e.startURL("/"), "alice", "wonderland")
	if err != nil {
		t.Fatal(err)
	}
	var started []string
	for i := range 3 {
		e.clock.Advance(time.Second)
		name, _ := e.startAttempt(t, c, "/t"+string(rune('0'+i)))
		started = append(started, name)
	}
	if got := len(e.loginCookies(c)); got != 4 {
		t.Fatalf("%d attempts, want 4", got)
	}
	resp := get(t, c, e.srv.URL+login.SignOutPath)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("sign-out: %d %s", resp.StatusCode, body(resp))
	}
	for _, n := range started {
		assertCleared(t, resp, n)
	}
	if cs := e.loginCookies(c); len(cs) != 0 {
		t.Fatalf("login cookies after sign-out: %v", names(cs))
	}
	assertRefused(t, get(t, c, cb.String()), http.StatusBadRequest, login.ReasonMissingLoginCookie)
}

// TestLoginCSRF: a callback URL from an attacker's own sign-in, opened in
// the victim's browser (which has sign-ins of its own under way), signs
// nobody in and leaves the victim's attempts alone.
func TestLoginCSRF(t *testing.T) {
	e := newEnv(t, envOptions{})
	attacker, victim := newClient(t), newClient(t)
	cb, err := e.op.Authorize(context.Background(), attacker, e.startURL("/"), "eve", "pw")
	if err != nil {
		t.Fatal(err)
	}
	own, _ := e.startAttempt(t, victim, "/mine")
	resp := get(t, victim, cb.String())
	assertRefused(t, resp, http.StatusBadRequest, login.ReasonStateMismatch)
	e.assertNoSession(t)
	if cs := e.loginCookies(victim); len(cs) != 1 || cs[0].Name != own {
		t.Fatalf("the victim's attempts after the forged callback: %v, want [%s]", names(cs), own)
	}
	// A browser with no sign-in under way is told so.
	assertRefused(t, get(t, newClient(t), cb.String()), http.StatusBadRequest, login.ReasonMissingLoginCookie)
}

// FuzzLoginCookies: any Cookie header, with any state, makes neither start
// nor the callback panic; the callback never signs in without an attempt
// this test started, and start clears at most eight cookies and sets one.
func FuzzLoginCookies(f *testing.F) {
	e := newEnv(f, envOptions{})
	f.Add(loginPrefix+"AAAAAAAAAAA=x; "+cookieName+"_login=y", "state")
	f.Add(loginPrefix+"AAAAAAAAAAA=; "+loginPrefix+"AAAAAAAAAAA=z", "")
	f.Add(strings.Repeat(loginPrefix+"BBBBBBBBBBB=v; ", 20), "s")
	f.Add("a=b; "+cookieName+"=garbage", "\x00")
	f.Fuzz(func(t *testing.T, cookie, state string) {
		for _, target := range []string{
			login.CallbackPath + "?code=c&state=" + url.QueryEscape(state),
			login.StartPath + "?rd=/",
		} {
			req := httptest.NewRequest(http.MethodGet, e.srv.URL+target, nil)
			req.Header.Set("Cookie", cookie)
			rec := httptest.NewRecorder()
			e.h.ServeHTTP(rec, req)
			resp := rec.Result()
			var set, cleared int
			for _, c := range resp.Cookies() {
				if c.MaxAge < 0 {
					cleared++
				} else {
					set++
				}
			}
			if strings.HasPrefix(target, login.CallbackPath) {
				if resp.StatusCode < 400 || set != 0 {
					t.Fatalf("callback with Cookie %q state %q: %d, %d cookies set", cookie, state, resp.StatusCode, set)
				}
				continue
			}
			if resp.StatusCode != http.StatusFound || set != 1 || cleared > 8 {
				t.Fatalf("start with Cookie %q: %d, %d set, %d cleared", cookie, resp.StatusCode, set, cleared)
			}
		}
	})
}
