package authz

import (
	"net/url"
	"path"
	"strings"
)

// NormalizePath returns the path an upstream will serve for raw, the path as
// the client sent it: percent-escapes decoded, dot segments resolved and
// duplicate slashes collapsed, with a trailing slash kept. Every adapter
// normalizes with this one function, so a rule sees the same path whichever
// proxy asked.
//
// ok is false for a path that cannot be normalized without ambiguity: not
// starting with "/", a bad escape, an encoded "/" or "\", a backslash, or a
// control character. Such requests are refused.
func NormalizePath(raw string) (p string, ok bool) {
	if raw == "" || raw[0] != '/' {
		return "", false
	}
	if isClean(raw) {
		return raw, true // the common case: nothing to do, nothing allocated
	}
	if strings.ContainsRune(raw, '\\') {
		return "", false
	}
	lower := strings.ToLower(raw)
	if strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") {
		return "", false
	}
	dec, err := url.PathUnescape(raw)
	if err != nil {
		return "", false
	}
	for i := 0; i < len(dec); i++ {
		if c := dec[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return "", false
		}
	}
	p = path.Clean(dec)
	if strings.HasSuffix(dec, "/") && p != "/" {
		p += "/"
	}
	return p, true
}

// isClean reports whether raw needs no normalization: no escapes, no
// backslash or control characters, no empty or dot segments.
func isClean(raw string) bool {
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c == '%' || c == '\\' || c < 0x20 || c == 0x7f:
			return false
		case c == '/':
			if i+1 < len(raw) {
				n := raw[i+1]
				if n == '/' {
					return false
				}
				if n == '.' && (i+2 == len(raw) || raw[i+2] == '/' || raw[i+2] == '.') {
					return false
				}
			}
		}
	}
	return true
}
