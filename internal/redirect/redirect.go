// Package redirect decides whether a return URL (the rd parameter of the
// sign-in and sign-out endpoints) may be sent to a browser. Anything that
// could take the browser off the allowed domains is replaced by "/".
//
// The rules are deliberately stricter than URL syntax: a value is accepted
// only in forms that every browser and every URL parser read the same way.
package redirect

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// MaxLength is the longest return URL accepted; longer values fall back to "/".
const MaxLength = 4096

// decodeRounds is how many layers of percent-encoding are unwrapped when
// looking for hidden control characters, backslashes and "//".
const decodeRounds = 3

// Validator holds the allowed domains. It is immutable and safe for
// concurrent use.
type Validator struct {
	hosts    map[string]struct{} // exact hosts, canonical form
	suffixes []string            // ".example.com": example.com and its subdomains
}

// NewValidator returns a Validator for allowedDomains. An entry is either a
// host ("app.example.com", an IP address also works), matched exactly, or a
// suffix (".example.com"), which admits example.com itself and every
// subdomain but not badexample.com. Matching ignores case and a trailing dot.
// Entries carry no port: any port on an allowed host is accepted.
func NewValidator(allowedDomains []string) (*Validator, error) {
	v := &Validator{hosts: make(map[string]struct{}, len(allowedDomains))}
	var errs []error
	for i, d := range allowedDomains {
		if strings.HasPrefix(d, ".") {
			name, ok := canonicalName(d[1:])
			if !ok || endsInNumber(name) {
				errs = append(errs, fmt.Errorf("redirect: allowed domain %d (%q) is not a valid domain suffix", i, d))
				continue
			}
			v.suffixes = append(v.suffixes, "."+name)
			continue
		}
		if h, ok := canonicalIP(strings.TrimSuffix(strings.TrimPrefix(d, "["), "]")); ok {
			v.hosts[h] = struct{}{}
			continue
		}
		name, ok := canonicalName(d)
		if !ok || endsInNumber(name) {
			errs = append(errs, fmt.Errorf("redirect: allowed domain %d (%q) is not a valid host name", i, d))
			continue
		}
		v.hosts[name] = struct{}{}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return v, nil
}

// Safe returns raw if it is a safe return URL, and "/" otherwise. Safe is a
// path on the same site ("/app?x=1", never "//host" or "/\host"), or an
// absolute http or https URL whose host is allowed, with no user info.
// Backslashes, spaces, control characters and non-ASCII bytes are refused
// anywhere, as are percent-encoded control characters and backslashes.
func (v *Validator) Safe(raw string) string {
	if v.safe(raw) {
		return raw
	}
	return "/"
}

// AllowedHost reports whether host (without port) is an allowed host.
func (v *Validator) AllowedHost(host string) bool {
	if h, ok := canonicalIP(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")); ok {
		_, found := v.hosts[h]
		return found
	}
	name, ok := canonicalName(host)
	if !ok {
		return false
	}
	if _, found := v.hosts[name]; found {
		return true
	}
	for _, s := range v.suffixes {
		if name == s[1:] || strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

func (v *Validator) safe(raw string) bool {
	if raw == "" || len(raw) > MaxLength || !plainASCII(raw) || !cleanWhenDecoded(raw) {
		return false
	}
	if raw[0] == '/' {
		return safePath(raw)
	}
	return v.AllowedOrigin(raw)
}

// AllowedOrigin reports whether raw, an Origin header or a Referer (or any
// absolute URL), is an http or https URL without user info whose host is
// allowed. "null", paths and scheme-relative URLs never are. Only the
// authority is judged: it must be spelt plainly (no percent-encoding, a
// numeric port), and net/url must read the same host.
func (v *Validator) AllowedOrigin(raw string) bool {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok || !(strings.EqualFold(scheme, "http") || strings.EqualFold(scheme, "https")) {
		return false
	}
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	host, ok := splitAuthority(authority)
	if !ok || !v.AllowedHost(host) {
		return false
	}
	// Belt and braces: the standard parser must agree on every part.
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || u.Opaque != "" || !strings.EqualFold(u.Host, authority) {
		return false
	}
	return true
}

// safePath accepts a same-site path. Besides refusing "//" and "/\" at the
// start (a scheme-relative URL to another host), it refuses "//" anywhere,
// in the raw value and after unwrapping percent-encoding: such values
// ("/?next=//evil.com", "/%2f%2fevil.com") exist to be decoded and
// re-used as a redirect by something downstream.
func safePath(p string) bool {
	s := p
	for range decodeRounds + 1 {
		if strings.Contains(s, "//") {
			return false
		}
		d, err := url.PathUnescape(s)
		if err != nil || d == s {
			break
		}
		s = d
	}
	u, err := url.Parse(p)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil && strings.HasPrefix(u.Path, "/")
}

// plainASCII reports whether s is printable ASCII without space or
// backslash: browsers drop tabs and newlines, strip leading controls and
// turn backslashes into slashes, so none of them may appear.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '\\' {
			return false
		}
	}
	return true
}

