package spoa

import (
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/spop"
	"github.com/gatehouse/gatehouse/internal/spop/spoptest"
)

func TestParseHeaders(t *testing.T) {
	good := spoptest.HeadersBin([][2]string{{"host", "a.example.com"}, {"cookie", "a=1"}, {"empty", ""}})
	hdrs, err := parseHeaders(good)
	if err != nil {
		t.Fatal(err)
	}
	if len(hdrs) != 3 || hdrs[2] != (header{"empty", ""}) {
		t.Errorf("got %+v", hdrs)
	}
	many := make([][2]string, maxHeaders+1)
	for i := range many {
		many[i] = [2]string{"x", "y"}
	}
	for name, b := range map[string][]byte{
		"no end marker":       good[:len(good)-2],
		"value cut short":     good[:7],
		"data after the end":  append(append([]byte{}, good...), 1),
		"end with a value":    {0, 1, 'x'},
		"too many headers":    spoptest.HeadersBin(many),
		"length past the end": {0xf0, 0x05, 'a'},
	} {
		if _, err := parseHeaders(b); !errors.Is(err, errBadRequest) {
			t.Errorf("%s: err = %v, want errBadRequest", name, err)
		}
	}
}

func TestSplitAbsolute(t *testing.T) {
	for in, want := range map[string][2]string{
		"https://a.example.com/x?y": {"a.example.com", "/x?y"},
		"HTTP://A:8443/":            {"A:8443", "/"},
	} {
		a, p, err := splitAbsolute(in)
		if err != nil || a != want[0] || p != want[1] {
			t.Errorf("splitAbsolute(%q) = %q, %q, %v; want %q", in, a, p, err, want)
		}
	}
	// Without a path HAProxy would send the target to the app as it is
	// (an HTTP/2 "OPTIONS *" arrives as "https://host"): never judged as "/".
	for _, bad := range []string{"ftp://a/x", "a/x", "*", "//a/x", "https://a", "HTTP://A:8443", "http://a?q=1"} {
		if _, _, err := splitAbsolute(bad); err == nil {
			t.Errorf("splitAbsolute(%q) accepted", bad)
		}
	}
}

// FuzzToRequest never panics on what a message may carry, and whatever it
// accepts is a request in origin form with a host.
func FuzzToRequest(f *testing.F) {
	f.Add("GET", "/x?y=1", spoptest.HeadersBin([][2]string{{"host", "a.example.com"}, {"cookie", "a=1"}}))
	f.Add("POST", "https://a.example.com/x", spoptest.HeadersBin([][2]string{{"host", "a.example.com"}, {"x_a", "1"}}))
	f.Add("GET", "http://b/x", []byte{0, 0})
	f.Fuzz(func(t *testing.T, method, url string, hdrs []byte) {
		m := spop.Message{Name: MessageName, Args: []spop.KV{
			{Name: ArgMethod, Value: spop.StringValue(method)},
			{Name: ArgURL, Value: spop.StringValue(url)},
			{Name: ArgHeaders, Value: spop.BinaryValue(hdrs)},
		}}
		in, err := toRequest(&m)
		if err != nil {
			return
		}
		if in.req.Host == "" || !strings.HasPrefix(in.req.Path, "/") {
			t.Fatalf("accepted %q %q as host %q path %q", method, url, in.req.Host, in.req.Path)
		}
	})
}
