//go:build e2e

package e2e

import "strings"

// probe is one raw request of the differential corpus. head is the
// request line and header lines, "\n"-separated, with placeholders:
//
//	{HP} the app's host:port   {H} host   {P} port   {HU} host in upper case
//	{S}  the host-scoped skip route's host (status.<host>)   {SP} {S}:{P}
//	{C}  the variant's Cookie value (alice's session, or a forged one)
//	{CN} gatehouse's session cookie name (e.g. __Host-_gatehouse)
//
// Unless head has its own Host line (or noHost), "Host: {HP}" is added;
// unless it names {C} itself, "Cookie: {C}" is added; X-Diff-Id and
// "Connection: close" are always added. body follows the empty line.
type probe struct {
	name   string
	head   string
	body   string
	noHost bool
	lf     bool // end lines with "\n" only
}

// corpusVars are the values a probe's placeholders take.
type corpusVars struct {
	host, port, status, cookie, cookieName string
}

// build renders the probe as bytes for the wire.
func (p probe) build(v corpusVars, id string) []byte {
	hp := v.host + ":" + v.port
	rep := strings.NewReplacer("{HP}", hp, "{HU}", strings.ToUpper(v.host), "{H}", v.host, "{P}", v.port,
		"{SP}", v.status+":"+v.port, "{S}", v.status, "{CN}", v.cookieName, "{C}", v.cookie)
	lines := strings.Split(p.head, "\n")
	hasHost, hasCookie := false, strings.Contains(p.head, "{C}")
	for _, l := range lines[1:] {
		if len(l) >= 5 && strings.EqualFold(l[:5], "host:") {
			hasHost = true
		}
	}
	out := []string{lines[0]}
	if !hasHost && !p.noHost {
		out = append(out, "Host: {HP}")
	}
	out = append(out, lines[1:]...)
	out = append(out, "X-Diff-Id: "+id)
	if !hasCookie && v.cookie != "" {
		out = append(out, "Cookie: {C}")
	}
	out = append(out, "Connection: close")
	eol := "\r\n"
	if p.lf {
		eol = "\n"
	}
	return []byte(rep.Replace(strings.Join(out, eol)) + eol + eol + p.body)
}

// corpus is the differential test's requests. The classes come from
// published advisories of forward-auth gateways and the proxies in front of
// them: path confusion between the proxy, the auth server and the app
// (oauth2-proxy skip_auth_regex and upstream path bypasses, Pomerium and
// Envoy %2F / %5C / "..;" / case handling, Oathkeeper rule matching on the
// undecoded URL, tinyauth and Authelia X-Forwarded-Uri / X-Original-URL
// trust), spoofed X-Forwarded-* and Host, absolute-form targets,
// identity-header spellings a WSGI app folds together, and framing that
// may desync the proxy from the app.
func corpus() []probe {
	var b probes
	for _, class := range []func(*probes){
		pathProbes, methodProbes, overrideProbes, hostProbes, forwardedProbes,
		identityProbes, cookieProbes, clientProbes, upgradeProbes, framingProbes,
	} {
		class(&b)
	}
	return b.ps
}

// probes collects the corpus.
type probes struct{ ps []probe }

// add appends a probe with the default framing.
func (b *probes) add(name, head string) { b.ps = append(b.ps, probe{name: name, head: head}) }

// raw appends a probe as given.
func (b *probes) raw(p probe) { b.ps = append(b.ps, p) }

