//go:build e2e

package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// newClient returns an HTTP client that reaches every *.localhost name
// (and localhost) on 127.0.0.1, accepts the suite's self-signed
// certificates, and follows redirects only if follow is set.
func newClient(follow bool) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if host == "localhost" || strings.HasSuffix(host, ".localhost") {
				addr = net.JoinHostPort("127.0.0.1", port)
			}
			return d.DialContext(ctx, network, addr)
		},
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // test certificates only
		// HTTP/1.1 on purpose: header names go on the wire exactly as the
		// tests spell them (HTTP/2 would lower-case them); the browser
		// covers HTTP/2.
		ForceAttemptHTTP2: false,
		DisableKeepAlives: true,
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Transport: tr, Jar: jar, Timeout: 15 * time.Second}
	if !follow {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return c
}

var loginIDPattern = regexp.MustCompile(`name="id" value="([^"]+)"`)

// loginResult is where a Go-driven login ended.
type loginResult struct {
	FinalURL string
	Status   int
	Body     []byte
	Cookies  []*http.Cookie // the client's cookies for the app's origin
}

// cookieHeader is the Cookie header that sends every cookie of r.
func (r *loginResult) cookieHeader() string {
	parts := make([]string, 0, len(r.Cookies))
	for _, ck := range r.Cookies {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	return strings.Join(parts, "; ")
}

// aliceSessions signs alice in n times through the proxy of ps, each time
// with a fresh client, and returns each session's Cookie header; probe
// names the logins in the app's log.
func aliceSessions(ctx context.Context, t *testing.T, ps proxySetup, n int, probe string) []string {
	t.Helper()
	var cookies []string
	for range n {
		appURL := ps.origin() + "/dashboard?probe=" + probe + "-" + randHex(4)
		res, err := goLogin(ctx, newClient(true), appURL, userAlice)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != http.StatusOK || res.FinalURL != appURL {
			t.Fatalf("login: %d at %s: %.300s", res.Status, res.FinalURL, res.Body)
		}
		cookies = append(cookies, res.cookieHeader())
	}
	return cookies
}

// goLogin signs in as u through the proxy with a plain HTTP client: open
// appURL as a browser would, follow the redirects to the provider's login
// form, post the credentials, follow the redirects back.
func goLogin(ctx context.Context, c *http.Client, appURL string, u opUser) (*loginResult, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, appURL, nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("open app: %w", err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	m := loginIDPattern.FindSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil || !strings.HasPrefix(resp.Request.URL.Path, "/login/") {
		return nil, fmt.Errorf("expected the provider's login form, got %s at %s: %.300s", resp.Status, resp.Request.URL, body)
	}
	formURL := resp.Request.URL.ResolveReference(&url.URL{Path: "/login/username"})
	form := url.Values{"id": {string(m[1])}, "username": {u.Username}, "password": {u.Password}}
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, formURL.String(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	resp, err = c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("post login form: %w", err)
	}
	body, _ = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	au, _ := url.Parse(appURL)
	return &loginResult{FinalURL: resp.Request.URL.String(), Status: resp.StatusCode, Body: body, Cookies: c.Jar.Cookies(au)}, nil
}

// decodeEcho parses the echo app's answer.
func decodeEcho(b []byte) (*echoReply, error) {
	var e echoReply
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("not an echo app reply: %w: %.300s", err, b)
	}
	return &e, nil
}

// normName folds a header name the way WSGI does: lower case, "_" as "-".
func normName(n string) string {
	return strings.ReplaceAll(strings.ToLower(n), "_", "-")
}

// headerValues returns every value the app received under any spelling
// of name (case, "_" for "-").
func (e *echoReply) headerValues(name string) []string {
	var out []string
	for k, v := range e.Headers {
		if normName(k) == normName(name) {
			out = append(out, v...)
		}
	}
	return out
}
