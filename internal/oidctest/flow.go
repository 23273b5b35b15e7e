package oidctest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxHops bounds the redirects Authorize follows.
const maxHops = 10

// Authorize plays a browser signing in: it GETs startURL (a client's
// sign-in endpoint, which must redirect to this provider), follows the
// redirects to the login form, submits username and password, and follows
// the provider's redirects until one leaves the provider. That last
// Location, the client's callback URL with code and state, is returned
// without being visited, so a test can visit it, alter it or replay it.
//
// c must have a cookie jar (the client's login cookie lives there); c is
// not changed, redirects are followed by hand.
func (p *Provider) Authorize(ctx context.Context, c *http.Client, startURL, username, password string) (*url.URL, error) {
	if c == nil || c.Jar == nil {
		return nil, errors.New("oidctest: Authorize needs an http.Client with a cookie jar")
	}
	nc := noFollow(c)
	next, err := url.Parse(startURL)
	if err != nil {
		return nil, fmt.Errorf("oidctest: start URL: %w", err)
	}
	method, form := http.MethodGet, url.Values(nil)
	for range maxHops {
		resp, err := do(ctx, nc, method, next, form)
		if err != nil {
			return nil, err
		}
		here := resp.Request.URL
		switch {
		case isRedirect(resp.StatusCode):
			loc, err := here.Parse(resp.Header.Get("Location"))
			if err != nil {
				return nil, fmt.Errorf("oidctest: bad Location from %s: %w", here.Path, err)
			}
			if !p.owns(loc) {
				if p.owns(here) {
					return loc, nil // leaving the provider: the client's callback
				}
				return nil, fmt.Errorf("oidctest: %s redirected to %s, not to the provider", here.Path, loc.Redacted())
			}
			next, method, form = loc, http.MethodGet, nil
		case resp.StatusCode == http.StatusOK && p.owns(here) && here.Path == pathLogin && method == http.MethodGet:
			next, method = here, http.MethodPost
			form = url.Values{"id": {here.Query().Get("id")}, "username": {username}, "password": {password}}
		default:
			return nil, fmt.Errorf("oidctest: %s %s answered %d: %s", method, here.Path, resp.StatusCode, snippet(resp.Body))
		}
	}
	return nil, errors.New("oidctest: too many redirects")
}

// Login is Authorize followed by a visit to the callback URL. It returns the
// client's answer to the callback, not followed, with its body buffered.
func (p *Provider) Login(ctx context.Context, c *http.Client, startURL, username, password string) (*http.Response, error) {
	cb, err := p.Authorize(ctx, c, startURL, username, password)
	if err != nil {
		return nil, err
	}
	return Visit(ctx, c, cb)
}

// Visit GETs u with c without following redirects and returns the response
// with its body buffered (and closed).
func Visit(ctx context.Context, c *http.Client, u *url.URL) (*http.Response, error) {
	return do(ctx, noFollow(c), http.MethodGet, u, nil)
}

func noFollow(c *http.Client) *http.Client {
	nc := *c
	nc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &nc
}

// do sends one request and buffers the response body.
func do(ctx context.Context, c *http.Client, method string, u *url.URL, form url.Values) (*http.Response, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("oidctest: %w", err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept", "text/html")
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("oidctest: %s %s: %w", method, u.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("oidctest: read %s: %w", u.Path, err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

func (p *Provider) owns(u *url.URL) bool {
	iss, err := url.Parse(p.issuer)
	return err == nil && strings.EqualFold(u.Scheme, iss.Scheme) && strings.EqualFold(u.Host, iss.Host)
}

func isRedirect(code int) bool {
	return code == http.StatusFound || code == http.StatusSeeOther || code == http.StatusTemporaryRedirect || code == http.StatusMovedPermanently
}

func snippet(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 300))
	return strings.TrimSpace(string(b))
}
