//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/config"
)

// spoofMarker is in every identity value the differential corpus sends as
// a client; the app must never receive it in an identity header.
const spoofMarker = "mallory"

// otherIdentityNames carry identity in other products (Authelia,
// oauth2-proxy's upstream mode, Apache REMOTE_USER); the app must never
// receive them from a client.
var otherIdentityNames = []string{"Remote-User", "X-Remote-User", "X-Forwarded-User", "X-Forwarded-Email",
	"X-Forwarded-Groups", "X-Forwarded-Preferred-Username", "Remote-Email", "Remote-Groups", "Remote-Name",
	"X-Auth-Request-Access-Token"} // gatehouse's, but off in the suite's config

// rewriteHeaders name a URL or path that some app frameworks act on instead
// of the request target (IIS and Symfony X-Original-URL / X-Rewrite-URL,
// nginx-style X-Original-URI, forward-auth X-Forwarded-Uri, Envoy
// x-envoy-original-path). Their values are further path views.
var rewriteHeaders = []string{"X-Original-URL", "X-Rewrite-URL", "X-Original-URI", "X-Forwarded-Uri", "X-Envoy-Original-Path"}

// foldName is a header name with case and the '-'/'_' difference removed:
// the name a CGI/WSGI app (HTTP_X_AUTH_REQUEST_EMAIL) or a lenient
// framework reads.
func foldName(n string) string {
	n = strings.ToLower(strings.TrimSpace(n))
	return strings.NewReplacer("-", "", "_", "").Replace(n)
}

// oracle judges what reached the app against the policy gatehouse runs,
// built from the very configuration file the replicas were started with.
type oracle struct {
	policy     *authz.Policy
	cookieName string
	ours       map[string]string // folded name → gatehouse's spelling
	others     map[string]bool   // folded names of other products' headers
}

func newOracle(cfgPath string) (*oracle, error) {
	c, err := config.Load(cfgPath, func(string) (string, bool) { return "", false })
	if err != nil {
		return nil, fmt.Errorf("oracle: load %s: %w", cfgPath, err)
	}
	p, err := c.LoadPolicy()
	if err != nil {
		return nil, fmt.Errorf("oracle: policy: %w", err)
	}
	o := &oracle{policy: p, cookieName: c.Cookie.Name, ours: map[string]string{}, others: map[string]bool{}}
	for _, n := range p.Headers.All() {
		o.ours[foldName(n)] = n
	}
	for _, n := range otherIdentityNames {
		o.others[foldName(n)] = true
	}
	return o, nil
}

// identity is who the app was told the user is: the first non-empty value
// of each of gatehouse's identity headers, in any spelling. nil means
// anonymous.
func (o *oracle) identity(r *rawRequest) *authz.Identity {
	val := func(name string) string {
		for _, h := range r.Headers {
			if foldName(h[0]) == foldName(name) && h[1] != "" {
				return h[1]
			}
		}
		return ""
	}
	hn := o.policy.Headers
	id := &authz.Identity{User: val(hn.User), Email: val(hn.Email), PreferredUsername: val(hn.PreferredUsername), EmailVerified: true}
	if g := val(hn.Groups); g != "" {
		for _, x := range strings.Split(g, ",") {
			id.Groups = append(id.Groups, strings.TrimSpace(x))
		}
	}
	if id.User == "" && id.Email == "" && id.PreferredUsername == "" && len(id.Groups) == 0 {
		return nil
	}
	id.Subject = id.User
	return id
}

// judge returns every way the request the app received breaks the seam:
// a view the policy does not admit for the identity the app was given, a
// client-chosen identity value, a look-alike identity header, another
// product's identity header, a gatehouse cookie.
// prefixHeaders name a path prefix (or the path itself) that WSGI servers
// and frameworks take from the request instead of the target: gunicorn's
// SCRIPT_NAME, the "ReverseProxied" recipes' X-Script-Name, Spring's
// X-Forwarded-Prefix. None may reach the app from a client.
var prefixHeaders = map[string]bool{"xscriptname": true, "scriptname": true, "pathinfo": true, "xforwardedprefix": true}

