package cookie

import "strings"

// WithoutOwn returns the Cookie header value with gatehouse's own
// cookies removed: the session cookie named name and every cookie whose
// name starts with name + "_" (the login state, for example). The app
// behind the proxy keeps its own cookies, but never receives a credential
// it could replay against other apps on the cookie domain. The header is
// returned unchanged, without allocating, when it holds none of them; an
// empty result means the Cookie header must be removed.
func WithoutOwn(header, name string) string {
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
		if strings.IndexByte(part, ',') >= 0 {
			// Servers that still follow RFC 2965 (Tomcat's legacy cookie
			// processor, old PHP) also split cookies on ",".
			part = withoutOwnCommaCookies(part, name)
		} else if isOwnCookie(part, name) {
			continue
		}
		if part == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(part)
	}
	return b.String()
}

// withoutOwnCommaCookies drops the ","-separated cookies of part that are
// gatehouse's; part is returned as it is when none is.
func withoutOwnCommaCookies(part, name string) string {
	var kept []string
	own := false
	for sub := range strings.SplitSeq(part, ",") {
		switch sub = strings.TrimSpace(sub); {
		case isOwnCookie(sub, name):
			own = true
		case sub != "":
			kept = append(kept, sub)
		}
	}
	if !own {
		return part
	}
	return strings.Join(kept, ",")
}

// isOwnCookie reports whether the cookie pair "k=v" is the session cookie
// name or one whose name starts with name + "_".
func isOwnCookie(pair, name string) bool {
	k, _, _ := strings.Cut(pair, "=")
	k = strings.TrimSpace(k)
	return k == name || strings.HasPrefix(k, name+"_")
}