// pathProbes are the paths: exact, case, ;params, dot segments (plain and
// encoded), encoded and literal separators, fragments, queries, bad UTF-8,
// NUL, Windows trailing dots.
func pathProbes(b *probes) {
	for _, p := range []string{
		"/public", "/public/", "/public/x", "/healthz", "/dashboard", "/admin", "/admin/x", "/internal", "/internal/x",
		"/PUBLIC", "/Public/x", "/HEALTHZ", "/ADMIN", "/Admin/x", "/INTERNAL", "/iNtErNaL/x",
		"/admin;x", "/admin;/x", "/admin;jsessionid=1/x", "/internal;x", "/public;x", "/public;/../admin",
		"/public/..;/admin", "/public/..;x/internal", "/public/.;/x", "/;/admin", "/admin/;/x", "/healthz;/../admin",
		"/public/../admin", "/public/./../internal", "/public/%2e%2e/admin", "/public/%2E%2E/internal",
		"/public/.%2e/admin", "/public/%2e./admin", "/./admin", "/public/%2e/x", "/public/x/../../admin",
		"/healthz/../internal", "/public/%252e%252e/admin",
		"/public/..%2fadmin", "/public%2f..%2finternal", "/public/..%5cadmin", `/public\..\admin`,
		`/public/..\internal`, "/public%5c..%5cadmin", "/%2fadmin", "/%2Fadmin", "//admin", "///internal",
		"/public//../admin", "/public/..//internal", "//public/../admin",
		"/%61dmin", "/%41DMIN", "/adm%69n", "/%69nternal", "/%70ublic/../admin",
		"/public#/../admin", "/public%23/../admin", "/public/x#../../internal", "/admin#", "/public#x",
		"/public?/../admin", "/admin?x=/public", "/public?x=1#/../../admin", "/public?%2e%2e/admin",
		"/public/%c0%ae%c0%ae/admin", "/%c0%afadmin", "/public/%ef%bc%8e%ef%bc%8e/admin", "/public/\xc3\xa9/../admin",
		"/admin%00", "/public%00/../admin", "/admin%20", "/admin%09", "/admin.", "/admin/.", "/internal..;/",
		"/admin..", "/admin%2e", "/internal.%20/x", "/Admin./x",
		"/public%3f/../admin", "/public%3F/%2e%2e/internal", "/public%3b/../admin", "/admin%3bx", "/public/%2e%2e%3b/admin",
		"/public;%2e%2e/admin", "/public/.../admin", "/public/..%00/admin", "/public/%2e%2e%5c/admin", "/public%23%2f..%2finternal",
		"/public/%u002e%u002e/admin",
	} {
		b.add("GET "+p, "GET "+p+" HTTP/1.1")
	}
}

// methodProbes are the request methods, protocol versions and a missing
// Host.
func methodProbes(b *probes) {
	for _, m := range []string{"get /admin", "GeT /internal", "HEAD /admin", "OPTIONS /admin", "PROPFIND /internal",
		"TRACE /admin", "OPTIONS *", "DELETE /public", "get /public/../admin", "CONNECT {HP}", "CONNECT /public"} {
		b.add(m, m+" HTTP/1.1")
	}
	b.raw(probe{name: "POST /internal with a body", head: "POST /internal HTTP/1.1\nContent-Type: text/plain\nContent-Length: 5", body: "hello"})
	b.add("HTTP/1.0 /admin", "GET /admin HTTP/1.0")
	b.raw(probe{name: "HTTP/1.0 /admin without Host", head: "GET /admin HTTP/1.0", noHost: true})
	b.raw(probe{name: "HTTP/1.1 /admin without Host", head: "GET /admin HTTP/1.1", noHost: true})
}

// overrideProbes are the method-override headers against a method-scoped
// allow (/ro: GET and HEAD only) and a method-scoped deny (/public: no
// DELETE, PUT, PATCH).
func overrideProbes(b *probes) {
	for _, c := range []struct{ name, head string }{
		{"GET /ro", "GET /ro HTTP/1.1"},
		{"DELETE /ro", "DELETE /ro HTTP/1.1"},
		{"GET /ro override DELETE", "GET /ro HTTP/1.1\nX-HTTP-Method-Override: DELETE"},
		{"GET /ro X-HTTP-Method PUT", "GET /ro HTTP/1.1\nX-HTTP-Method: PUT"},
		{"GET /ro X-Method-Override PATCH", "GET /ro HTTP/1.1\nX-Method-Override: PATCH"},
		{"GET /ro override lower case", "GET /ro HTTP/1.1\nx-http-method-override: delete"},
		{"GET /ro override list", "GET /ro HTTP/1.1\nX-HTTP-Method-Override: GET, DELETE"},
		{"GET /ro two overrides", "GET /ro HTTP/1.1\nX-HTTP-Method-Override: GET\nX-HTTP-Method-Override: DELETE"},
		{"GET /ro override spelled with _", "GET /ro HTTP/1.1\nX_HTTP_Method_Override: DELETE"},
		{"GET /public override DELETE", "GET /public HTTP/1.1\nX-HTTP-Method-Override: DELETE"},
		{"HEAD /public X-HTTP-Method PUT", "HEAD /public HTTP/1.1\nX-HTTP-Method: PUT"},
		{"GET /public X-Method-Override patch", "GET /public HTTP/1.1\nX-Method-Override: patch"},
	} {
		b.add(c.name, c.head)
	}
	b.raw(probe{name: "POST /ro override DELETE", head: "POST /ro HTTP/1.1\nX-HTTP-Method-Override: DELETE\nContent-Length: 0"})
	b.raw(probe{name: "POST /public override PUT", head: "POST /public HTTP/1.1\nX-HTTP-Method-Override: PUT\nContent-Length: 0"})
}