// cleanWhenDecoded reports whether s stays free of control characters and
// backslashes after up to decodeRounds rounds of percent-decoding
// ("%09", "%5c", "%250a").
func cleanWhenDecoded(s string) bool {
	for range decodeRounds {
		if !strings.Contains(s, "%") {
			return true
		}
		s = lenientUnescape(s)
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < ' ' || c == 0x7f || c == '\\' {
				return false
			}
		}
	}
	return true
}

// lenientUnescape decodes every well-formed %XX and keeps the rest as is.
func lenientUnescape(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// splitAuthority returns the host of an authority "host[:port]" that has
// no user info, no percent-encoding and, if present, a numeric port.
func splitAuthority(a string) (host string, ok bool) {
	if a == "" || strings.ContainsAny(a, "@%") {
		return "", false
	}
	port := ""
	if strings.HasPrefix(a, "[") {
		end := strings.IndexByte(a, ']')
		if end < 0 {
			return "", false
		}
		host, rest := a[:end+1], a[end+1:]
		if rest != "" {
			if rest[0] != ':' {
				return "", false
			}
			port = rest[1:]
			if !validPort(port) {
				return "", false
			}
		}
		return host, true
	}
	host = a
	if i := strings.IndexByte(a, ':'); i >= 0 {
		host, port = a[:i], a[i+1:]
		if !validPort(port) {
			return "", false
		}
	}
	return host, host != ""
}

func validPort(p string) bool {
	if p == "" || len(p) > 5 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	n, err := strconv.Atoi(p)
	return err == nil && n > 0 && n <= 65535
}

// canonicalName lower-cases a DNS name and drops one trailing dot. It
// accepts letters, digits, '-' and '_' in non-empty labels of at most 63
// bytes; anything else (percent signs, brackets, empty labels) is refused.
func canonicalName(h string) (string, bool) {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return "", false
	}
	h = strings.ToLower(h)
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 {
			return "", false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return "", false
			}
		}
	}
	return h, true
}

// canonicalIP returns the canonical text of an IP address (IPv6 in
// brackets), refusing zones and non-canonical IPv4 spellings.
func canonicalIP(h string) (string, bool) {
	a, err := netip.ParseAddr(h)
	if err != nil || a.Zone() != "" {
		return "", false
	}
	if a.Is4() {
		return a.String(), a.String() == h
	}
	return "[" + a.String() + "]", true
}

// endsInNumber reports whether a browser would parse name as an IPv4
// address: its last label is decimal digits or 0x-hex (WHATWG URL).
func endsInNumber(name string) bool {
	last := name[strings.LastIndexByte(name, '.')+1:]
	if strings.HasPrefix(last, "0x") {
		last = last[2:]
		for i := 0; i < len(last); i++ {
			if !isHex(last[i]) {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(last); i++ {
		if last[i] < '0' || last[i] > '9' {
			return false
		}
	}
	return last != ""
}
