package httpin

import (
	"net/http"
	"net/netip"
	"testing"
)

func TestTrusted(t *testing.T) {
	ps := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	for a, want := range map[string]bool{"10.1.2.3": true, "::1": true, "11.0.0.1": false, "::2": false} {
		if got := Trusted(ps, netip.MustParseAddr(a)); got != want {
			t.Errorf("Trusted(%s) = %v", a, got)
		}
	}
	if Trusted(nil, netip.MustParseAddr("127.0.0.1")) {
		t.Error("no prefixes trusted an address")
	}
}

func TestClientIP(t *testing.T) {
	peer := netip.MustParseAddr("10.0.0.1")
	for xff, want := range map[string]string{
		"":                          "10.0.0.1",
		"203.0.113.7":               "203.0.113.7",
		"198.51.100.1, 203.0.113.7": "203.0.113.7", // the right-most, added by the proxy
		"203.0.113.7:4711":          "203.0.113.7",
		"[2001:db8::1]:443":         "2001:db8::1",
		"::ffff:203.0.113.7":        "203.0.113.7",
		"not an address":            "10.0.0.1",
		"203.0.113.7, junk":         "10.0.0.1",
		"spoofed, 198.51.100.1    ": "198.51.100.1",
	} {
		if got := ClientIP(xff, peer); got.String() != want {
			t.Errorf("ClientIP(%q) = %s, want %s", xff, got, want)
		}
	}
}

func TestCredentials(t *testing.T) {
	r, _ := http.NewRequest("GET", "/", nil)
	r.Header.Add("Cookie", "a=1")
	r.Header.Add("Cookie", "b=2")
	r.Header.Add("Authorization", "Bearer x")
	r.Header.Add("Authorization", "Bearer y")
	c := Credentials(r)
	if c.Cookie != "a=1; b=2" || c.Authorization != "Bearer x, Bearer y" {
		t.Fatalf("Credentials = %+v", c)
	}
}
