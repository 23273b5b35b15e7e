package authz

import "strings"

// SessionState says what the session lookup found for a request.
type SessionState int

const (
	// NoSession: the request carries no session cookie.
	NoSession SessionState = iota
	// InvalidSession: a cookie was sent but is tampered, expired or unknown.
	InvalidSession
	// ValidSession: the cookie names a live session; Identity is set.
	ValidSession
	// StoreFailed: the session store (or the token issuer's keys) could not
	// answer in time.
	StoreFailed
	// InvalidToken: the request carried a bearer token that failed
	// verification. It is answered with 401 and WWW-Authenticate, never a
	// redirect.
	InvalidToken
)

// Identity is who a valid session belongs to, as the provider asserted.
type Identity struct {
	Subject           string
	User              string // value of the configured username claim
	Email             string
	EmailVerified     bool
	PreferredUsername string
	Groups            []string
	// Provider is the ID of the configured provider that signed the user
	// in (or issued the bearer token); empty means Policy.DefaultProvider.
	Provider string
	// Claims are the provider's claims as lists of strings (a string claim
	// is a list of one), for rules that require claim values. May be nil
	// when no rule uses claims.
	Claims map[string][]string
	// Token is the access (or ID) token sent upstream when the policy's
	// HeaderNames.AccessToken or Authorization is set. Never logged.
	Token string
}

// validEmail reports whether e is a single-@ address with a non-empty local
// part and domain, the only form that may match an allow-list.
func validEmail(e string) (local, domain string, ok bool) {
	at := strings.IndexByte(e, '@')
	if at <= 0 || at == len(e)-1 || strings.IndexByte(e[at+1:], '@') >= 0 {
		return "", "", false
	}
	if strings.ContainsAny(e, " \t\r\n\x00") {
		return "", "", false
	}
	return e[:at], e[at+1:], true
}
