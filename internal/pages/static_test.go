package pages

import (
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite deploy/nginx/gatehouse-unavailable.html from the templates")

const nginxFallback = "../../deploy/nginx/gatehouse-unavailable.html"

// fallbackPage is the static page nginx shows when gatehouse cannot be
// asked: the unavailable page of the built-in design, whose "Try again"
// reloads the page it is shown on.
func fallbackPage(t *testing.T) []byte {
	t.Helper()
	p, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p.Unavailable(UnavailableData{What: "the sign-in service", Reason: "gatehouse_unavailable", RetryURL: ""})
}

// TestNginxFallbackPageIsCurrent: the static page shipped for nginx is the
// built-in unavailable page as the templates render it today (run with
// -update after changing a template).
func TestNginxFallbackPageIsCurrent(t *testing.T) {
	want := fallbackPage(t)
	if *update {
		if err := os.WriteFile(nginxFallback, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(nginxFallback)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("%s is not the current unavailable page; run go test ./internal/pages -run TestNginxFallbackPageIsCurrent -update", nginxFallback)
	}
}