// hostProbes are the the skip route's host, odd forms, several Host headers,
// absolute-form targets that disagree with Host.
func hostProbes(b *probes) {
	for _, c := range []struct{ name, head string }{
		{"Host: status host", "GET /admin HTTP/1.1\nHost: {S}"},
		{"Host: status host:port", "GET /dashboard HTTP/1.1\nHost: {SP}"},
		{"Host: trailing dot", "GET /admin HTTP/1.1\nHost: {H}.:{P}"},
		{"Host: upper case", "GET /internal HTTP/1.1\nHost: {HU}:{P}"},
		{"Host: twice, app first", "GET /admin HTTP/1.1\nHost: {HP}\nHost: {S}"},
		{"Host: twice, status first", "GET /admin HTTP/1.1\nHost: {S}\nHost: {HP}"},
		{"Host: list", "GET /admin HTTP/1.1\nHost: {S}, {HP}"},
		{"Host: userinfo", "GET /admin HTTP/1.1\nHost: {S}@{HP}"},
		{"Host: double port", "GET /admin HTTP/1.1\nHost: {HP}:{P}"},
		{"Host: empty", "GET /admin HTTP/1.1\nHost: "},
		{"Host: loopback", "GET /admin HTTP/1.1\nHost: 127.0.0.1:{P}"},
		{"absolute, same host", "GET https://{HP}/admin HTTP/1.1\nHost: {HP}"},
		{"absolute, same host, public", "GET https://{HP}/public?q=1 HTTP/1.1\nHost: {HP}"},
		{"absolute app, Host status", "GET https://{HP}/admin HTTP/1.1\nHost: {S}"},
		{"absolute app, Host status (issue 10)", "GET http://{HP}/dashboard HTTP/1.1\nHost: {S}"},
		{"absolute app without port, Host status", "GET https://{H}/internal HTTP/1.1\nHost: {S}"},
		{"absolute upper scheme, Host status", "GET HTTPS://{HP}/admin HTTP/1.1\nHost: {S}"},
		{"absolute status, Host app", "GET https://{S}/admin HTTP/1.1\nHost: {HP}"},
		{"absolute status with dots, Host app", "GET https://{S}/public/../admin HTTP/1.1\nHost: {HP}"},
		{"absolute with userinfo", "GET https://{S}@{HP}/admin HTTP/1.1\nHost: {S}"},
		{"absolute, query only", "GET https://{HP}?x=/admin HTTP/1.1\nHost: {S}"},
		{"network-path target", "GET //{S}/admin HTTP/1.1"},
	} {
		b.add(c.name, c.head)
	}
}

// forwardedProbes are the forwarded and rewrite headers a client sends:
// gatehouse must judge what the proxy routed, and the app must not be
// steered by them either.
func forwardedProbes(b *probes) {
	for _, h := range []string{
		"X-Forwarded-Host: {S}", "X-Forwarded-Uri: /public", "X-Original-URL: /public",
		"X-Original-URL: https://{S}/public", "X-Rewrite-URL: /public", "X-Original-URI: /public",
		"X-Forwarded-Prefix: /public", "Forwarded: host={S};proto=http", "X-Forwarded-Proto: http",
		"X-Forwarded-Port: 80", "X-Forwarded-Method: OPTIONS", "X-Forwarded-Path: /public",
		"X-Envoy-Original-Path: /public", "X-Forwarded-For: 10.9.8.7", "X-Real-IP: 10.9.8.7",
		"X-HTTP-Method-Override: OPTIONS",
	} {
		b.add("/admin with "+h, "GET /admin HTTP/1.1\n"+h)
	}
	for _, h := range []string{"X-Original-URL: /admin", "X-Rewrite-URL: /internal", "X-Forwarded-Uri: /admin",
		"X-Original-URI: /internal", "X-Envoy-Original-Path: /admin", "X-Original-URL: https://{HP}/admin"} {
		b.add("/public with "+h, "GET /public HTTP/1.1\n"+h)
	}
	// A prefix the app strips before routing: /public/admin served as /admin.
	for _, h := range []string{"X-Script-Name: /public", "X_Script_Name: /public", "SCRIPT_NAME: /public",
		"script_name: /public", "PATH_INFO: /admin", "X-Forwarded-Prefix: /public"} {
		b.add("/public/admin with "+h, "GET /public/admin HTTP/1.1\n"+h)
	}
}

