package reverseproxy

import (
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/internal/authz"
)

// neverFromClient are headers an app may act on that must never carry a
// client's value, beyond gatehouse's own identity headers (which the
// verdict sets or removes) and other products' (authz.ForeignIdentityHeaders):
//
//   - headers that replace the request target or a path prefix in IIS,
//     Symfony, WSGI "ReverseProxied" recipes, Spring and the like, so the
//     app would act on another path than the one judged;
//   - client addresses other than X-Forwarded-For (which rewrite sets),
//     which apps log or trust.
var neverFromClient = []string{
	"X-Original-Url", "X-Rewrite-Url", "X-Original-Uri", "X-Forwarded-Uri", "X-Envoy-Original-Path",
	"X-Script-Name", "X-Forwarded-Prefix", "X-Forwarded-Path", "X-Forwarded-Port", "X-Forwarded-Server",
	"X-Forwarded-Method", "X-Original-Method",
	"X-Real-Ip", "True-Client-Ip", "X-Client-Ip", "Cf-Connecting-Ip",
}

// rewrite makes the outbound request from the judged one. The
// ReverseProxy has already removed hop-by-hop headers (and those the
// client named in Connection) and the client's Forwarded and
// X-Forwarded-For/-Host/-Proto, so whatever is set here reaches the
// upstream as set.
func rewrite(pr *httputil.ProxyRequest, u *upstream) {
	fw, _ := pr.In.Context().Value(forwardKey{}).(*forward)
	out := pr.Out
	if fw == nil {
		// Unreachable: ServeHTTP always attaches the judged request. Send
		// nothing anywhere rather than an unjudged request.
		out.URL = &url.URL{Scheme: "http", Host: "invalid.", Path: "/"}
		return
	}
	req := fw.req
	// The path is the judged, normalized one (authz.Request.Path), encoded
	// by net/url: the upstream decodes exactly what was judged. Dot
	// segments, "//", and encodings the client chose never reach it. The
	// query is passed as sent (rules never match on it), minus what
	// ReverseProxy drops as unparsable.
	out.URL = &url.URL{Scheme: u.url.Scheme, Host: u.url.Host, Path: req.Path, RawQuery: out.URL.RawQuery}
	out.Host = req.Host
	if u.hostHeader != "" {
		out.Host = u.hostHeader
	}

	h := out.Header
	for _, name := range neverFromClient {
		delete(h, name)
	}
	foreign := authz.ForeignIdentityHeaders()
	for _, name := range foreign {
		h.Del(name)
	}
	// A name with "_" is one net/http leaves as sent. A WSGI or CGI app
	// reads X_Script_Name as X-Script-Name (HTTP_X_SCRIPT_NAME), so a
	// look-alike of any header set or removed here goes too. (Decide
	// already refused look-alikes of the identity headers.)
	for name := range h {
		if strings.IndexByte(name, '_') >= 0 && controlled(name, fw, foreign) {
			delete(h, name)
		}
	}
	// Every identity header, and the Cookie header without gatehouse's
	// cookies: a value replaces the client's, an empty one removes it.
	for _, uh := range fw.verdict.UpstreamHeaders {
		name := http.CanonicalHeaderKey(uh.Name)
		if uh.Value == "" {
			delete(h, name)
			continue
		}
		h[name] = []string{uh.Value}
	}
	if _, ok := h["Cookie"]; ok && !hasUpstreamCookie(fw) {
		// The checker gives the Cookie header whenever the request had
		// cookies; should it ever not, no cookie passes unfiltered.
		delete(h, "Cookie")
	}

	// A trusted proxy's X-Forwarded-For is kept and the peer appended;
	// anyone else's was removed, so the list starts at the peer.
	if fw.trusted {
		if prior := pr.In.Header["X-Forwarded-For"]; len(prior) > 0 {
			h["X-Forwarded-For"] = append([]string(nil), prior...)
		}
	}
	pr.SetXForwarded()
	h.Set("X-Forwarded-Host", req.Host)
	h.Set("X-Forwarded-Proto", req.Scheme)
	h.Set("X-Real-Ip", req.ClientIP.String())

	// Only a websocket upgrade passes: any other protocol (h2c above all)
	// would turn one judged request into a tunnel of unjudged ones. With
	// the Upgrade header gone, a 101 from the upstream is refused too.
	if up := h.Get("Upgrade"); up != "" && !strings.EqualFold(up, "websocket") {
		delete(h, "Upgrade")
		delete(h, "Connection")
	}
}

// setHere are the headers rewrite sets for the upstream.
var setHere = []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip", "Cookie", "Host"}

// controlled reports whether name, once letter case is ignored and "-"
// and "_" are taken as one, is a header rewrite sets or removes.
func controlled(name string, fw *forward, foreign []string) bool {
	for _, list := range [][]string{neverFromClient, foreign, setHere} {
		for _, c := range list {
			if sameFolded(name, c) {
				return true
			}
		}
	}
	for _, uh := range fw.verdict.UpstreamHeaders {
		if sameFolded(name, uh.Name) {
			return true
		}
	}
	return false
}

// sameFolded compares two header names with ASCII case ignored and "-"
// and "_" taken as one.
func sameFolded(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if foldByte(a[i]) != foldByte(b[i]) {
			return false
		}
	}
	return true
}

func foldByte(c byte) byte {
	switch {
	case 'A' <= c && c <= 'Z':
		return c + 'a' - 'A'
	case c == '_':
		return '-'
	}
	return c
}

// hasUpstreamCookie reports whether the verdict names the Cookie header
// the upstream gets.
func hasUpstreamCookie(fw *forward) bool {
	for _, uh := range fw.verdict.UpstreamHeaders {
		if strings.EqualFold(uh.Name, "Cookie") {
			return true
		}
	}
	return false
}
