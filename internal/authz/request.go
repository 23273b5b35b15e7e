package authz

import (
	"net/netip"
	"strings"
)

// Request is the transport-free view of the request a proxy asks about.
// Adapters build it with NewRequest, the one set of rules for methods,
// hosts and targets, and fill in the rest; Decide never changes it.
type Request struct {
	Method string // upper-case HTTP method, e.g. "GET"
	// MethodOverride is the method a client names in a method-override
	// header (SetMethodOverride), which many frameworks act on instead of
	// Method; empty when there is none.
	MethodOverride string
	Scheme         string // "http" or "https"
	Host           string // host[:port] as the proxy routed it
	Path           string // the normalized path (Paths.Clean), which rules match
	// PathUndecoded and PathLenient are the other forms of the path an
	// upstream may act on (Paths); empty means equal to Path.
	PathUndecoded string
	PathLenient   string
	RawPath       string     // the path as the client sent it; empty means Path
	RawQuery      string     // the query without "?", never used for matching
	Accept        string     // the client's Accept header, for the reply (internal/render)
	ClientIP      netip.Addr // the original client's address
	// FetchMode and RequestedWith are the client's Sec-Fetch-Mode and
	// X-Requested-With headers, for the reply (internal/render): a
	// fetch or XHR call cannot follow a redirect to the login page, so it
	// is answered as an API client.
	FetchMode     string
	RequestedWith string
	// UnderscoreHeaders are the names of the client's headers that hold
	// "_" (see UnderscoreHeaders), so that Decide can refuse look-alikes
	// of the identity headers (Policy.SpoofedHeader).
	UnderscoreHeaders []string
}

// NewRequest checks and normalizes what a proxy says it routed: the
// method, the scheme, the host (host[:port]) and the request target
// (origin form: path and query). Every adapter builds its Request with
// it, so one set of rules decides what is judged and what is refused. Its
// errors wrap ErrBadRequest; the request must then be refused with 400.
func NewRequest(method, scheme, host, target string) (Request, error) {
	if !validMethod(method) {
		return Request{}, badRequest("method must be an upper-case token")
	}
	if method == "CONNECT" {
		// Its target is authority-form: what the app acts on is never
		// the path the proxy reports.
		return Request{}, badRequest("CONNECT is never judged")
	}
	switch {
	case scheme == "":
		scheme = "https"
	case strings.EqualFold(scheme, "http"):
		scheme = "http"
	case strings.EqualFold(scheme, "https"):
		scheme = "https"
	default:
		return Request{}, badRequest("scheme must be http or https")
	}
	if !validHost(host) {
		return Request{}, badRequest("bad host")
	}
	if target == "" || target[0] != '/' {
		return Request{}, badRequest("request target must be in origin form")
	}
	if len(target) > MaxTargetLen {
		return Request{}, badRequest("request target too long")
	}
	rawPath, query, _ := strings.Cut(target, "?")
	for i := 0; i < len(query); i++ {
		switch c := query[i]; {
		case c == '#':
			return Request{}, badRequest("fragment in request target")
		case c < 0x20 || c == 0x7f || c == ' ':
			return Request{}, badRequest("control character or space in query")
		}
	}
	ps, err := ParsePath(rawPath)
	if err != nil {
		return Request{}, err
	}
	r := Request{Method: method, Scheme: scheme, Host: host, Path: ps.Clean, RawQuery: query}
	if ps.Undecoded != ps.Clean {
		r.PathUndecoded = ps.Undecoded
	}
	if ps.Lenient != ps.Clean {
		r.PathLenient = ps.Lenient
	}
	if rawPath != ps.Clean {
		r.RawPath = rawPath
	}
	return r, nil
}

// MethodOverrideHeaders are the headers by which web frameworks let a
// client replace the request line's method (Express method-override,
// Symfony, Rails middleware, Google APIs), spelled as Go's http.Header
// keys them. Rules that restrict by method match either method; rules
// that open need both.
var MethodOverrideHeaders = [...]string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"}

// SetMethodOverride records the method named by the client's
// method-override headers: get returns a header's value (empty when
// absent) for each of MethodOverrideHeaders. Values are upper-cased, as
// frameworks do before acting on them. Two different overrides, or one
// that is not a method, wrap ErrBadRequest.
func (r *Request) SetMethodOverride(get func(name string) string) error {
	for _, name := range MethodOverrideHeaders {
		v := get(name)
		if v == "" {
			continue
		}
		v = strings.ToUpper(strings.TrimSpace(v))
		if !validMethod(v) {
			return badRequest("bad " + name + " header")
		}
		if r.MethodOverride != "" && r.MethodOverride != v {
			return badRequest("conflicting method-override headers")
		}
		r.MethodOverride = v
	}
	return nil
}

// paths returns the request's path forms (see Paths), the empty ones
// filled in with Path.
func (r *Request) paths() [3]string {
	ps := [3]string{r.Path, r.PathUndecoded, r.PathLenient}
	for i := 1; i < len(ps); i++ {
		if ps[i] == "" {
			ps[i] = r.Path
		}
	}
	return ps
}

// validMethod accepts an RFC 9110 token of at most 32 characters with no
// lower-case letter: methods are case-sensitive, and "get" is not GET.
func validMethod(m string) bool {
	if m == "" || len(m) > 32 {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		switch {
		case 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validHost accepts a reg-name or IPv4 address, or a bracketed IPv6
// address, with an optional numeric port, and nothing that could change a
// URL built from it (no "/", "@", "\", "?", "#", spaces or controls).
func validHost(h string) bool {
	if h == "" || len(h) > 261 { // 255 for the name, 6 for ":65535"
		return false
	}
	name, port := h, ""
	if h[0] == '[' {
		end := strings.IndexByte(h, ']')
		if end < 2 {
			return false
		}
		for i := 1; i < end; i++ {
			if c := h[i]; !isHex(c) && c != ':' && c != '.' {
				return false
			}
		}
		name, port = "", h[end+1:]
		if port != "" {
			if port[0] != ':' {
				return false
			}
			port = port[1:]
			if port == "" {
				return false
			}
		}
	} else if i := strings.IndexByte(h, ':'); i >= 0 {
		name, port = h[:i], h[i+1:]
		if port == "" {
			return false
		}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '-', c == '_':
		default:
			return false
		}
	}
	if h[0] != '[' && name == "" {
		return false
	}
	if len(port) > 5 {
		return false
	}
	for i := 0; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
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
