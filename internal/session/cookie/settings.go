package cookie

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// HostPrefix is the cookie name prefix that browsers accept only on a
// cookie set Secure, with Path=/ and no Domain, by the host itself: no
// sibling subdomain and no plain-HTTP page can set or shadow such a cookie.
const HostPrefix = "__Host-"

// securePrefix marks a cookie browsers accept only when set Secure.
const securePrefix = "__Secure-"

// maxSessionCookies bounds how many copies of the session cookie one Cookie
// header may carry before it is refused outright.
const maxSessionCookies = 8

// Settings are the attributes of every cookie gatehouse sets.
type Settings struct {
	Name   string // session cookie name, e.g. "_gatehouse" or "__Host-_gatehouse"
	Domain string // empty: host-only cookie
	Secure bool   // false only for plain-HTTP development
}

// NewSettings returns the settings for a session cookie named name.
// A host-only (empty domain) Secure cookie gets the __Host- prefix unless
// name already has it, so the effective name is what the browser is told
// and what gatehouse reads; the login cookie, named after it, gets it too.
// A name with a prefix whose conditions the settings break (a __Host- name
// with a domain or without Secure, a __Secure- name without Secure) is an
// error, since browsers would refuse the cookie.
func NewSettings(name, domain string, secure bool) (Settings, error) {
	cs := Settings{Name: name, Domain: domain, Secure: secure}
	if name == "" {
		return cs, fmt.Errorf("session: cookie name is empty")
	}
	// Browsers compare the prefixes without regard to case.
	lower := strings.ToLower(name)
	switch {
	case strings.HasPrefix(lower, strings.ToLower(HostPrefix)):
		if domain != "" || !secure {
			return cs, fmt.Errorf("session: cookie name %q needs secure cookies and no domain", name)
		}
	case strings.HasPrefix(lower, strings.ToLower(securePrefix)):
		if !secure {
			return cs, fmt.Errorf("session: cookie name %q needs secure cookies", name)
		}
	case domain == "" && secure:
		cs.Name = HostPrefix + name
	}
	return cs, nil
}

// New returns a cookie named name with the configured attributes:
// HttpOnly always, SameSite=Lax, Secure unless disabled.
func (cs Settings) New(name, value string, expires time.Time) *http.Cookie {
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
func (cs Settings) Clear(name string) *http.Cookie {
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

// Value returns the value of the first cookie named exactly name in a
// Cookie header, or "". A value wrapped in one pair of double quotes is
// unwrapped. It allocates nothing. It is not for the session cookie, which
// OpenSessionCookie reads in every copy.
func Value(header, name string) string {
	v, _, _ := nextCookie(header, name)
	return v
}

// nextCookie returns the value of the first cookie named exactly name in a
// Cookie header, the rest of the header after it, and whether there was
// one. A value wrapped in one pair of double quotes is unwrapped.
func nextCookie(header, name string) (value, rest string, ok bool) {
	for len(header) > 0 {
		var part string
		part, header, _ = strings.Cut(header, ";")
		part = strings.TrimSpace(part)
		k, v, found := strings.Cut(part, "=")
		if found && k == name {
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v, header, true
		}
	}
	return "", "", false
}

// OpenSessionCookie returns the session ID that the cookies named name in a
// Cookie header refer to. present is false when there is none (empty
// values count as none). A browser may send several cookies of one name
// (another Path or Domain, or one planted by a sibling subdomain): the
// header is accepted only if every copy opens to the same session;
// otherwise, or with more than a handful of copies, it is ErrInvalid and
// the caller treats the session as invalid, never picking one copy.
func (c *Codec) OpenSessionCookie(header, name string) (id string, present bool, err error) {
	var first string
	n := 0
	for rest := header; rest != ""; {
		v, more, ok := nextCookie(rest, name)
		if !ok {
			break
		}
		rest = more
		if v == "" {
			continue
		}
		if n++; n > maxSessionCookies {
			return "", true, ErrInvalid
		}
		if n > 1 && v == first {
			continue
		}
		got, err := c.OpenID(name, v)
		if err != nil {
			return "", true, err
		}
		if n == 1 {
			id, first = got, v
		} else if got != id {
			return "", true, ErrInvalid
		}
	}
	return id, n > 0, nil
}
