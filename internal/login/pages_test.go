package login_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/login"
	"github.com/gatehouse/gatehouse/internal/pages"
)

// signedOutURL is where a local sign-out sends the browser for rd.
func signedOutURL(rd string) string { return login.SignedOutPath + "?rd=" + url.QueryEscape(rd) }

func serveOnce(t *testing.T, h http.Handler, target string) (*httptest.ResponseRecorder, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	return rec, rec.Body.String()
}

// TestSignedOutPage: the page offers "sign in again" to the checked rd,
// and warns that the provider may sign the user straight back in exactly
// when sign-out did not end the provider's session.
func TestSignedOutPage(t *testing.T) {
	keeps := "may still have you signed in"
	for name, c := range map[string]struct {
		skipProviderLogout bool
		note               bool
	}{
		"provider with end_session_endpoint": {false, false},
		"provider logout off":                {true, true},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envOptions{config: func(cfg *login.Config) { cfg.SkipProviderLogout = c.skipProviderLogout }})
			rec, b := serveOnce(t, e.h.SignedOutHandler(), login.SignedOutPath+"?rd="+url.QueryEscape("/app?x=1"))
			if rec.Code != 200 || !strings.Contains(b, "You are signed out") {
				t.Fatalf("%d %s", rec.Code, b)
			}
			if want := `href="/oauth2/start?rd=%2Fapp%3Fx%3D1">Sign in again`; !strings.Contains(b, want) {
				t.Errorf("no %q in %s", want, b)
			}
			if strings.Contains(b, keeps) != c.note {
				t.Errorf("provider-session note shown: %v, want %v", !c.note, c.note)
			}
			if got := rec.Header().Get("Content-Security-Policy"); got != pages.CSP {
				t.Errorf("CSP %q", got)
			}
		})
	}
	e := newEnv(t, envOptions{})
	_, b := serveOnce(t, e.h.SignedOutHandler(), login.SignedOutPath+"?rd="+url.QueryEscape("https://evil.example/"))
	if !strings.Contains(b, `href="/oauth2/start?rd=%2F"`) {
		t.Errorf("unsafe rd kept: %s", b)
	}
}

// TestSignInPage lists the provider, named by the option or the issuer's
// host, starting the sign-in with the checked rd.
func TestSignInPage(t *testing.T) {
	e := newEnv(t, envOptions{})
	host := strings.TrimPrefix(e.op.Issuer(), "http://")
	_, b := serveOnce(t, e.h.SignInHandler(), login.SignInPath+"?rd=/x")
	if want := `href="/oauth2/start?rd=%2Fx">Continue with ` + host; !strings.Contains(b, want) {
		t.Errorf("no %q in %s", want, b)
	}
	e = newEnv(t, envOptions{opts: login.Options{ProviderName: "Acme ID"}})
	if _, b := serveOnce(t, e.h.SignInHandler(), login.SignInPath); !strings.Contains(b, "Continue with Acme ID") {
		t.Errorf("provider name not used: %s", b)
	}
}

// TestErrorPageIsDesigned: a failed sign-in shows the designed page of the
// configured pages (an override here), with the reason in words and as a
// code, and the pages' security headers.
func TestErrorPageIsDesigned(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "error.html"), []byte(`{{define "title"}}Oops{{end}}{{define "content"}}<h1>Custom: {{.Page.Message}}</h1><code>{{.Page.Reason}}</code>{{end}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	pg, err := pages.New(pages.Options{TemplatesDir: dir, ProductName: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{opts: login.Options{Pages: pg}})
	resp := get(t, newClient(t), e.srv.URL+login.CallbackPath+"?state=x&code=y")
	b := body(resp)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(b, "<h1>Custom: This sign-in was not started in this browser") || !strings.Contains(b, "<code>missing_login_cookie</code>") || !strings.Contains(b, "<title>Oops · Acme</title>") {
		t.Errorf("%d %s", resp.StatusCode, b)
	}
	if got := resp.Header.Get("Content-Security-Policy"); got != pages.CSP {
		t.Errorf("CSP %q", got)
	}
}
