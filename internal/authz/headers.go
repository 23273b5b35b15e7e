package authz

import "strings"

// foreignIdentityHeaders are identity headers of other products (oauth2-proxy,
// Authelia, Apache, Pomerium users) that an upstream may honour. The
// shipped proxy configurations remove them; Decide refuses look-alike
// spellings of them as it does of gatehouse's own.
var foreignIdentityHeaders = [...]string{
	"Remote-User", "Remote-Email", "Remote-Groups", "Remote-Name",
	"X-Remote-User", "X-Forwarded-User", "X-Forwarded-Email",
	"X-Forwarded-Groups", "X-Forwarded-Preferred-Username",
}

// ForeignIdentityHeaders returns the identity headers of other products
// that an upstream may honour and that must never reach it from a client
// (a proxy removes them; internal/reverseproxy does so itself). The slice
// is a copy.
func ForeignIdentityHeaders() []string {
	return append([]string(nil), foreignIdentityHeaders[:]...)
}

// SpoofedHeader returns the first of the client's header names that is a
// look-alike of an identity header or of a method-override header
// (MethodOverrideHeaders): the same name once letter case is ignored and
// "-" and "_" are taken as one, but not the same header; or a header named
// SCRIPT_NAME or PATH_INFO, which WSGI servers route on.
// Proxies replace the real header in any letter case, but pass a
// look-alike such as "X-Auth-Request_Email" on, and a WSGI or CGI app
// (HTTP_X_AUTH_REQUEST_EMAIL) cannot tell the two apart. Identity header
// names never hold "_" (the configuration refuses them), so only the
// names in Request.UnderscoreHeaders can be look-alikes. It allocates
// nothing.
func (p *Policy) SpoofedHeader(r *Request) (string, bool) {
	if len(r.UnderscoreHeaders) == 0 {
		return "", false
	}
	h := p.Headers
	owned := [...]string{h.User, h.Email, h.Groups, h.PreferredUsername, h.AccessToken, h.Authorization, h.Assertion, DefaultAccessTokenHeader}
	for _, name := range r.UnderscoreHeaders {
		// WSGI servers take these from a header of that very name
		// (gunicorn: SCRIPT_NAME), so the app routes elsewhere than the
		// target judged.
		if strings.EqualFold(name, "SCRIPT_NAME") || strings.EqualFold(name, "PATH_INFO") {
			return name, true
		}
		for _, o := range owned {
			if lookAlike(name, o) {
				return name, true
			}
		}
		for _, o := range foreignIdentityHeaders {
			if lookAlike(name, o) {
				return name, true
			}
		}
		for _, o := range MethodOverrideHeaders {
			if lookAlike(name, o) {
				return name, true
			}
		}
	}
	return "", false
}

// UnderscoreHeaders returns the names among the keys of h (an http.Header,
// or the header map of an Envoy check request) that hold "_", for
// Request.UnderscoreHeaders. It allocates only when there is one.
func UnderscoreHeaders[V any](h map[string]V) []string {
	var names []string
	for name := range h {
		if strings.IndexByte(name, '_') >= 0 {
			names = append(names, name)
		}
	}
	return names
}

// lookAlike reports whether name equals header once ASCII letter case is
// ignored and "-" and "_" are taken as one, without being the same header
// name (which compares case-insensitively).
func lookAlike(name, header string) bool {
	if len(name) != len(header) || header == "" {
		return false
	}
	swapped := false
	for i := 0; i < len(name); i++ {
		a, b := lower(name[i]), lower(header[i])
		switch {
		case a == b:
		case (a == '-' || a == '_') && (b == '-' || b == '_'):
			swapped = true
		default:
			return false
		}
	}
	return swapped
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