// identityProbes are the identity headers in every spelling, on routes
// anyone (or alice) may reach.
func identityProbes(b *probes) {
	spellings := []string{
		"X-Auth-Request-User: mallory", "x-auth-request-user: mallory", "X-AUTH-REQUEST-USER: mallory",
		"X_Auth_Request_User: mallory", "X-Auth-Request_User: mallory", "X_Auth-Request-User: mallory",
		"X-Auth_Request-User: mallory", "X-Auth-Request-Email: mallory@allowed.test",
		"X_Auth_Request_Email: mallory@allowed.test", "x-auth-request_email: mallory@allowed.test",
		"X-Auth-Request-Groups: admins,mallory", "X-Auth-Request_Groups: admins,mallory", "X_AUTH_REQUEST_GROUPS: admins,mallory",
		"X-Auth-Request-Preferred-Username: mallory", "X-Auth-Request-Preferred_Username: mallory",
		"X_Auth_Request_Preferred_Username: mallory", "Remote-User: mallory", "Remote_User: mallory",
		"REMOTE_USER: mallory", "X-Remote-User: mallory", "X-Remote_User: mallory", "X_Remote_User: mallory",
		"X-Forwarded-User: mallory", "X_Forwarded_User: mallory", "X-Forwarded-Email: mallory@allowed.test",
		"X-Forwarded-Groups: admins,mallory", "X-Forwarded-Preferred-Username: mallory", "Remote-Email: mallory@allowed.test",
		"Remote-Groups: admins,mallory", "Remote-Name: mallory",
		"X-Auth-Request-Access-Token: stolen", "X_Auth_Request_Access_Token: stolen",
		"X-Auth-Request-Email:mallory@allowed.test", "X-Auth-Request-Email : mallory@allowed.test",
		"X-Auth-Request-Email\t: mallory@allowed.test",
	}
	for _, h := range spellings {
		b.add("/public with "+h, "GET /public HTTP/1.1\n"+h)
	}
	b.add("/public with obs-fold identity", "GET /public HTTP/1.1\nX-Note: a\n X-Auth-Request-Email: mallory@allowed.test")
	b.add("/public with identity twice", "GET /public HTTP/1.1\nX-Auth-Request-Email: mallory@allowed.test\nX-Auth-Request-Email: mallory2@allowed.test")
	b.add("/admin with every spelling", "GET /admin HTTP/1.1\n"+strings.Join(spellings[:30], "\n"))
	b.add("/dashboard with every spelling", "GET /dashboard HTTP/1.1\n"+strings.Join(spellings[:30], "\n"))
	b.add("/healthz with groups", "GET /healthz HTTP/1.1\nX-Auth-Request-Groups: admins,mallory\nX-Auth-Request-User: mallory")
}

// cookieProbes are the cookie arrangements: gatehouse's own must not reach
// the app in any of them.
func cookieProbes(b *probes) {
	for _, c := range []struct{ name, head string }{
		{"two Cookie headers", "GET /public HTTP/1.1\nCookie: app_pref=kept\nCookie: {C}"},
		{"session cookie last", "GET /public HTTP/1.1\nCookie: app_other=1; {C}"},
		{"forged login cookie", "GET /public HTTP/1.1\nCookie: {C}; {CN}_login=forged; {CN}_x=1"},
		{"cookie without spaces", "GET /dashboard HTTP/1.1\nCookie: app_pref=kept;{CN}=forged;{C}"},
		{"quoted cookie", "GET /public HTTP/1.1\nCookie: $Version=1; {CN}=\"forged\"; {C}"},
		{"cookie name with spaces", "GET /public HTTP/1.1\nCookie: {C}; {CN} =forged; {CN}_login =forged"},
		{"unprefixed name", "GET /public HTTP/1.1\nCookie: {C}; _gatehouse=other"},
		{"comma-separated cookies", "GET /public HTTP/1.1\nCookie: app_pref=kept, {C}"},
		{"comma-separated forged", "GET /public HTTP/1.1\nCookie: app_pref=kept, {CN}=forged, {CN}_login=forged"},
		{"lower-case cookie header", "GET /dashboard HTTP/1.1\ncookie: {C}"},
		{"7 KB of app cookies", "GET /public HTTP/1.1\nCookie: app_big=" + strings.Repeat("a", 7000) + "; {C}"},
	} {
		b.add(c.name, c.head)
	}
}

