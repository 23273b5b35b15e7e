package envoy

import (
	"errors"
	"net/netip"
	"strings"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/gatehouse/gatehouse/internal/authz"
)

// maxRouteLen bounds the gatehouse_route context extension.
const maxRouteLen = 128

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

// parseRequest maps a CheckRequest to the core's request, in in (the
// caller's, which holds nothing else: a returned copy would cost its frame
// the room twice). It returns errBadRequest (wrapped with the detail) when
// the HTTP attributes are missing or malformed, and in is then to be
// ignored; it never panics on any input.
func parseRequest(cr *authv3.CheckRequest, in *checkInput) error {
	attrs := cr.GetAttributes()
	h := attrs.GetRequest().GetHttp()
	if h == nil {
		return errors.Join(errBadRequest, errors.New("no http request attributes"))
	}
	if r := attrs.GetContextExtensions()[ContextExtensionRoute]; len(r) <= maxRouteLen && !hasCTL(r) {
		in.route = r
	}

	target := h.GetPath()
	if !strings.Contains(target, "?") && h.GetQuery() != "" {
		// Envoy documents Query as always empty, but accept it if a
		// client of this API fills it instead of putting it in Path.
		target += "?" + h.GetQuery()
	}
	req, err := authz.NewRequest(h.GetMethod(), h.GetScheme(), h.GetHost(), target)
	if err != nil {
		return errors.Join(errBadRequest, err)
	}
	in.req = req
	in.req.UnderscoreHeaders = underscoreHeaders(h)
	if err := in.req.SetMethodOverride(func(name string) string { return header(h, methodOverrideKey(name), ",") }); err != nil {
		return errors.Join(errBadRequest, err)
	}

	in.req.Accept = header(h, "accept", ", ")
	in.req.FetchMode = header(h, "sec-fetch-mode", ",")
	in.req.RequestedWith = header(h, "x-requested-with", ",")
	in.cookie = header(h, "cookie", "; ")
	in.authorization = header(h, "authorization", ", ")

	if sa := attrs.GetSource().GetAddress().GetSocketAddress(); sa != nil {
		if ip, err := netip.ParseAddr(sa.GetAddress()); err == nil {
			in.req.ClientIP = ip.Unmap()
		}
	}
	return nil
}

// methodOverrideKeys are authz.MethodOverrideHeaders as Envoy keys them,
// in lower case, so that reading them allocates nothing.
var methodOverrideKeys = [len(authz.MethodOverrideHeaders)]string{"x-http-method-override", "x-http-method", "x-method-override"}

// methodOverrideKey returns Envoy's key for the header name, one of
// authz.MethodOverrideHeaders.
func methodOverrideKey(name string) string {
	for i, n := range authz.MethodOverrideHeaders {
		if n == name {
			return methodOverrideKeys[i]
		}
	}
	return strings.ToLower(name)
}

// underscoreHeaders returns the names of the request's headers that hold
// "_", from the string map Envoy sends by default or the header_map it
// sends with encode_raw_headers.
func underscoreHeaders(h *authv3.AttributeContext_HttpRequest) []string {
	names := authz.UnderscoreHeaders(h.GetHeaders())
	for _, hv := range h.GetHeaderMap().GetHeaders() {
		if strings.IndexByte(hv.GetKey(), '_') >= 0 {
			names = append(names, hv.GetKey())
		}
	}
	return names
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

// hasCTL reports whether s holds an ASCII control character or DEL.
func hasCTL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}