func (o *oracle) judge(r *rawRequest) []string {
	var bad []string
	for _, h := range r.Headers {
		if prefixHeaders[foldName(h[0])] {
			bad = append(bad, fmt.Sprintf("path-prefix header reached the app: %q: %q", h[0], h[1]))
		}
	}
	for _, h := range r.Headers {
		f := foldName(h[0])
		canon, ours := o.ours[f]
		switch {
		case (ours || o.others[f]) && strings.Contains(strings.ToLower(h[1]), spoofMarker):
			bad = append(bad, fmt.Sprintf("client-chosen identity reached the app: %q: %q", h[0], h[1]))
		case ours && h[1] != "" && !strings.EqualFold(h[0], canon):
			bad = append(bad, fmt.Sprintf("look-alike identity header reached the app: %q: %q", h[0], h[1]))
		case o.others[f] && h[1] != "":
			bad = append(bad, fmt.Sprintf("another product's identity header reached the app: %q: %q", h[0], h[1]))
		}
	}
	// An identity gatehouse set must arrive whole: a proxy that removes
	// hop-by-hop headers a client names in Connection after copying
	// gatehouse's answer would let the client drop the email or groups.
	if id := o.identity(r); id != nil && (id.User == "" || id.Email == "") {
		bad = append(bad, fmt.Sprintf("an identity header gatehouse set was removed before the app (user %q, email %q)", id.User, id.Email))
	}
	// A protocol upgrade other than websocket (h2c above all) turns the
	// connection to the app into a tunnel whose later requests the proxy
	// never shows gatehouse.
	for _, u := range r.values("Upgrade") {
		if !strings.EqualFold(strings.TrimSpace(u), "websocket") {
			bad = append(bad, fmt.Sprintf("protocol upgrade reached the app: Upgrade: %q", u))
		}
	}
	// CONNECT's target is an authority: no path the proxy reported to
	// gatehouse is what the app acts on.
	if strings.EqualFold(r.Method, "CONNECT") {
		bad = append(bad, fmt.Sprintf("CONNECT reached the app: target %q", r.Target))
	}
	for _, name := range o.ownCookies(r) {
		bad = append(bad, fmt.Sprintf("gatehouse cookie reached the app: %s", name))
	}
	id := o.identity(r)
	state := authz.NoSession
	if id != nil {
		state = authz.ValidSession
	}
	for _, c := range clientViews(r) {
		for _, m := range methodViews(r) {
			for _, h := range hostViews(r) {
				for _, p := range pathViews(r) {
					req := &authz.Request{Method: m, Scheme: "https", Host: h, Path: p, Accept: "application/json", ClientIP: c}
					d := authz.Decide(o.policy, req, state, id)
					if d.Outcome != authz.Allow {
						who := "anonymous"
						if id != nil {
							who = fmt.Sprintf("%s (groups %q)", id.Email, id.Groups)
						}
						bad = append(bad, fmt.Sprintf("not admitted: %s %s%s as %s from %s → %s/%s (rule %q)", m, h, p, who, c, d.Outcome, d.Reason, d.Rule))
					}
				}
			}
		}
	}
	return bad
}

// learnCookieName sets the session cookie's effective name from the
// cookies a real login left: cookie.name, or cookie.name with the __Host-
// or __Secure- prefix gatehouse gives it. It reports whether one was found.
func (o *oracle) learnCookieName(cs []*http.Cookie) bool {
	base := o.cookieName
	for _, c := range cs {
		if c.Name == base || c.Name == "__Host-"+base || c.Name == "__Secure-"+base {
			o.cookieName = c.Name
			return true
		}
	}
	return false
}

// ownCookies returns the names of gatehouse's cookies (the session cookie
// and every cookie named after it with "_") in the request's Cookie
// headers.
func (o *oracle) ownCookies(r *rawRequest) []string {
	var out []string
	for _, c := range r.values("Cookie") {
		// ";" per RFC 6265, and "," as RFC 2965 and some app servers
		// still split.
		for _, part := range strings.FieldsFunc(c, func(r rune) bool { return r == ';' || r == ',' }) {
			name, _, _ := strings.Cut(strings.TrimSpace(part), "=")
			name = strings.TrimSpace(name)
			if name == o.cookieName || strings.HasPrefix(name, o.cookieName+"_") {
				out = append(out, name)
			}
		}
	}
	return out
}

// clientAddrHeaders name the client address an app may log or act on.
var clientAddrHeaders = []string{"X-Forwarded-For", "X-Real-IP", "True-Client-IP", "X-Client-IP", "CF-Connecting-IP"}