// clientProbes are the client addresses: /lan is open to 10.9.8.0/24 only,
// and every test client is on loopback.
func clientProbes(b *probes) {
	for _, h := range []string{"X-Forwarded-For: 10.9.8.7", "X-Forwarded-For: 10.9.8.7, 127.0.0.1",
		"X-Forwarded-For: 127.0.0.1, 10.9.8.7", "X-Real-IP: 10.9.8.7", "Forwarded: for=10.9.8.7",
		"True-Client-IP: 10.9.8.7", "X-Client-IP: 10.9.8.7", "CF-Connecting-IP: 10.9.8.7",
		"X_Forwarded_For: 10.9.8.7", "X-Forwarded-For: 10.9.8.7\nX-Forwarded-For: 10.9.8.8"} {
		b.add("/lan with "+h, "GET /lan HTTP/1.1\n"+h)
	}
	b.add("GET /lan", "GET /lan HTTP/1.1")
}

// upgradeProbes are the protocol upgrades: h2c "smuggling" turns an allowed
// request into a tunnel to the app; websocket is the one upgrade that must
// pass.
func upgradeProbes(b *probes) {
	for _, c := range []struct{ name, head string }{
		{"h2c upgrade on /public", "GET /public HTTP/1.1\nUpgrade: h2c\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\nConnection: Upgrade, HTTP2-Settings"},
		{"H2C upgrade, upper case", "GET /public HTTP/1.1\nUpgrade: H2C\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\nConnection: Upgrade, HTTP2-Settings"},
		{"h2c upgrade as alice's page", "GET /dashboard HTTP/1.1\nUpgrade: h2c\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\nConnection: Upgrade, HTTP2-Settings"},
		{"upgrade list", "GET /public HTTP/1.1\nUpgrade: websocket, h2c\nConnection: Upgrade"},
		{"two Upgrade lines, h2c first", "GET /public HTTP/1.1\nUpgrade: h2c\nUpgrade: websocket\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\nConnection: Upgrade, HTTP2-Settings"},
		{"two Upgrade lines, websocket first", "GET /public HTTP/1.1\nUpgrade: websocket\nUpgrade: h2c\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\nConnection: Upgrade, HTTP2-Settings"},
		{"websocket upgrade", "GET /public HTTP/1.1\nUpgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Version: 13\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="},
		{"Connection names gatehouse's identity headers", "GET /dashboard HTTP/1.1\nConnection: close, X-Auth-Request-Email, X-Auth-Request-Groups"},
		{"websocket upgrade naming an identity header", "GET /public HTTP/1.1\nUpgrade: websocket\nConnection: Upgrade, X-Auth-Request-Email\nSec-WebSocket-Version: 13\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="},
		{"hop-by-hop identity", "GET /public HTTP/1.1\nConnection: X-Auth-Request-User, X-Forwarded-For\nX-Auth-Request-User: mallory"},
	} {
		b.add(c.name, c.head)
	}
}

// framingProbes are the LF-only lines, and requests that would smuggle a
// second one past the check if the proxy and the app split the stream
// differently.
func framingProbes(b *probes) {
	b.raw(probe{name: "LF line endings", head: "GET /admin HTTP/1.1", lf: true})
	b.raw(probe{name: "CL.TE smuggle", head: "POST /public HTTP/1.1\nContent-Length: 44\nTransfer-Encoding: chunked",
		body: "0\r\n\r\nGET /admin HTTP/1.1\r\nX-Smuggled: 1\r\n\r\n"})
	b.raw(probe{name: "TE obfuscated", head: "POST /public HTTP/1.1\nTransfer-Encoding: xchunked\nContent-Length: 4",
		body: "0\r\n\r\nGET /internal HTTP/1.1\r\n\r\n"})
	b.raw(probe{name: "TE twice", head: "POST /public HTTP/1.1\nTransfer-Encoding: chunked\nTransfer-Encoding: identity",
		body: "0\r\n\r\nGET /internal HTTP/1.1\r\n\r\n"})
}

// variant is who sends the corpus: an anonymous client with a forged
// session cookie, or alice with her real one; both also send an app
// cookie that must reach the app.
type variant struct {
	name   string
	cookie string
}
