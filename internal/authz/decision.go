package authz

import (
	"net/url"
	"strings"
)

// Outcome is the kind of answer a Decision gives.
type Outcome int

const (
	// Allow: the request may pass to the upstream.
	Allow Outcome = iota
	// Unauthenticated: the client must sign in first.
	Unauthenticated
	// Forbidden: the client is signed in but not admitted.
	Forbidden
	// Unavailable: a dependency failed; gatehouse fails closed.
	Unavailable
)

// String returns the outcome's stable name, used in logs and metrics.
func (o Outcome) String() string {
	switch o {
	case Allow:
		return "allow"
	case Unauthenticated:
		return "unauthenticated"
	case Forbidden:
		return "forbidden"
	case Unavailable:
		return "unavailable"
	}
	return "unknown"
}

// Reason is a stable code that says why a decision was made. Reasons are
// logged and used as metric labels; never rename one.
type Reason string

// The reasons Decide and the adapters give.
const (
	ReasonAllowed          Reason = "allowed"
	ReasonSkipRoute        Reason = "skip_route"
	ReasonNoSession        Reason = "no_session"
	ReasonInvalidSession   Reason = "invalid_session"
	ReasonNotAllowed       Reason = "not_allowed"
	ReasonStoreUnavailable Reason = "store_unavailable"
	ReasonUntrustedSource  Reason = "untrusted_source"
	ReasonBadRequest       Reason = "bad_request"
)

// Header is one HTTP header name and value.
type Header struct {
	Name  string
	Value string
}

// Decision is the core's answer to one Request.
type Decision struct {
	Outcome Outcome
	Reason  Reason
	// Status is the HTTP status for the client: 200 on Allow.
	Status int
	// UpstreamHeaders go to the upstream on Allow. Every configured identity
	// header is present, with an empty value when unknown, so a value the
	// client sent can never survive.
	UpstreamHeaders []Header
	// ResponseHeaders go to the client on a denial: Location,
	// WWW-Authenticate, Content-Type, Set-Cookie.
	ResponseHeaders []Header
	// Body is sent to the client on a denial.
	Body string
	// LoginURL is the sign-in URL for this request, set on Unauthenticated,
	// for adapters (nginx) that must redirect by themselves.
	LoginURL string
	// User names the signed-in user, for logs; empty when unknown.
	User string
}

// Decide is the decision core. The order of the checks below is fixed and
// is the contract every adapter relies on:
//
//  1. the session store failed      → 503, never allow, never redirect;
//  2. the request matches a skip route → allow, without identity;
//  3. no or invalid session         → browsers 302 to login, others 401;
//  4. signed in but not admitted    → 403;
//  5. otherwise                     → allow, with identity headers.
//
// Decide performs no I/O.
func Decide(p *Policy, r *Request, state SessionState, id *Identity) Decision {
	// 1. Fail closed when we could not learn who the client is.
	if state == StoreFailed {
		return Decision{
			Outcome:         Unavailable,
			Reason:          ReasonStoreUnavailable,
			Status:          503,
			ResponseHeaders: []Header{{"Content-Type", "application/json"}, {"Retry-After", "1"}},
			Body:            `{"error":"session store unavailable"}`,
		}
	}

	// 2. Routes that need no login.
	if len(p.Skip) > 0 {
		host := CanonicalHost(r.Host)
		for i := range p.Skip {
			if p.Skip[i].Matches(r.Method, host, r.Path) {
				return allow(p, ReasonSkipRoute, nil)
			}
		}
	}

	// 3. Who is this?
	if state != ValidSession || id == nil {
		reason := ReasonNoSession
		if state == InvalidSession {
			reason = ReasonInvalidSession
		}
		return unauthenticated(p, r, reason)
	}

	// 4. Signed in, but admitted?
	if !p.admits(id) {
		return forbidden(r, id)
	}

	// 5. Allowed.
	return allow(p, ReasonAllowed, id)
}

func allow(p *Policy, reason Reason, id *Identity) Decision {
	h := p.Headers
	d := Decision{Outcome: Allow, Reason: reason, Status: 200}
	if id == nil {
		d.UpstreamHeaders = []Header{{h.User, ""}, {h.Email, ""}, {h.Groups, ""}, {h.PreferredUsername, ""}}
		return d
	}
	d.User = id.User
	d.UpstreamHeaders = []Header{
		{h.User, id.User},
		{h.Email, id.Email},
		{h.Groups, strings.Join(id.Groups, ",")},
		{h.PreferredUsername, id.PreferredUsername},
	}
	return d
}

func unauthenticated(p *Policy, r *Request, reason Reason) Decision {
	login := p.LoginURL + "?rd=" + url.QueryEscape(r.URL())
	if r.IsBrowser() {
		return Decision{
			Outcome:         Unauthenticated,
			Reason:          reason,
			Status:          302,
			ResponseHeaders: []Header{{"Location", login}, {"Cache-Control", "no-store"}},
			LoginURL:        login,
		}
	}
	return Decision{
		Outcome: Unauthenticated,
		Reason:  reason,
		Status:  401,
		ResponseHeaders: []Header{
			{"WWW-Authenticate", `Bearer realm="gatehouse"`},
			{"Content-Type", "application/json"},
		},
		Body:     `{"error":"unauthenticated"}`,
		LoginURL: login,
	}
}

func forbidden(r *Request, id *Identity) Decision {
	d := Decision{Outcome: Forbidden, Reason: ReasonNotAllowed, Status: 403, User: id.User}
	if r.IsBrowser() {
		d.ResponseHeaders = []Header{{"Content-Type", "text/html; charset=utf-8"}}
		d.Body = forbiddenPage
	} else {
		d.ResponseHeaders = []Header{{"Content-Type", "application/json"}}
		d.Body = `{"error":"forbidden"}`
	}
	return d
}

const forbiddenPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>403 Forbidden</title></head>
<body><h1>403 Forbidden</h1><p>You are signed in, but your account may not use this application.
Ask its owner for access, or <a href="/oauth2/sign_out">sign out</a> and use another account.</p></body></html>
`

// Reject is the decision for a request an adapter refuses before the core
// can judge it (an untrusted source, a malformed request). It never allows.
func Reject(status int, reason Reason) Decision {
	return Decision{
		Outcome:         Forbidden,
		Reason:          reason,
		Status:          status,
		ResponseHeaders: []Header{{"Content-Type", "application/json"}},
		Body:            `{"error":"` + string(reason) + `"}`,
	}
}
