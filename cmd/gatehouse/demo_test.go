package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestDemoFullLogin drives "gatehouse demo" through a login as alice, a 403
// for bob, and a sign-out.
func TestDemoFullLogin(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	setup := make(chan demoSetup, 1)
	done := make(chan error, 1)
	go func() {
		done <- runDemo(ctx, "127.0.0.1:0", "127.0.0.1:0", io.Discard, func(s demoSetup) { setup <- s })
	}()
	var s demoSetup
	select {
	case s = <-setup:
	case err := <-done:
		t.Fatalf("demo did not start: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("demo did not start in time")
	}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo: %v", err)
		}
	}()

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	page := s.URL + "/dashboard?tab=runs"

	// Not signed in: the proxy sends the browser to gatehouse's login.
	req, _ := http.NewRequest("GET", page, nil)
	req.Header.Set("Accept", "text/html")
	resp, err := (&http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 302 {
		t.Fatalf("before login: %d", resp.StatusCode)
	}
	start, _ := url.Parse(resp.Header.Get("Location"))
	start = mustURL(t, s.URL).ResolveReference(start)

	cb, err := s.Provider.Login(ctx, browser, start.String(), "alice", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if cb.Header.Get("Location") != page {
		t.Fatalf("callback went to %q, want %q", cb.Header.Get("Location"), page)
	}
	body := get(t, browser, page)
	if !strings.Contains(body, "Signed in as alice@example.com") || !strings.Contains(body, "/dashboard?tab=runs") {
		t.Fatalf("app page does not show alice: %s", body)
	}

	// Sign out, then the app asks for a login again.
	get(t, browser, s.URL+"/oauth2/sign_out")
	req, _ = http.NewRequest("GET", page, nil)
	req.Header.Set("Accept", "application/json")
	resp, err = browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("after sign-out: %d", resp.StatusCode)
	}

	// bob signs in but is refused.
	jar2, _ := cookiejar.New(nil)
	bob := &http.Client{Jar: jar2, Timeout: 10 * time.Second}
	if _, err := s.Provider.Login(ctx, bob, s.URL+"/oauth2/start?rd=/", "bob", "bob"); err != nil {
		t.Fatal(err)
	}
	resp, err = bob.Get(page)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("bob: %d, want 403", resp.StatusCode)
	}
}

func get(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Accept", "text/html")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
