//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/internal/login"
	"github.com/gatehouse/gatehouse/internal/oidctest"
	"github.com/gatehouse/gatehouse/internal/redirect"
	"github.com/gatehouse/gatehouse/internal/session/cookie"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/session"
)

// F1. deploy/haproxy/README.md: "If you rename the identity headers
// (headers.*), rename both lines of their pair and the variables". Done so
// for headers.user: X-User, a client-sent X-User reaches the app on a skip
// route (any allow without identity): step 2's del-header regexes know only
// the X-Auth-Request-* names, and the agent sends no variable for an empty
// header, so nothing removes it. Every other adapter removes it.
func TestReviewHAProxyRenamedHeaderSpoofed(t *testing.T) {
	env := newReviewEnv(t, reviewOptions{
		Policy: func(p *authz.Policy) { p.Headers.User = "X-User" },
		Edits: map[string][]string{"haproxy": {"set-header X-Auth-Request-User ", "set-header X-User ",
			"del-header X-Auth-Request-User ", "del-header X-User ", "up_x_auth_request_user", "up_x_user"}},
	})
	if r := env.get(t, "haproxy", "/public/x", [][2]string{{"X-User", "ceo"}}); r.status != http.StatusOK {
		t.Fatalf("status %d", r.status)
	}
	for _, req := range env.reached() {
		if v := req.values("X-User"); len(v) != 0 {
			t.Errorf("the app got a client-sent identity header on an anonymous allow: X-User %q", v)
		}
	}
}

// F2. headers.authorization (docs/policy.md: "Bearer <token>; removed on
// anonymous allows") through the shipped haproxy.cfg: nothing removes or
// sets Authorization, so the client's own value reaches the app on a public
// route and on a signed-in allow (in place of the session's token).
// X-Gatehouse-Assertion (assertion.enabled) is the same.
func TestReviewHAProxyAuthorizationPassed(t *testing.T) {
	env := newReviewEnv(t, reviewOptions{Policy: func(p *authz.Policy) {
		p.Headers.Authorization = "Authorization"
		p.Headers.Assertion = "X-Gatehouse-Assertion"
	}})
	for _, c := range []struct{ path, cookie string }{{"/public/x", ""}, {"/x", env.cookies["alice"]}} {
		hs := [][2]string{{"Authorization", "Bearer forged"}, {"X-Gatehouse-Assertion", "forged"}}
		if c.cookie != "" {
			hs = append(hs, [2]string{"Cookie", c.cookie})
		}
		if r := env.get(t, "haproxy", c.path, hs); r.status != http.StatusOK {
			t.Fatalf("%s: status %d", c.path, r.status)
		}
		for _, req := range env.reached() {
			for _, name := range []string{"Authorization", "X-Gatehouse-Assertion"} {
				if v := req.values(name); len(v) != 0 {
					t.Errorf("%s: the app got the client's %s %q", c.path, name, v)
				}
			}
		}
	}
}

// F3. HTTP/2 "OPTIONS *" through HAProxy: the agent is given an absolute
// url without a path, judges "/", and HAProxy sends "OPTIONS * HTTP/1.1"
// to the app. Over HTTP/1.1 the same request is refused (400).
func TestReviewHAProxyAsteriskH2(t *testing.T) {
	env := newReviewEnv(t, reviewOptions{})
	ps := env.proxies["haproxy"]
	addr := "127.0.0.1:" + strconv.Itoa(ps.HTTPSPort)
	fields := [][2]string{{":method", "OPTIONS"}, {":scheme", "https"}, {":authority", ps.Host + ":" + strconv.Itoa(ps.HTTPSPort)},
		{":path", "*"}, {"cookie", env.cookies["alice"]}}
	st, err := sendH2(context.Background(), addr, ps.Host, fields)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range env.reached() {
		t.Errorf("status %d: gatehouse judged \"/\", the app got %s", st, r)
	}
}

// F4. nginx asks again at forward-auth after a 403. When that second check
// allows (the store answered the second time), the browser gets
// gatehouse's empty 200 with every upstream header proxy_hide_header does
// not name: Authorization: Bearer <the session's access token>.
func TestReviewNginxReaskAllowLeaks(t *testing.T) {
	fs := &flakyStore{}
	env := newReviewEnv(t, reviewOptions{
		Policy:  func(p *authz.Policy) { p.Headers.Authorization = "Authorization" },
		Session: func(s *session.Session) { s.AccessToken = "secret-access-token" },
		Store:   func(s session.Store) session.Store { fs.Store = s; return fs },
	})
	fs.fail.Store(1) // the first check's lookup fails: 403 store_unavailable
	r := env.get(t, "nginx", "/x", [][2]string{{"Cookie", env.cookies["alice"]}, {"Accept", "text/html"}})
	if v := r.header.Values("Authorization"); len(v) != 0 {
		t.Errorf("the browser got Authorization %q", v)
	}
	if r.status == http.StatusOK {
		t.Errorf("gatehouse's empty 200 reached the browser (want the try-again page or a retry)")
	}
	if got := env.reached(); len(got) != 0 {
		t.Errorf("the app was reached: %v", got)
	}
}

