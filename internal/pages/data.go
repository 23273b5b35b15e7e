package pages

import (
	"net/http"
)

// SignInData is the sign-in page's data: one entry per provider, in order.
type SignInData struct {
	Providers []Provider
}

// Provider is one way to sign in.
type Provider struct {
	// Name is shown as "Continue with Name".
	Name string
	// URL starts the sign-in with this provider (/oauth2/start?rd=...).
	URL string
}

// SignedOutData is the signed-out page's data.
type SignedOutData struct {
	// SignInURL signs in again and returns to where the user was.
	SignInURL string
	// ProviderKeepsSession is true when the provider keeps its own session
	// that sign-out did not end (it has no end_session_endpoint, e.g.
	// Google): the next sign-in may not ask for a password.
	ProviderKeepsSession bool
	// ProviderName names the provider in that note.
	ProviderName string
}

// SignOutData is the sign-out confirmation page's data: a form that POSTs
// ReturnTo to Action.
type SignOutData struct {
	Action   string
	ReturnTo string
}

// ForbiddenData is the forbidden page's data.
type ForbiddenData struct {
	// Account names the signed-in account (email, else user name); empty
	// when unknown.
	Account string
	// ByRule is true when a deny rule refused the address for everyone:
	// then there is no account to switch.
	ByRule bool
	// SwitchURL signs out and then in again ("use another account").
	SwitchURL string
}

// UnavailableData is the service-unavailable page's data.
type UnavailableData struct {
	// What is not answering, in words ("the session store").
	What string
	// Reason is the stable reason code, shown small.
	Reason string
	// RetryURL is where "Try again" goes (the page the user asked for).
	RetryURL string
}

// ErrorData is the sign-in-failed page's data.
type ErrorData struct {
	// Message says what went wrong, in words.
	Message string
	// Reason is the stable reason code, shown small.
	Reason string
	// RestartURL starts over.
	RestartURL string
}

// UpstreamData is the upstream-unreachable page's data (a proxy that could
// not reach the application after gatehouse let the request in).
type UpstreamData struct {
	// App names the application; empty says "the application".
	App string
	// Reason is the stable reason code, shown small.
	Reason string
	// RetryURL is where "Try again" goes.
	RetryURL string
}

// SignIn renders the sign-in page (200).
func (p *Pages) SignIn(d SignInData) []byte { return p.render(SignIn, http.StatusOK, d) }

// SignedOut renders the signed-out page (200).
func (p *Pages) SignedOut(d SignedOutData) []byte { return p.render(SignedOut, http.StatusOK, d) }

// SignOut renders the sign-out confirmation page (200).
func (p *Pages) SignOut(d SignOutData) []byte { return p.render(SignOut, http.StatusOK, d) }

// Forbidden renders the forbidden page (403).
func (p *Pages) Forbidden(d ForbiddenData) []byte {
	return p.render(Forbidden, http.StatusForbidden, d)
}

// Unavailable renders the service-unavailable page (503).
func (p *Pages) Unavailable(d UnavailableData) []byte {
	return p.render(Unavailable, http.StatusServiceUnavailable, d)
}

// Error renders the sign-in-failed page for a reply of status.
func (p *Pages) Error(status int, d ErrorData) []byte { return p.render(Error, status, d) }

// Upstream renders the upstream-unreachable page for a reply of status
// (502 or 504).
func (p *Pages) Upstream(status int, d UpstreamData) []byte {
	return p.render(Upstream, status, d)
}

// sample is one variant of one page's data, executed by New.
type sample struct {
	name    Name
	variant string
	status  int
	data    any
}

// samples are the data every template must execute with: each page with
// every optional part present and absent.
func samples() []sample {
	return []sample{
		{SignIn, "one provider", 200, SignInData{Providers: []Provider{{Name: "Example ID", URL: "/oauth2/start?rd=%2F"}}}},
		{SignIn, "two providers", 200, SignInData{Providers: []Provider{{Name: "Example ID", URL: "/oauth2/start?rd=%2F"}, {Name: "Other ID", URL: "/oauth2/start?provider=other"}}}},
		{SignedOut, "provider keeps its session", 200, SignedOutData{SignInURL: "/oauth2/start?rd=%2F", ProviderKeepsSession: true, ProviderName: "accounts.example.com"}},
		{SignedOut, "provider session ended", 200, SignedOutData{SignInURL: "/oauth2/start?rd=%2F"}},
		{SignOut, "confirmation", 200, SignOutData{Action: "/oauth2/sign_out", ReturnTo: "https://app.example.com/"}},
		{Forbidden, "account named", 403, ForbiddenData{Account: "alice@example.com", SwitchURL: "/oauth2/sign_out?rd=%2F"}},
		{Forbidden, "account unknown", 403, ForbiddenData{SwitchURL: "/oauth2/sign_out?rd=%2F"}},
		{Forbidden, "deny rule", 403, ForbiddenData{ByRule: true}},
		{Unavailable, "store", 503, UnavailableData{What: "the session store", Reason: "store_unavailable", RetryURL: "https://app.example.com/"}},
		{Error, "state mismatch", 400, ErrorData{Message: "This sign-in was not started in this browser.", Reason: "state_mismatch", RestartURL: "/"}},
		{Upstream, "named app", 502, UpstreamData{App: "ClearML", Reason: "upstream_unreachable", RetryURL: "https://app.example.com/"}},
		{Upstream, "unnamed app", 504, UpstreamData{Reason: "upstream_timeout", RetryURL: "/"}},
	}
}
