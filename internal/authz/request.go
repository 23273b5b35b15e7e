package authz

import (
	"net/netip"
	"strings"
)

// Request is the transport-free view of the request a proxy asks about.
// Adapters fill it once; Decide never changes it.
type Request struct {
	Method   string     // upper-case HTTP method, e.g. "GET"
	Scheme   string     // "http" or "https"
	Host     string     // host[:port] as the client asked for it
	Path     string     // the normalized path (NormalizePath), which rules match
	RawPath  string     // the path as the client sent it; empty means Path
	RawQuery string     // the query without "?", never used for matching
	Accept   string     // the client's Accept header, to tell browsers from API clients
	ClientIP netip.Addr // the original client's address
}

// URL returns the absolute URL the client asked for, query included.
func (r *Request) URL() string {
	var b strings.Builder
	b.Grow(len(r.Scheme) + 3 + len(r.Host) + len(r.Path) + len(r.RawPath) + 1 + len(r.RawQuery))
	b.WriteString(r.Scheme)
	b.WriteString("://")
	b.WriteString(r.Host)
	switch {
	case r.RawPath != "":
		b.WriteString(r.RawPath)
	case r.Path != "":
		b.WriteString(r.Path)
	default:
		b.WriteByte('/')
	}
	if r.RawQuery != "" {
		b.WriteByte('?')
		b.WriteString(r.RawQuery)
	}
	return b.String()
}

// IsBrowser reports whether the client says it accepts HTML, the convention
// by which browsers are sent to the login page and API clients get a 401.
func (r *Request) IsBrowser() bool {
	return strings.Contains(strings.ToLower(r.Accept), "text/html")
}

// CanonicalHost returns host without port, in lower case and without a
// trailing dot, the form rules are matched against.
func CanonicalHost(hostport string) string {
	h := hostport
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i > 0 {
			h = h[1:i]
		}
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 && strings.IndexByte(h, ':') == i {
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	return strings.ToLower(h)
}
