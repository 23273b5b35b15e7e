package session

import (
	"net/http"
	"strings"
	"time"
)

// CookieSettings are the attributes of every cookie gatehouse sets.
type CookieSettings struct {
	Name   string // session cookie name, e.g. "_gatehouse"
	Domain string // empty: host-only cookie
	Secure bool   // false only for plain-HTTP development
}

// New returns a cookie named name with the configured attributes:
// HttpOnly always, SameSite=Lax, Secure unless disabled.
func (cs CookieSettings) New(name, value string, expires time.Time) *http.Cookie {
	return &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		Domain:   cs.Domain,
		Expires:  expires.UTC(),
		MaxAge:   max(1, int(time.Until(expires).Seconds())),
		HttpOnly: true,
		Secure:   cs.Secure,
		SameSite: http.SameSiteLaxMode,
	}
}

// Clear returns a cookie that makes the browser drop cookie name.
func (cs CookieSettings) Clear(name string) *http.Cookie {
	return &http.Cookie{
		Name:     name,
		Value:    "",
		Path:     "/",
		Domain:   cs.Domain,
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   cs.Secure,
		SameSite: http.SameSiteLaxMode,
	}
}

// CookieValue returns the value of the first cookie named exactly name in a
// Cookie header, or "". A value wrapped in one pair of double quotes is
// unwrapped. It allocates nothing, so it is cheap on the check path.
func CookieValue(header, name string) string {
	for len(header) > 0 {
		var part string
		part, header, _ = strings.Cut(header, ";")
		part = strings.TrimSpace(part)
		k, v, ok := strings.Cut(part, "=")
		if ok && k == name {
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v
		}
	}
	return ""
}
