// Package render turns a decision of the core (internal/authz) into the
// reply the client is sent: status, headers and body. The core decides;
// render says it, the same way for every adapter, which then only puts the
// reply in its proxy's terms. Nothing here decides who may pass.
package render

import (
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/internal/authz"
)

// Reply is what the client is sent for a decision.
type Reply struct {
	// Status is the HTTP status: 200 on allow.
	Status int
	// Headers go to the client with a denial: Location, WWW-Authenticate,
	// Content-Type, Cache-Control, Retry-After, Set-Cookie.
	Headers []authz.Header
	// Body is sent to the client with a denial.
	Body string
	// LoginURL is the sign-in URL of an Unauthenticated reply, for
	// adapters (nginx) that must redirect by themselves.
	LoginURL string
}

// For renders d, the decision for r under the policy p. r and p may be
// nil for a decision made before a request could be read (Reject), which
// is then rendered as JSON. The mapping, in the order Decide decides:
//
//  1. Allow                              → 200;
//  2. Unavailable: store or issuer down  → 503 with Retry-After; else 500;
//  3. Forbidden: a malformed request     → 400; an untrusted peer → 403;
//     otherwise 403 (an HTML page for browsers, JSON for others);
//  4. Unauthenticated: a bad bearer token → 401 invalid_token, never a
//     redirect; a browser → 302 to the login URL; others → 401 with the
//     login URL in LoginHeader.
//
// A browser is a user navigating, as IsBrowser (negotiate.go) tells it
// from Accept, Sec-Fetch-Mode and X-Requested-With; API clients and
// scripts get JSON.
func For(p *authz.Policy, r *authz.Request, d *authz.Decision) Reply {
	switch d.Outcome {
	case authz.Allow:
		return Reply{Status: 200}
	case authz.Unavailable:
		return unavailable(d.Reason)
	case authz.Unauthenticated:
		return unauthenticated(p, r, d.Reason)
	}
	return forbidden(r, d.Reason)
}

// LoginHeader carries the login URL on a 401 for a client that is not
// redirected (an API client, a script): it can send its user there. nginx's
// auth_request replies carry it too (internal/forwardauth).
const LoginHeader = "X-Auth-Request-Redirect"

var jsonType = authz.Header{Name: "Content-Type", Value: "application/json"}

func unavailable(reason authz.Reason) Reply {
	switch reason {
	case authz.ReasonStoreUnavailable:
		return Reply{Status: 503, Headers: []authz.Header{jsonType, {Name: "Retry-After", Value: "1"}},
			Body: `{"error":"session store unavailable"}`}
	case authz.ReasonIssuerUnavailable:
		return Reply{Status: 503, Headers: []authz.Header{jsonType, {Name: "Retry-After", Value: "1"}},
			Body: `{"error":"token issuer unavailable"}`}
	}
	return Reply{Status: 500, Headers: []authz.Header{jsonType}, Body: errorBody(reason)}
}

func forbidden(r *authz.Request, reason authz.Reason) Reply {
	switch reason {
	case authz.ReasonBadRequest, authz.ReasonSpoofedHeader:
		return Reply{Status: 400, Headers: []authz.Header{jsonType}, Body: errorBody(reason)}
	case authz.ReasonUntrustedSource:
		return Reply{Status: 403, Headers: []authz.Header{jsonType}, Body: errorBody(reason)}
	}
	if !IsBrowser(r) {
		return Reply{Status: 403, Headers: []authz.Header{jsonType}, Body: `{"error":"forbidden"}`}
	}
	body := forbiddenPage
	if reason == authz.ReasonDeniedByRule {
		body = deniedPage
	}
	return Reply{Status: 403, Headers: []authz.Header{{Name: "Content-Type", Value: "text/html; charset=utf-8"}}, Body: body}
}

func unauthenticated(p *authz.Policy, r *authz.Request, reason authz.Reason) Reply {
	if reason == authz.ReasonInvalidToken {
		return Reply{
			Status: 401,
			Headers: []authz.Header{
				{Name: "WWW-Authenticate", Value: `Bearer realm="gatehouse", error="invalid_token"`},
				jsonType,
			},
			Body:     `{"error":"invalid_token"}`,
			LoginURL: p.LoginURL + "?rd=" + url.QueryEscape(r.URL()),
		}
	}
	login := LoginURL(p, r)
	if IsBrowser(r) {
		return Reply{Status: 302, Headers: []authz.Header{{Name: "Location", Value: login}, {Name: "Cache-Control", Value: "no-store"}}, LoginURL: login}
	}
	return Reply{
		Status:   401,
		Headers:  []authz.Header{{Name: "WWW-Authenticate", Value: `Bearer realm="gatehouse"`}, jsonType, {Name: LoginHeader, Value: login}},
		Body:     `{"error":"unauthenticated"}`,
		LoginURL: login,
	}
}

// LoginURL is where a client that must sign in for r is sent: the
// policy's login URL with the request's URL as the return address. A
// host-relative login URL is made absolute on the request's own origin: a
// proxy that resolves a relative Location against the auth service's
// address (Traefik's default) would otherwise send the browser to
// gatehouse's internal address.
func LoginURL(p *authz.Policy, r *authz.Request) string {
	login := p.LoginURL
	if strings.HasPrefix(login, "/") {
		login = r.Scheme + "://" + r.Host + login
	}
	return login + "?rd=" + url.QueryEscape(r.URL())
}

// errorBody is the JSON body naming a stable reason code.
func errorBody(reason authz.Reason) string { return `{"error":"` + string(reason) + `"}` }

const forbiddenPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>403 Forbidden</title></head>
<body><h1>403 Forbidden</h1><p>You are signed in, but your account may not use this application.
Ask its owner for access, or <a href="/oauth2/sign_out">sign out</a> and use another account.</p></body></html>
`

const deniedPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>403 Forbidden</title></head>
<body><h1>403 Forbidden</h1><p>This address may not be reached through the gateway.</p></body></html>
`
