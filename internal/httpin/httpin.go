// Package httpin is what every HTTP adapter (forward-auth and auth-request,
// the reverse proxy) reads the same way from an incoming request: whether
// its peer is a trusted proxy, the client's address that peer reports, and
// the credentials the check is given.
package httpin

import (
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/gatehouse/gatehouse/internal/check"
)

// Trusted reports whether a is in one of the prefixes.
func Trusted(prefixes []netip.Prefix, a netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIP returns the original client as a trusted proxy reports it: the
// right-most X-Forwarded-For entry (xff is every X-Forwarded-For header
// joined with ","), which that proxy added itself, or peer when there is
// none or it cannot be read. An address with a port is read without it.
func ClientIP(xff string, peer netip.Addr) netip.Addr {
	if xff == "" {
		return peer
	}
	last := xff
	if i := strings.LastIndexByte(xff, ','); i >= 0 {
		last = xff[i+1:]
	}
	last = strings.TrimSpace(last)
	if a, err := netip.ParseAddr(last); err == nil {
		return a.Unmap()
	}
	if host, _, err := net.SplitHostPort(last); err == nil {
		if a, err := netip.ParseAddr(host); err == nil {
			return a.Unmap()
		}
	}
	return peer
}

// Credentials returns the request's Cookie headers joined with "; " (HTTP/2
// sends one per cookie) and its Authorization headers joined as Envoy joins
// them, with ", ", which no bearer token parses from: the check never
// picks one of several.
func Credentials(r *http.Request) check.Credentials {
	return check.Credentials{Cookie: cookieHeader(r), Authorization: strings.Join(r.Header.Values("Authorization"), ", ")}
}

// cookieHeader is the Cookie headers joined, without allocating for one.
func cookieHeader(r *http.Request) string {
	v := r.Header["Cookie"]
	switch len(v) {
	case 0:
		return ""
	case 1:
		return v[0]
	}
	return strings.Join(v, "; ")
}
