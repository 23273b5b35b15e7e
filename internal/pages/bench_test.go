package pages

import "testing"

// BenchmarkForbidden renders the forbidden page, as every refused browser
// request does.
func BenchmarkForbidden(b *testing.B) {
	p, err := New(Options{ProductName: "Acme SSO", Links: []Link{{Text: "Help", URL: "/help"}}})
	if err != nil {
		b.Fatal(err)
	}
	d := ForbiddenData{Account: "bob@blocked.test", SwitchURL: "https://auth.example.com/oauth2/sign_out?rd=%2Foauth2%2Fsign_in%3Frd%3Dhttps%253A%252F%252Fapp.example.com%252F"}
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = len(p.Forbidden(d))
	}
	b.ReportMetric(float64(n), "bytes/page")
}
