//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// oauth2ProxySnippet is nginx in front of an app with the auth_request
// snippet oauth2-proxy documents (docs/configuration/integrations/nginx):
// /oauth2/ to the auth service, "location = /oauth2/auth" with Host $host
// and X-Forwarded-Uri $request_uri, and "auth_request /oauth2/auth;" with
// "error_page 401 = @oauth2_signin;" for the app. Only the addresses,
// files and one variable differ: the sign-in redirect's rd uses
// $http_host, which keeps the test's non-default port ($host drops it).
const oauth2ProxySnippet = `worker_processes 1;
pid {{dir}}/nginx.pid;
error_log {{dir}}/nginx-error.log info;
events { worker_connections 256; }
http {
  access_log {{dir}}/nginx-access.log;
  client_body_temp_path {{dir}}/body;
  proxy_temp_path {{dir}}/proxy;
  fastcgi_temp_path {{dir}}/fastcgi;
  uwsgi_temp_path {{dir}}/uwsgi;
  scgi_temp_path {{dir}}/scgi;
  server {
    listen 127.0.0.1:{{port}} ssl;
    server_name {{host}};
    ssl_certificate {{crt}};
    ssl_certificate_key {{key}};

    location /oauth2/ {
      proxy_pass       http://{{gatehouse}};
      proxy_set_header Host                    $host;
      proxy_set_header X-Real-IP               $remote_addr;
      proxy_set_header X-Auth-Request-Redirect $request_uri;
    }
    location = /oauth2/auth {
      proxy_pass       http://{{gatehouse}};
      proxy_set_header Host             $host;
      proxy_set_header X-Real-IP        $remote_addr;
      proxy_set_header X-Forwarded-Uri  $request_uri;
      proxy_set_header Content-Length   "";
      proxy_pass_request_body           off;
    }
    location / {
      auth_request /oauth2/auth;
      error_page 401 = @oauth2_signin;
      auth_request_set $user   $upstream_http_x_auth_request_user;
      auth_request_set $email  $upstream_http_x_auth_request_email;
      proxy_set_header X-User  $user;
      proxy_set_header X-Email $email;
      proxy_pass http://{{app}};
    }
    location @oauth2_signin {
      return 302 /oauth2/sign_in?rd=$scheme://$http_host$request_uri;
    }
  }
}
`

var startLink = regexp.MustCompile(`href="(/oauth2/start[^"]*)"`)

