package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"time"

	"github.com/gatehouse/gatehouse/internal/oidctest"
)

// httpsJar is a cookie jar that treats every URL as https, so that the
// Secure cookies gatehouse and oauth2-proxy set in production (cookie.secure
// true, --cookie-secure) travel over the benchmark's plain loopback HTTP.
type httpsJar struct{ *cookiejar.Jar }

func asHTTPS(u *url.URL) *url.URL { v := *u; v.Scheme = "https"; return &v }

func (j httpsJar) SetCookies(u *url.URL, cs []*http.Cookie) { j.Jar.SetCookies(asHTTPS(u), cs) }
func (j httpsJar) Cookies(u *url.URL) []*http.Cookie        { return j.Jar.Cookies(asHTTPS(u)) }

// login signs alice in through startURL (a client's sign-in endpoint: the
// real login flow, with the provider's form and the client's callback) and
// returns the session cookie named name (or __Host-name, the name a
// host-only Secure cookie gets) that the callback set.
func login(ctx context.Context, p *oidctest.Provider, startURL, name string) (*http.Cookie, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: httpsJar{jar}, Timeout: 10 * time.Second}
	resp, err := p.Login(ctx, c, startURL, "alice", "alice")
	if err != nil {
		return nil, fmt.Errorf("login at %s: %w", startURL, err)
	}
	for _, ck := range resp.Cookies() {
		if (ck.Name == name || ck.Name == "__Host-"+name) && ck.Value != "" {
			return ck, nil
		}
	}
	return nil, fmt.Errorf("login at %s: the callback answered %d without a %s cookie", startURL, resp.StatusCode, name)
}
