package session

import (
	"net/http"
	"testing"
	"time"
)

func TestCookieValue(t *testing.T) {
	tests := []struct {
		name, header, cookie, want string
	}{
		{"only", "_gatehouse=abc", "_gatehouse", "abc"},
		{"first of many", "_gatehouse=abc; a=1; b=2", "_gatehouse", "abc"},
		{"middle", "a=1; _gatehouse=abc; b=2", "_gatehouse", "abc"},
		{"last", "a=1;b=2;_gatehouse=abc", "_gatehouse", "abc"},
		{"extra spaces", "a=1 ;   _gatehouse=abc  ; b=2", "_gatehouse", "abc"},
		{"quoted", `_gatehouse="abc"`, "_gatehouse", "abc"},
		{"one quote kept", `_gatehouse="abc`, "_gatehouse", `"abc`},
		{"only quotes", `_gatehouse=""`, "_gatehouse", ""},
		{"lone quote", `_gatehouse="`, "_gatehouse", `"`},
		{"inner quotes kept", `_gatehouse=""abc""`, "_gatehouse", `"abc"`},
		{"missing", "a=1; b=2", "_gatehouse", ""},
		{"empty header", "", "_gatehouse", ""},
		{"empty value", "_gatehouse=; a=1", "_gatehouse", ""},
		{"no equals", "_gatehouse; a=1", "_gatehouse", ""},
		{"longer name first", "_gatehouse_csrf=evil; _gatehouse=good", "_gatehouse", "good"},
		{"longer name only", "_gatehouse_csrf=evil", "_gatehouse", ""},
		{"prefixed name only", "x_gatehouse=evil", "_gatehouse", ""},
		{"shorter name only", "_gatehous=evil", "_gatehouse", ""},
		{"case differs", "_GATEHOUSE=evil", "_gatehouse", ""},
		{"csrf asked", "_gatehouse=a; _gatehouse_csrf=b", "_gatehouse_csrf", "b"},
		{"duplicate: first wins", "_gatehouse=first; _gatehouse=second", "_gatehouse", "first"},
		{"value with equals", "_gatehouse=a=b", "_gatehouse", "a=b"},
		{"empty parts", ";;; ;_gatehouse=abc;;", "_gatehouse", "abc"},
		{"name in value", "a=_gatehouse=evil", "_gatehouse", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CookieValue(tt.header, tt.cookie); got != tt.want {
				t.Fatalf("CookieValue(%q, %q) = %q, want %q", tt.header, tt.cookie, got, tt.want)
			}
		})
	}
}

func TestCookieValueAllocatesNothing(t *testing.T) {
	header := `a=1; _gatehouse_csrf=x; _gatehouse="abcdefgh"; b=2`
	if n := testing.AllocsPerRun(100, func() { _ = CookieValue(header, "_gatehouse") }); n != 0 {
		t.Fatalf("CookieValue allocates %v times", n)
	}
}

func TestCookieSettings(t *testing.T) {
	cs := CookieSettings{Name: "_gatehouse", Domain: "example.com", Secure: true}
	exp := time.Now().Add(time.Hour)
	c := cs.New(cs.Name, "v", exp)
	if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "example.com" {
		t.Fatalf("New = %+v", c)
	}
	if c.MaxAge < 3590 || c.MaxAge > 3600 {
		t.Fatalf("MaxAge = %d, want about 3600", c.MaxAge)
	}
	if err := c.Valid(); err != nil {
		t.Fatalf("New made an invalid cookie: %v", err)
	}
	cl := cs.Clear(cs.Name)
	if cl.MaxAge >= 0 || cl.Value != "" || !cl.HttpOnly || !cl.Secure || cl.Domain != "example.com" || cl.Path != "/" {
		t.Fatalf("Clear = %+v", cl)
	}
	dev := CookieSettings{Name: "_gatehouse"}.New("_gatehouse", "v", exp)
	if dev.Secure || !dev.HttpOnly {
		t.Fatalf("dev cookie = %+v", dev)
	}
}
