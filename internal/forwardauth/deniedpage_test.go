package forwardauth

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

// TestDeniedPageNeverAnswersAnAllow: nginx hands the answer of
// DeniedPagePath to the browser as it is. A refusal comes back as the
// forward-auth reply; a request that is allowed by now (the refusal no
// longer holds) comes back as a 307 to its own URL, never as the allow
// with its upstream identity headers.
func TestDeniedPageNeverAnswersAnAllow(t *testing.T) {
	f := newFixture(t)
	ask := func(uri string, hdr map[string]string) *http.Response {
		t.Helper()
		req := f.forwardAuthRequest(uri, hdr)
		req.URL.Path = DeniedPagePath
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}

	resp := ask("/dash?tab=1", map[string]string{"Cookie": f.cookie})
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "https://app.example.com/dash?tab=1" {
		t.Fatalf("allowed by now: %d, Location %q; want 307 to the same URL", resp.StatusCode, resp.Header.Get("Location"))
	}
	for name := range resp.Header {
		if strings.HasPrefix(name, "X-Auth-Request-") || name == "Authorization" || name == "Cookie" {
			t.Errorf("the 307 carries the upstream header %s", name)
		}
	}
	if resp := ask("/public/x", nil); resp.StatusCode != http.StatusTemporaryRedirect {
		t.Errorf("a skip route: %d, want 307", resp.StatusCode)
	}

	// Refusals are the forward-auth replies, status and all.
	if resp := ask("/dash", map[string]string{"Accept": "application/json"}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no session: %d, want 401", resp.StatusCode)
	}
	f.store.fail = errors.New("connection refused")
	if resp := ask("/dash", map[string]string{"Cookie": f.cookie}); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("store down: %d, want 503", resp.StatusCode)
	}
}