// TestOAuth2ProxyCompat: an nginx configured for oauth2-proxy works
// unchanged in front of gatehouse: an anonymous visit is sent to
// /oauth2/sign_in with rd, the sign-in page starts the login, alice comes
// back to the page she asked for with her identity in the snippet's
// X-User / X-Email (whatever she sent herself), /oauth2/userinfo shows her,
// /oauth2/auth called directly and a client's own X-Forwarded-Host are
// refused (403, app not reached), and bob, signed in but not admitted,
// gets 403.
func TestOAuth2ProxyCompat(t *testing.T) {
	s := newSuite(t)
	ctx := t.Context()
	ps := s.setups["nginx"] // its callback is registered at the provider
	ps.GatehouseAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	gh, err := startGatehouse(ctx, ps.Dir, "gatehouse-compat", s.tools["gatehouse"], gatehouseConfig{
		Addr: ps.GatehouseAddr, Issuer: s.op.issuer, RedirectURL: ps.origin() + "/oauth2/callback",
		CookieKey: newCookieKey(), RedisAddr: s.redisAddr, KeyPrefix: s.prefix + "compat:",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gh.stop)
	crt, key, err := selfSignedCert(ps.Dir, ps.Host)
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.NewReplacer("{{dir}}", ps.Dir, "{{port}}", fmt.Sprint(ps.HTTPSPort), "{{host}}", ps.Host,
		"{{crt}}", crt, "{{key}}", key, "{{gatehouse}}", ps.GatehouseAddr, "{{app}}", s.echoAddr).Replace(oauth2ProxySnippet)
	confPath := filepath.Join(ps.Dir, "nginx-oauth2-proxy.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	px, err := startProc(ps.Dir, "nginx-oauth2-proxy", nil, s.tools["nginx"], "-e", filepath.Join(ps.Dir, "nginx-error.log"), "-p", ps.Dir, "-c", confPath, "-g", "daemon off;")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(px.stop)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("---- gatehouse log (tail) ----\n%s\n---- nginx log (tail) ----\n%s", gh.tail(4000), px.tail(4000))
		}
	})
	if err := s.waitRoute(ctx, px, ps); err != nil {
		t.Fatal(err)
	}

	page := ps.origin() + "/app/runs?tab=1"
	plain := newClient(false)
	r, err := get(ctx, plain, page, [][2]string{{"Accept", "text/html"}})
	if err != nil {
		t.Fatal(err)
	}
	// nginx makes the snippet's relative Location absolute.
	if want := ps.origin() + "/oauth2/sign_in?rd=" + page; r.status != http.StatusFound || r.header.Get("Location") != want {
		t.Fatalf("anonymous: %d Location %q, want 302 %q", r.status, r.header.Get("Location"), want)
	}
	signIn := func(u opUser) (*loginResult, *http.Client) {
		t.Helper()
		c := newClient(true)
		r, err := get(ctx, c, page, [][2]string{{"Accept", "text/html"}})
		if err != nil {
			t.Fatal(err)
		}
		m := startLink.FindSubmatch(r.body)
		if r.status != http.StatusOK || m == nil {
			t.Fatalf("sign-in page: %d %.300s", r.status, r.body)
		}
		res, err := goLogin(ctx, c, ps.origin()+html.UnescapeString(string(m[1])), u)
		if err != nil {
			t.Fatalf("%s: %v", u.Username, err)
		}
		return res, c
	}

	res, alice := signIn(userAlice)
	if res.Status != http.StatusOK || res.FinalURL != page {
		t.Fatalf("alice ends at %d %s, want 200 %s: %.300s", res.Status, res.FinalURL, page, res.Body)
	}
	r, err = get(ctx, alice, page, [][2]string{{"X-Email", "ceo@allowed.test"}, {"X-User", "root"}, {"X-Auth-Request-Email", "ceo@allowed.test"}})
	if err != nil {
		t.Fatal(err)
	}
	e, err := decodeEcho(r.body)
	if err != nil || r.status != http.StatusOK {
		t.Fatalf("alice at the app: %d %v %.300s", r.status, err, r.body)
	}
	if got := e.headerValues("X-Email"); len(got) != 1 || got[0] != userAlice.Email {
		t.Errorf("X-Email at the app %q, want only %q", got, userAlice.Email)
	}
	if got := e.headerValues("X-User"); len(got) != 1 || got[0] == "root" || got[0] == "" {
		t.Errorf("X-User at the app %q, want gatehouse's user only", got)
	}

	r, err = get(ctx, alice, ps.origin()+"/oauth2/userinfo", nil)
	if err != nil {
		t.Fatal(err)
	}
	var info map[string]any
	if err := json.Unmarshal(r.body, &info); r.status != http.StatusOK || err != nil || info["email"] != userAlice.Email {
		t.Errorf("userinfo: %d %v %s", r.status, err, r.body)
	}
	if r, err := get(ctx, plain, ps.origin()+"/oauth2/userinfo", nil); err != nil || r.status != http.StatusUnauthorized {
		t.Errorf("userinfo without a session: %v %v, want 401", r, err)
	}

	// /oauth2/auth called directly (the snippet's location is not
	// internal): refused, so its answer never shows alice her own
	// identity headers.
	r, err = get(ctx, alice, ps.origin()+"/oauth2/auth", nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.status != http.StatusForbidden || r.header.Get("X-Auth-Request-Email") != "" {
		t.Errorf("a direct /oauth2/auth: %d, X-Auth-Request-Email %q; want 403 without identity", r.status, r.header.Get("X-Auth-Request-Email"))
	}

	probe := "xfh-" + randHex(4)
	r, err = get(ctx, alice, ps.origin()+"/app?probe="+probe, [][2]string{{"X-Forwarded-Host", "elsewhere.localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.status != http.StatusForbidden || s.echo.seen(probe) != 0 {
		t.Errorf("a client's X-Forwarded-Host: %d, app reached %d times; want 403, never reached", r.status, s.echo.seen(probe))
	}

	res, _ = signIn(userBob)
	if res.Status != http.StatusForbidden {
		t.Errorf("bob ends at %d %s, want 403", res.Status, res.FinalURL)
	}
}
