package cookie

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/session/sessiontest"
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
			if got := Value(tt.header, tt.cookie); got != tt.want {
				t.Fatalf("Value(%q, %q) = %q, want %q", tt.header, tt.cookie, got, tt.want)
			}
		})
	}
}

func TestCookieValueAllocatesNothing(t *testing.T) {
	header := `a=1; _gatehouse_csrf=x; _gatehouse="abcdefgh"; b=2`
	if n := testing.AllocsPerRun(100, func() { _ = Value(header, "_gatehouse") }); n != 0 {
		t.Fatalf("Value allocates %v times", n)
	}
}

func TestCookieSettings(t *testing.T) {
	cs := Settings{Name: "_gatehouse", Domain: "example.com", Secure: true}
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
	dev := Settings{Name: "_gatehouse"}.New("_gatehouse", "v", exp)
	if dev.Secure || !dev.HttpOnly {
		t.Fatalf("dev cookie = %+v", dev)
	}
}

// TestNewCookieSettingsHostPrefix: a host-only secure cookie is named
// __Host-<name>, and both it and the login cookie are ones a browser
// accepts under that prefix (Secure, Path=/, no Domain).
func TestNewCookieSettingsHostPrefix(t *testing.T) {
	cases := []struct {
		name, domain string
		secure       bool
		want         string
	}{
		{"_gatehouse", "", true, "__Host-_gatehouse"},
		{"__Host-sso", "", true, "__Host-sso"},
		{"__host-sso", "", true, "__host-sso"}, // browsers match prefixes ignoring case
		{"_gatehouse", "example.com", true, "_gatehouse"},
		{"_gatehouse", "", false, "_gatehouse"}, // plain-HTTP development
		{"__Secure-sso", "example.com", true, "__Secure-sso"},
		{"__Secure-sso", "", true, "__Secure-sso"},
	}
	for _, tc := range cases {
		cs, err := NewSettings(tc.name, tc.domain, tc.secure)
		if err != nil {
			t.Errorf("%+v: %v", tc, err)
			continue
		}
		if cs.Name != tc.want || cs.Domain != tc.domain || cs.Secure != tc.secure {
			t.Errorf("%+v: got %+v, want name %q", tc, cs, tc.want)
		}
		if !strings.HasPrefix(strings.ToLower(cs.Name), "__host-") {
			continue
		}
		for _, c := range []*http.Cookie{
			cs.New(cs.Name, "v", time.Now().Add(time.Hour)), cs.New(cs.Name+"_login", "v", time.Now().Add(time.Hour)),
			cs.Clear(cs.Name), cs.Clear(cs.Name + "_login"),
		} {
			if !c.Secure || c.Path != "/" || c.Domain != "" {
				t.Errorf("%s set as %q: a browser refuses it", c.Name, c.String())
			}
		}
	}
	for _, bad := range []struct {
		name, domain string
		secure       bool
	}{
		{"__Host-sso", "example.com", true},
		{"__Host-sso", "", false},
		{"__HOST-sso", "example.com", true},
		{"__Secure-sso", "", false},
		{"", "", true},
	} {
		if cs, err := NewSettings(bad.name, bad.domain, bad.secure); err == nil {
			t.Errorf("%+v accepted as %+v; browsers would refuse the cookie", bad, cs)
		}
	}
}

// TestOpenSessionCookie: several copies of the session cookie are
// accepted only when every copy names the same session.
func TestOpenSessionCookie(t *testing.T) {
	c := newTestCodec(t, nil, testKey(t))
	exp := time.Now().Add(time.Hour)
	seal := func(id string) string {
		v, err := c.SealID(testCookie, id, exp)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	victim, attacker := sessiontest.NewID(t), sessiontest.NewID(t)
	v1, v1again, a := seal(victim), seal(victim), seal(attacker)
	other := newTestCodec(t, nil, testKey(t))
	foreign, _ := other.SealID(testCookie, victim, exp)
	cases := []struct {
		name, header string
		id           string
		present      bool
		bad          bool
	}{
		{"none", "a=1", "", false, false},
		{"empty value", testCookie + "=; a=1", "", false, false},
		{"one", "a=1; " + testCookie + "=" + v1, victim, true, false},
		{"same value twice", testCookie + "=" + v1 + "; " + testCookie + "=" + v1, victim, true, false},
		{"two seals of one session", testCookie + "=" + v1 + "; " + testCookie + "=" + v1again, victim, true, false},
		{"empty copy ignored", testCookie + "=; " + testCookie + "=" + v1, victim, true, false},
		{"planted after", testCookie + "=" + v1 + "; " + testCookie + "=" + a, "", true, true},
		{"planted before", testCookie + "=" + a + "; " + testCookie + "=" + v1, "", true, true},
		{"garbage copy", testCookie + "=" + v1 + "; " + testCookie + "=garbage", "", true, true},
		{"foreign key copy", testCookie + "=" + foreign + "; " + testCookie + "=" + v1, "", true, true},
		{"one bad", testCookie + "=garbage", "", true, true},
		{"too many copies", strings.Repeat(testCookie+"="+v1+"; ", maxSessionCookies+1), "", true, true},
	}
	for _, tc := range cases {
		id, present, err := c.OpenSessionCookie(tc.header, testCookie)
		if id != tc.id || present != tc.present || (err != nil) != tc.bad {
			t.Errorf("%s: got %q, %v, %v; want %q, %v, bad=%v", tc.name, id, present, err, tc.id, tc.present, tc.bad)
		}
		if tc.bad && !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: error %v is not ErrInvalid", tc.name, err)
		}
	}
}