// clientViews are the client addresses the request may be judged by: the
// real one (every test client is on loopback), which must always be
// admitted, and every address a forwarded header names.
func clientViews(r *rawRequest) []netip.Addr {
	out := []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	add := func(s string) {
		s = strings.Trim(strings.TrimSpace(s), `"[]`)
		if a, err := netip.ParseAddr(s); err == nil && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	for _, n := range clientAddrHeaders {
		for _, v := range r.values(n) {
			for _, x := range strings.Split(v, ",") {
				add(x)
			}
		}
	}
	for _, v := range r.values("Forwarded") {
		for _, kv := range strings.FieldsFunc(v, func(c rune) bool { return c == ';' || c == ',' }) {
			if k, val, ok := strings.Cut(strings.TrimSpace(kv), "="); ok && strings.EqualFold(k, "for") {
				add(val)
			}
		}
	}
	return out
}

// methodOverrideHeaders name a method many frameworks act on instead of
// the request line's (Express method-override, Rails, Symfony, ASP.NET).
var methodOverrideHeaders = []string{"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"}

// methodViews: the method as received, in upper case (some servers fold
// it), and every method an override header names.
func methodViews(r *rawRequest) []string {
	out := []string{r.Method}
	add := func(m string) {
		if m != "" && !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	add(strings.ToUpper(r.Method))
	for _, n := range methodOverrideHeaders {
		for _, v := range r.values(n) {
			for _, m := range strings.Split(v, ",") {
				add(strings.ToUpper(strings.TrimSpace(m)))
			}
		}
	}
	return out
}

// hostViews are the hosts a lenient app may act on: every Host header, the
// authority of an absolute-form target, the first X-Forwarded-Host and
// Forwarded host=, and the host of a URL-valued rewrite header, each
// lower-cased without port or trailing dot.
func hostViews(r *rawRequest) []string {
	var raw []string
	raw = append(raw, r.values("Host")...)
	if u, err := url.Parse(r.Target); err == nil && u.IsAbs() {
		raw = append(raw, u.Host)
	}
	for _, v := range r.values("X-Forwarded-Host") {
		raw = append(raw, strings.TrimSpace(strings.Split(v, ",")[0]))
		break
	}
	for _, v := range r.values("Forwarded") {
		for _, kv := range strings.FieldsFunc(v, func(c rune) bool { return c == ';' || c == ',' }) {
			if k, val, ok := strings.Cut(strings.TrimSpace(kv), "="); ok && strings.EqualFold(k, "host") {
				raw = append(raw, strings.Trim(val, `"`))
			}
		}
	}
	for _, n := range rewriteHeaders {
		for _, v := range r.values(n) {
			if u, err := url.Parse(v); err == nil && u.IsAbs() {
				raw = append(raw, u.Host)
			}
		}
	}
	var out []string
	for _, h := range raw {
		c := authz.CanonicalHost(strings.TrimSpace(h))
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		out = []string{""}
	}
	return out
}

// pathViews are the paths a lenient app may act on, for the request
// target and every rewrite header: each combination of '#' kept as a
// literal or cutting the path, percent-decoding once or not, ";params"
// dropped per segment (before or after decoding) or kept, '\' read as '/'
// or not, letter case folded or not, and trailing dots and spaces of
// each segment dropped or not (Windows and IIS map "/admin." and
// "/admin%20" to "/admin"); every view then has its dot segments resolved
// and "//" merged, as servers do before routing.
func pathViews(r *rawRequest) []string {
	targets := []string{r.Target}
	for _, n := range rewriteHeaders {
		targets = append(targets, r.values(n)...)
	}
	var out []string
	for _, t := range targets {
		p := targetPath(t)
		for _, cut := range []bool{false, true} {
			q := p
			if cut {
				q, _, _ = strings.Cut(q, "#")
			}
			for _, dec := range []bool{false, true} {
				for _, params := range []int{0, 1, 2} {
					for _, bs := range []bool{false, true} {
						for _, low := range []bool{false, true} {
							for _, win := range []bool{false, true} {
								v := q
								if params == 1 {
									v = dropParams(v)
								}
								if dec {
									v = percentDecode(v)
								}
								if params == 2 {
									v = dropParams(v)
								}
								if bs {
									v = strings.ReplaceAll(v, `\`, "/")
								}
								if win {
									v = trimSegments(v)
								}
								v = resolveDots(v)
								if low {
									v = strings.ToLower(v)
								}
								if !slices.Contains(out, v) {
									out = append(out, v)
								}
							}
						}
					}
				}
			}
		}
	}
	return out
}

// targetPath is the path of a request target in origin or absolute form,
// without the query.
func targetPath(t string) string {
	if !strings.HasPrefix(t, "/") {
		if i := strings.Index(t, "://"); i >= 0 {
			rest := t[i+3:]
			j := strings.IndexAny(rest, "/?")
			if j < 0 || rest[j] == '?' {
				t = "/"
			} else {
				t = rest[j:]
			}
		}
	}
	p, _, _ := strings.Cut(t, "?")
	return p
}

// trimSegments drops trailing dots and spaces from every segment that is
// not itself "." or "..", as Windows path handling does.
func trimSegments(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if s != "." && s != ".." {
			segs[i] = strings.TrimRight(s, ". ")
		}
	}
	return strings.Join(segs, "/")
}

// dropParams removes ";params" from every segment ("/a;x/b;y" → "/a/b").
func dropParams(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i], _, _ = strings.Cut(s, ";")
	}
	return strings.Join(segs, "/")
}

// percentDecode decodes every valid %XX once and leaves anything else.
func percentDecode(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '%' && i+2 < len(p) && isHexDigit(p[i+1]) && isHexDigit(p[i+2]) {
			b.WriteByte(unhex(p[i+1])<<4 | unhex(p[i+2]))
			i += 2
			continue
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// resolveDots merges empty segments and resolves "." and ".." (never
// above the root), keeping a trailing slash.
func resolveDots(p string) string {
	var out []string
	segs := strings.Split(p, "/")
	for _, s := range segs {
		switch s {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, s)
		}
	}
	res := "/" + strings.Join(out, "/")
	last := segs[len(segs)-1]
	if len(out) > 0 && (last == "" || last == "." || last == "..") {
		res += "/"
	}
	return res
}
