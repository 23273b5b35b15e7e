package pages

import "testing"

// BenchmarkForbidden renders the forbidden page, as every refused browser
// request does.
func BenchmarkForbidden(b *testing.B) {
	p, err := New(Options{ProductName: "Acme SSO", Links: []Link{{Text: "Help", URL: "/help"}}})
	if err != nil {
		b.Fatal(err)
	}
	d := ForbiddenData{Account: "bob@blocked.test", SwitchURL: "https://auth.example.com/oauth2/sign_out?rd=https%3A%2F%2Fapp.example.com%2F"}
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = len(p.Forbidden(d))
	}
	b.ReportMetric(float64(n), "bytes/page")
}
