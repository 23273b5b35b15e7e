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
//
// For uses the built-in pages (pages.Builtin); Renderer.For those it was
// given.
func For(p *authz.Policy, r *authz.Request, d *authz.Decision) Reply {
	return (*Renderer)(nil).For(p, r, d)
}

// For renders d, the decision for r under p, as the package-level For
// does, with rr's pages.
func (rr *Renderer) For(p *authz.Policy, r *authz.Request, d *authz.Decision) Reply {
	switch d.Outcome {
	case authz.Allow:
		return Reply{Status: 200}
	case authz.Unavailable:
		return rr.unavailable(r, d.Reason)
	case authz.Unauthenticated:
		return unauthenticated(p, r, d.Reason)
	}
	account := d.Email
	if account == "" {
		account = d.User
	}
	return rr.forbidden(p, r, d.Reason, account)
}

// LoginHeader carries the login URL on a 401 for a client that is not
// redirected (an API client, a script): it can send its user there. nginx's
// auth_request replies carry it too (internal/forwardauth).
const LoginHeader = "X-Auth-Request-Redirect"

var jsonType = authz.Header{Name: "Content-Type", Value: "application/json"}

func (rr *Renderer) unavailable(r *authz.Request, reason authz.Reason) Reply {
	switch reason {
	case authz.ReasonStoreUnavailable, authz.ReasonIssuerUnavailable:
		retry := authz.Header{Name: "Retry-After", Value: "1"}
		if IsBrowser(r) {
			return Reply{Status: 503, Headers: append(pageHeaders(), retry), Body: rr.unavailableHTML(r, reason)}
		}
		body := `{"error":"session store unavailable"}`
		if reason == authz.ReasonIssuerUnavailable {
			body = `{"error":"token issuer unavailable"}`
		}
		return Reply{Status: 503, Headers: []authz.Header{jsonType, retry}, Body: body}
	}
	return Reply{Status: 500, Headers: []authz.Header{jsonType}, Body: errorBody(reason)}
}

func (rr *Renderer) forbidden(p *authz.Policy, r *authz.Request, reason authz.Reason, user string) Reply {
	switch reason {
	case authz.ReasonBadRequest, authz.ReasonSpoofedHeader:
		return Reply{Status: 400, Headers: []authz.Header{jsonType}, Body: errorBody(reason)}
	case authz.ReasonUntrustedSource:
		return Reply{Status: 403, Headers: []authz.Header{jsonType}, Body: errorBody(reason)}
	}
	if !IsBrowser(r) {
		return Reply{Status: 403, Headers: []authz.Header{jsonType}, Body: `{"error":"forbidden"}`}
	}
	return Reply{Status: 403, Headers: pageHeaders(), Body: rr.forbiddenHTML(p, r, reason, user)}
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
