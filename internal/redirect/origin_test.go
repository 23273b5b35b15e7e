package redirect

import "testing"

// TestAllowedOrigin: an Origin header or a Referer names an allowed host
// only when it is an absolute http(s) URL on that host, without user info
// or tricks; "null" and other schemes never do.
func TestAllowedOrigin(t *testing.T) {
	v := mustValidator(t, "app.example.com", ".corp.example", "10.0.0.1", "[2001:db8::1]")
	for raw, want := range map[string]bool{
		"https://app.example.com":                  true,
		"http://APP.example.com:8443":              true,
		"https://app.example.com/page?x=1#f":       true,
		"https://x.corp.example/":                  true,
		"http://10.0.0.1:8080/a":                   true,
		"https://[2001:db8::1]:8443/":              true,
		"null":                                     false,
		"":                                         false,
		"https://evil.example":                     false,
		"https://app.example.com.evil.example/":    false,
		"https://evilcorp.example":                 false,
		"https://app.example.com@evil.example/":    false,
		"https://evil.example@app.example.com/":    false,
		"ftp://app.example.com/":                   false,
		"javascript://app.example.com/%0aalert(1)": false,
		"//app.example.com/":                       false,
		"/page":                                    false,
		"https://app.example.com:99999/":           false,
		"https://app%2eexample.com/":               false,
		"https://app.example.com\\@evil.example/":  false,
		"https:///app.example.com/":                false,
	} {
		if got := v.AllowedOrigin(raw); got != want {
			t.Errorf("AllowedOrigin(%q) = %v, want %v", raw, got, want)
		}
	}
}

// FuzzAllowedOrigin: whatever AllowedOrigin accepts, net/url reads as an
// http(s) URL without user info on an allowed host.
func FuzzAllowedOrigin(f *testing.F) {
	for _, s := range []string{"https://app.example.com", "null", "https://a@app.example.com", "http://[::1]:80/"} {
		f.Add(s)
	}
	v := mustValidator(f, "app.example.com", ".corp.example")
	f.Fuzz(func(t *testing.T, raw string) {
		if !v.AllowedOrigin(raw) {
			return
		}
		if host, ok := browserHost(raw); !ok || !v.AllowedHost(host) {
			t.Fatalf("AllowedOrigin(%q) but a browser reads host %q", raw, host)
		}
	})
}
