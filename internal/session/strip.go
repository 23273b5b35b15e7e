package session

import "strings"

// WithoutOwnCookies returns the Cookie header value with gatehouse's own
// cookies removed: the session cookie named name and every cookie whose
// name starts with name + "_" (the login state, for example). The app
// behind the proxy keeps its own cookies, but never receives a credential
// it could replay against other apps on the cookie domain. The header is
// returned unchanged, without allocating, when it holds none of them; an
// empty result means the Cookie header must be removed.
func WithoutOwnCookies(header, name string) string {
	if name == "" || !strings.Contains(header, name) {
		return header
	}
	var b strings.Builder
	b.Grow(len(header))
	for rest := header; rest != ""; {
		var part string
		part, rest, _ = strings.Cut(rest, ";")
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, _, _ := strings.Cut(part, "=")
		k = strings.TrimSpace(k)
		if k == name || strings.HasPrefix(k, name+"_") {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(part)
	}
	return b.String()
}