// flakyStore fails the next fail Loads, then reads through.
type flakyStore struct {
	session.Store
	fail atomic.Int32
}

func (f *flakyStore) Load(ctx context.Context, id string) (*session.Session, error) {
	if f.fail.Add(-1) >= 0 {
		return nil, errors.New("store down (test)")
	}
	return f.Store.Load(ctx, id)
}

// F5. Identity values with control characters (from the provider's
// claims) reached the app differently per proxy: HAProxy's log-format
// wrote CR LF as "%0D%0A" (and DEL as %7F), Go's net/http (nginx, Traefik,
// Caddy) as spaces, so one account had two spellings. Now refused (403
// invalid_identity) by every adapter alike.
func TestReviewIdentityControlCharacters(t *testing.T) {
	env := newReviewEnv(t, reviewOptions{
		Users: [][2]string{{"eve", "eve@example.com"}},
		Session: func(s *session.Session) {
			if s.User == "eve" {
				s.PreferredUsername = "eve\r\nX-Injected: 1"
			}
		},
	})
	for _, proxy := range []string{"nginx", "haproxy"} {
		r := env.get(t, proxy, "/x", [][2]string{{"Cookie", env.cookies["eve"]}})
		if r.status != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403 (invalid_identity)", proxy, r.status)
		}
		for _, req := range env.reached() {
			t.Errorf("%s: the app got an identity with control characters: %s", proxy, req)
		}
	}
}

// F6. Sign-out through nginx's /oauth2/ location (proxy_buffer_size left
// at its default, one 4 KiB page): the 302 to the provider's end_session
// carries the ID token (id_token_hint) and the return URL
// (post_logout_redirect_uri, up to redirect.MaxLength = 4 KiB before
// encoding), plus up to nine Set-Cookie clears. A long return URL (the
// forbidden page's "use another account" link returns to the page's full
// URL) or a large ID token (groups in it) exceeds 4 KiB and nginx answers
// 502 "upstream sent too big header": the session is already deleted, but
// the browser never reaches the provider's logout, so "use another account"
// signs the same account in again.
func TestReviewNginxSignOutTooBigHeader(t *testing.T) {
	op := oidctest.Start(t, oidctest.Options{})
	host := "app.nginx-review.localhost"
	env := newReviewEnv(t, reviewOptions{
		Session: func(s *session.Session) { s.IDToken = "eyJ" + strings.Repeat("x", 1200) },
		OAuth2: func(st session.Store, codec *cookie.Codec, cs cookie.Settings) http.Handler {
			rv, err := redirect.NewValidator([]string{host})
			if err != nil {
				t.Fatal(err)
			}
			h, err := login.New(login.Config{IssuerURL: op.Issuer(), ClientID: oidctest.DefaultClientID, ClientSecret: oidctest.DefaultClientSecret,
				RedirectURL: "https://" + host + "/oauth2/callback"}, st, codec, cs, rv, login.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return h
		},
	})
	port := env.proxies["nginx"].HTTPSPort
	back := fmt.Sprintf("https://%s:%d/experiments?filter=%s", host, port, strings.Repeat("a", 2500))
	r := env.get(t, "nginx", "/oauth2/sign_out?rd="+url.QueryEscape(back), [][2]string{{"Cookie", env.cookies["alice"]}, {"Sec-Fetch-Site", "same-origin"}})
	if r.status != http.StatusFound {
		t.Errorf("sign-out: %d, want 302 to the provider's end_session (%d bytes of return URL)", r.status, len(back))
	}
	// HAProxy (tune.bufsize 16 KiB) passes the same answer.
	if r := env.get(t, "haproxy", "/oauth2/sign_out?rd=/", [][2]string{{"Cookie", env.cookies["mallory"]}, {"Sec-Fetch-Site", "same-origin"}}); r.status != http.StatusFound {
		t.Errorf("haproxy sign-out: %d", r.status)
	}
}
