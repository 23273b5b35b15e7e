package cookie

import "testing"

func TestWithoutOwnCookies(t *testing.T) {
	const name = "_gatehouse"
	for in, want := range map[string]string{
		"":                                         "",
		"theme=dark":                               "theme=dark",
		"_gatehouse=abc":                           "",
		"theme=dark; _gatehouse=abc":               "theme=dark",
		"_gatehouse=abc; theme=dark; lang=en":      "theme=dark; lang=en",
		"_gatehouse_login=x;_gatehouse=y;a=b":      "a=b",
		" _gatehouse = abc ; a=b":                  "a=b",
		"a=b; _gatehouse=1; _gatehouse=2":          "a=b",
		"_gatehousex=keep; x_gatehouse=keep":       "_gatehousex=keep; x_gatehouse=keep",
		"a=_gatehouse; b=c":                        "a=_gatehouse; b=c",
		"a=b;;c=d; _gatehouse=1":                   "a=b; c=d",
		"__Host-_gatehouse=1; _GATEHOUSE=keep":     "__Host-_gatehouse=1; _GATEHOUSE=keep",
		"SESSION=app; _gatehouse=1; csrftoken=tok": "SESSION=app; csrftoken=tok",
		"a=1, _gatehouse=2; b=3":                   "a=1; b=3",
		"a=1,_gatehouse_login=2, c=4; b=3":         "a=1,c=4; b=3",
		"_gatehouse=1, _gatehouse=2":               "",
		"list=a,b, c; _gatehouse=1":                "list=a,b, c",
	} {
		if got := WithoutOwn(in, name); got != want {
			t.Errorf("WithoutOwn(%q) = %q, want %q", in, got, want)
		}
	}
	if got := WithoutOwn("__Host-_gatehouse=1; a=b", "__Host-_gatehouse"); got != "a=b" {
		t.Errorf("prefixed name: %q", got)
	}
	h := "theme=dark; lang=en"
	if n := testing.AllocsPerRun(100, func() { WithoutOwn(h, name) }); n != 0 {
		t.Errorf("a header without gatehouse cookies costs %v allocations", n)
	}
}
