package envoy

import (
	"errors"
	"net/netip"
	"strings"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/gatehouse/gatehouse/internal/authz"
)

// Limits on what the adapter accepts from Envoy. Envoy's own default limit
// on all request headers is 60 KiB; a longer path or host is never legitimate.
const (
	maxPathLen   = 8 << 10
	maxHostLen   = 1 << 10
	maxMethodLen = 32
	maxRouteLen  = 128
)

// errBadRequest is returned by toRequest for a request it will not judge.
var errBadRequest = errors.New("envoy: malformed check request")

// checkInput is what the adapter extracts from one CheckRequest.
type checkInput struct {
	req    authz.Request
	cookie string // the raw Cookie header; never logged
	// authorization is the raw Authorization header; never logged.
	authorization string
	route         string // the "gatehouse_route" context extension, for logs
}

// ContextExtensionRoute is the one context extension gatehouse reads: a
// label naming the route (set per route in Envoy through ExtAuthzPerRoute
// check_settings.context_extensions). It only labels logs and dynamic
// metadata and never changes a verdict. Every other extension is ignored.
const ContextExtensionRoute = "gatehouse_route"

// toRequest maps a CheckRequest to the core's request. It returns
// errBadRequest (wrapped with the detail) when the HTTP attributes are
// missing or malformed; it never panics on any input.
func toRequest(cr *authv3.CheckRequest) (checkInput, error) {
	attrs := cr.GetAttributes()
	h := attrs.GetRequest().GetHttp()
	if h == nil {
		return checkInput{}, errors.Join(errBadRequest, errors.New("no http request attributes"))
	}
	var in checkInput
	if r := attrs.GetContextExtensions()[ContextExtensionRoute]; len(r) <= maxRouteLen && !hasCTL(r) {
		in.route = r
	}

	method := h.GetMethod()
	if method == "" || len(method) > maxMethodLen || !isToken(method) {
		return checkInput{}, errors.Join(errBadRequest, errors.New("bad method"))
	}
	in.req.Method = strings.ToUpper(method)

	switch s := strings.ToLower(h.GetScheme()); s {
	case "http", "https":
		in.req.Scheme = s
	default:
		return checkInput{}, errors.Join(errBadRequest, errors.New("bad scheme"))
	}

	host := h.GetHost()
	if !validHost(host) {
		return checkInput{}, errors.Join(errBadRequest, errors.New("bad host"))
	}
	in.req.Host = host

	path, rawPath, query, err := splitPath(h.GetPath())
	if err != nil {
		return checkInput{}, err
	}
	if query == "" && !strings.Contains(h.GetPath(), "?") {
		// Envoy documents Query as always empty, but accept it if a
		// client of this API fills it instead of putting it in Path.
		query = h.GetQuery()
		if len(query) > maxPathLen || hasCTL(query) {
			return checkInput{}, errors.Join(errBadRequest, errors.New("bad query"))
		}
	}
	in.req.Path, in.req.RawPath, in.req.RawQuery = path, rawPath, query

	in.req.Accept = header(h, "accept", ", ")
	in.cookie = header(h, "cookie", "; ")
	in.authorization = header(h, "authorization", ", ")

	if sa := attrs.GetSource().GetAddress().GetSocketAddress(); sa != nil {
		if ip, err := netip.ParseAddr(sa.GetAddress()); err == nil {
			in.req.ClientIP = ip.Unmap()
		}
	}
	return in, nil
}

// splitPath splits Envoy's request target into the normalized path (the
// one rules match, by authz.NormalizePath, as every adapter does), the raw
// path when it differs, and the raw query. It rejects a target that is not
// origin-form, holds control characters, spaces or a fragment, or a path
// that cannot be normalized without ambiguity (encoded slashes,
// backslashes, bad escapes).
func splitPath(target string) (path, rawPath, query string, err error) {
	if target == "" || target[0] != '/' || len(target) > maxPathLen {
		return "", "", "", errors.Join(errBadRequest, errors.New("bad path"))
	}
	if hasCTL(target) || strings.ContainsAny(target, " #") {
		return "", "", "", errors.Join(errBadRequest, errors.New("bad character in path"))
	}
	raw, query, _ := strings.Cut(target, "?")
	path, ok := authz.NormalizePath(raw)
	if !ok {
		return "", "", "", errors.Join(errBadRequest, errors.New("path cannot be normalized"))
	}
	if path != raw {
		rawPath = raw
	}
	return path, rawPath, query, nil
}

// header returns the request header name (lower case), joining repeated
// values with sep. It reads the string map Envoy sends by default, and the
// header_map Envoy sends when encode_raw_headers is on.
func header(h *authv3.AttributeContext_HttpRequest, name, sep string) string {
	if v, ok := h.GetHeaders()[name]; ok {
		return v
	}
	var vals []string
	for _, hv := range h.GetHeaderMap().GetHeaders() {
		if !strings.EqualFold(hv.GetKey(), name) {
			continue
		}
		if raw := hv.GetRawValue(); len(raw) > 0 {
			vals = append(vals, string(raw))
		} else {
			vals = append(vals, hv.GetValue())
		}
	}
	return strings.Join(vals, sep)
}

// isToken reports whether s is an RFC 9110 token (the syntax of a method).
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validHost accepts a reg-name, IPv4 or bracketed IPv6 host with an
// optional port, and nothing that could change a URL built from it
// (no "/", "@", "\", "?", "#", spaces or control characters).
func validHost(h string) bool {
	if h == "" || len(h) > maxHostLen {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '.', c == '_', c == ':', c == '[', c == ']':
		default:
			return false
		}
	}
	return true
}

// hasCTL reports whether s holds an ASCII control character or DEL.
func hasCTL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}
