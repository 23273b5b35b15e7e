package forwardauth

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/check"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/cookie"
)

// compatServer serves the oauth2-proxy names as cmd/gatehouse does, over
// the same store and policy as newFixture, bob signed in but not admitted.
func compatServer(t *testing.T) (srv *httptest.Server, st *fakeStore, alice, bob string) {
	t.Helper()
	codec, err := cookie.NewCodec([][]byte{make([]byte, 32)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st = &fakeStore{m: map[string]session.Session{}}
	p := &authz.Policy{LoginURL: "https://auth.example.com/oauth2/start", EmailDomains: []string{"example.com"}, Headers: authz.DefaultHeaderNames()}
	chk := check.New(st, codec, cookie.Settings{Name: "_gatehouse", Secure: true}, p, check.Options{Timeout: 50 * time.Millisecond})
	h := NewHandler(chk, Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	mux := http.NewServeMux()
	mux.Handle(OAuth2AuthPath, h.OAuth2Auth())
	mux.Handle(UserInfoPath, UserInfo(chk))
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	seal := func(s session.Session) string {
		id, _ := session.NewID()
		s.ID, s.ExpiresAt = id, time.Now().Add(time.Hour)
		st.m[id] = s
		v, err := codec.SealID("_gatehouse", id, time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return "_gatehouse=" + v
	}
	alice = seal(session.Session{User: "alice", Email: "alice@example.com", EmailVerified: true, Groups: []string{"dev", "ops"}, PreferredUsername: "ali"})
	bob = seal(session.Session{User: "bob", Email: "bob@other.test", EmailVerified: true})
	return srv, st, alice, bob
}

// snippet is the sub-request of oauth2-proxy's documented nginx snippet:
// proxy_set_header Host $host; X-Forwarded-Uri $request_uri.
func snippet(t *testing.T, srv *httptest.Server, path, uri, cookie string, hdr map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+path, nil)
	req.Host = "app.example.com"
	if uri != "" {
		req.Header.Set("X-Forwarded-Uri", uri)
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	req.Header.Set("Accept", "text/html")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestOAuth2AuthAnswersAsOAuth2Proxy(t *testing.T) {
	srv, st, alice, bob := compatServer(t)
	resp := snippet(t, srv, OAuth2AuthPath, "/app?x=1", alice, map[string]string{"X-Auth-Request-Email": "ceo@example.com"})
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("signed in: %d, want 202", resp.StatusCode)
	}
	if got := resp.Header.Get("X-Auth-Request-Email"); got != "alice@example.com" {
		t.Errorf("X-Auth-Request-Email %q", got)
	}
	resp = snippet(t, srv, OAuth2AuthPath, "/app?x=1", "", nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no session: %d, want 401", resp.StatusCode)
	}
	if got, want := resp.Header.Get(LoginHeader), "https://auth.example.com/oauth2/start?rd="+"https%3A%2F%2Fapp.example.com%2Fapp%3Fx%3D1"; got != want {
		t.Errorf("login URL %q, want %q (the host is nginx's $host, the target X-Forwarded-Uri)", got, want)
	}
	if resp.Header.Get("Location") != "" {
		t.Error("a 401 with Location")
	}
	if resp := snippet(t, srv, OAuth2AuthPath, "/app", bob, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("not admitted: %d, want 403", resp.StatusCode)
	}
	st.mu.Lock()
	st.fail = errors.New("redis down")
	st.mu.Unlock()
	resp = snippet(t, srv, OAuth2AuthPath, "/app", alice, nil)
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get(ReasonHeader) != "store_unavailable" {
		t.Errorf("store down: %d %s, want 403 store_unavailable (never an allow)", resp.StatusCode, resp.Header.Get(ReasonHeader))
	}
}

func TestOAuth2AuthRefusesAmbiguity(t *testing.T) {
	srv, _, alice, _ := compatServer(t)
	for name, tc := range map[string]struct {
		path, uri string
		hdr       map[string]string
	}{
		"no X-Forwarded-Uri":                 {OAuth2AuthPath, "", nil},
		"client's X-Forwarded-Host":          {OAuth2AuthPath, "/app", map[string]string{"X-Forwarded-Host": "public.example.com"}},
		"both X-Original-URL and Uri":        {OAuth2AuthPath, "/app", map[string]string{"X-Original-URL": "https://app.example.com/public"}},
		"allowed_groups query":               {OAuth2AuthPath + "?allowed_groups=admins", "/app", nil},
		"two methods":                        {OAuth2AuthPath, "/app", map[string]string{"X-Original-Method": "GET", "X-Forwarded-Method": "DELETE"}},
		"a target that is not a path":        {OAuth2AuthPath, "app", nil},
		"scheme other than http or https":    {OAuth2AuthPath, "/app", map[string]string{"X-Forwarded-Proto": "gopher"}},
		"a direct call of /oauth2/auth":      {OAuth2AuthPath, "/oauth2/auth", nil},
		"gatehouse's own path, dot segments": {OAuth2AuthPath, "/app/../oauth2/userinfo", nil},
		"own path as X-Original-URL":         {OAuth2AuthPath, "", map[string]string{"X-Original-URL": "https://app.example.com/oauth2/auth"}},
	} {
		t.Run(name, func(t *testing.T) {
			resp := snippet(t, srv, tc.path, tc.uri, alice, tc.hdr)
			if resp.StatusCode != http.StatusForbidden || resp.Header.Get(ReasonHeader) != "bad_request" {
				t.Errorf("%d %s, want 403 bad_request", resp.StatusCode, resp.Header.Get(ReasonHeader))
			}
			if resp.Header.Get("X-Auth-Request-Email") != "" {
				t.Error("identity sent with a refusal")
			}
		})
	}
	// X-Forwarded-Host equal to Host, and gatehouse's own X-Original-URL form, pass.
	if resp := snippet(t, srv, OAuth2AuthPath, "/app", alice, map[string]string{"X-Forwarded-Host": "APP.example.com"}); resp.StatusCode != http.StatusAccepted {
		t.Errorf("matching X-Forwarded-Host: %d", resp.StatusCode)
	}
	if resp := snippet(t, srv, OAuth2AuthPath, "", alice, map[string]string{"X-Original-URL": "https://app.example.com/app"}); resp.StatusCode != http.StatusAccepted {
		t.Errorf("X-Original-URL form: %d", resp.StatusCode)
	}
}

func TestUserInfo(t *testing.T) {
	srv, st, alice, _ := compatServer(t)
	resp := snippet(t, srv, UserInfoPath, "", alice, map[string]string{"Authorization": "Bearer x"})
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"user": "alice", "email": "alice@example.com", "groups": []any{"dev", "ops"}, "preferredUsername": "ali"}
	if len(got) != len(want) || got["user"] != "alice" || got["email"] != "alice@example.com" || got["preferredUsername"] != "ali" || len(got["groups"].([]any)) != 2 {
		t.Errorf("userinfo %v, want %v", got, want)
	}
	if resp := snippet(t, srv, UserInfoPath, "", "", map[string]string{"Authorization": "Bearer x"}); resp.StatusCode != 401 {
		t.Errorf("no cookie: %d, want 401 (a bearer token is never read)", resp.StatusCode)
	}
	if resp := snippet(t, srv, UserInfoPath, "", "_gatehouse=forged", nil); resp.StatusCode != 401 {
		t.Errorf("bad cookie: %d, want 401", resp.StatusCode)
	}
	st.mu.Lock()
	st.fail = errors.New("redis down")
	st.mu.Unlock()
	resp = snippet(t, srv, UserInfoPath, "", alice, nil)
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 503 || strings.Contains(string(b), "alice") {
		t.Errorf("store down: %d %s, want 503", resp.StatusCode, b)
	}
}
