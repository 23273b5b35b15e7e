package authz

import (
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
	// ReasonAllowRule: an allow rule let the request pass without login.
	ReasonAllowRule Reason = "allow_rule"
	// ReasonDeniedByRule: a deny rule refused the request.
	ReasonDeniedByRule Reason = "denied_by_rule"
	// ReasonInvalidToken: a bearer token failed verification.
	ReasonInvalidToken Reason = "invalid_token"
	// ReasonAssertionFailed: the identity assertion could not be signed.
	ReasonAssertionFailed Reason = "assertion_failed"
	// ReasonIssuerUnavailable: a bearer token's issuer keys could not be
	// fetched; the request fails closed with 503.
	ReasonIssuerUnavailable Reason = "issuer_unavailable"
	// ReasonSpoofedHeader: the request carries a look-alike spelling of an
	// identity header (Policy.SpoofedHeader); it is refused with 400.
	ReasonSpoofedHeader Reason = "spoofed_header"
	// ReasonProviderNotAccepted: the matching rule names the providers it
	// accepts, and the user signed in through another.
	ReasonProviderNotAccepted Reason = "provider_not_accepted"
	// ReasonInvalidIdentity: the identity to send upstream (user, email,
	// preferred username, a group) holds a control character, which every
	// proxy would spell differently in a header (a space, "%0D%0A"); the
	// request is refused with 403 rather than sent one way or another.
	ReasonInvalidIdentity Reason = "invalid_identity"
)

// Header is one HTTP header name and value.
type Header struct {
	Name  string
	Value string
}

// Decision is the core's answer to one Request: what happens and why.
// What the client is told (status, headers, body) is internal/render's
// business, not the core's.
type Decision struct {
	Outcome Outcome
	Reason  Reason
	// UpstreamHeaders go to the upstream on Allow. Every configured identity
	// header is present, with an empty value when unknown (meaning: remove
	// it), so a value the client sent can never survive. Callers must not
	// modify the slice in place except through SetUpstream.
	UpstreamHeaders []Header
	// User names the signed-in user, for logs; empty when unknown.
	User string
	// Email is the signed-in user's email on a Forbidden decision, for
	// the page that names the account (internal/render); empty otherwise.
	Email string
	// Rule names what decided: a rule's Name, "skip" for a skip route, or
	// RuleDefault for the default allow-lists; empty when the request was
	// decided before any rule was looked at (a store failure).
	Rule string
	// RuleIndex is the index of the deciding rule in Policy.Rules (or of
	// the skip route in Policy.Skip); -1 for the default allow-lists.
	RuleIndex int
	// View is the reading of the request that decided: the one that
	// restricts most (see Decide). Zero for refusals before any rule.
	View View
}

// RuleDefault is Decision.Rule when no rule matched and the default
// allow-lists decided.
const RuleDefault = "default"

// RuleSkip is Decision.Rule when a skip route decided.
const RuleSkip = "skip"

// SetUpstream sets the value of the upstream header named name (compared
// case-insensitively), which must be one Decide listed. It reports whether
// the header was found.
func (d *Decision) SetUpstream(name, value string) bool {
	for i := range d.UpstreamHeaders {
		if strings.EqualFold(d.UpstreamHeaders[i].Name, name) {
			d.UpstreamHeaders[i].Value = value
			return true
		}
	}
	return false
}

// Decide is the decision core. The order of the checks below is fixed and
// is the contract every adapter relies on:
//
//  0. a look-alike of an identity header → refused, whoever asks;
//  1. the session store failed        → unavailable: never allow, never a login;
//  2. the request matches a skip route → allow, without identity;
//  3. the first matching rule decides:
//     allow → allow without identity; deny → 403 for everyone;
//     authenticate / require → as 4–6 with the rule's allow-list;
//     no rule matches → as 4–6 with the default allow-lists;
//  4. no or invalid session / token   → unauthenticated (a login);
//  5. signed in but not admitted      → forbidden;
//  6. otherwise                       → allow, with identity headers.
//
// Steps 2–6 run for every View of the request (its method and a method
// override's, its path forms, with and without letter case), and the
// verdict that restricts most decides (forbidden, then login, then allow
// with identity, then allow without): so neither an encoding, ";params",
// letter case nor a method override can take a request out of a rule
// that protects it, or into one that opens it.
//
// Decide performs no I/O, and matching the rules allocates nothing.
func Decide(p *Policy, r *Request, state SessionState, id *Identity) Decision {
	// 0. A header the upstream may read as identity, which no proxy
	// replaces, must never reach it.
	if _, spoofed := p.SpoofedHeader(r); spoofed {
		return Reject(ReasonSpoofedHeader)
	}
	// 1. Fail closed when we could not learn who the client is.
	if state == StoreFailed {
		return Decision{Outcome: Unavailable, Reason: ReasonStoreUnavailable, RuleIndex: -1}
	}
	// 2–6 for every reading an upstream may act on (View); the one that
	// restricts most decides.
	vd := p.strictest(r, CanonicalHost(r.Host), state, id)
	d := p.decision(vd, state, id)
	d.View = vd.view
	return d
}

// decision turns the deciding view's verdict into the Decision.
func (p *Policy) decision(vd viewVerdict, state SessionState, id *Identity) Decision {
	if vd.skip {
		return named(allow(p, ReasonSkipRoute, nil), RuleSkip, vd.idx)
	}
	name := RuleDefault
	if vd.idx >= 0 {
		name = p.Rules[vd.idx].Name
	}
	switch {
	case vd.class == classOpen:
		return named(allow(p, ReasonAllowRule, nil), name, vd.idx)
	case vd.action == ActionDeny:
		return named(forbidden(id, ReasonDeniedByRule), name, vd.idx)
	case vd.class == classUnauthenticated:
		reason := ReasonNoSession
		switch state {
		case InvalidToken:
			reason = ReasonInvalidToken
		case InvalidSession:
			reason = ReasonInvalidSession
		}
		return named(Decision{Outcome: Unauthenticated, Reason: reason}, name, vd.idx)
	case vd.class == classForbidden && vd.wrongProvider:
		return named(forbidden(id, ReasonProviderNotAccepted), name, vd.idx)
	case vd.class == classForbidden:
		return named(forbidden(id, ReasonNotAllowed), name, vd.idx)
	}
	return named(allow(p, ReasonAllowed, id), name, vd.idx)
}

func named(d Decision, rule string, idx int) Decision {
	d.Rule, d.RuleIndex = rule, idx
	return d
}

// allow builds an allow decision. Its header slice is the one allocation
// of an allowed request.
func allow(p *Policy, reason Reason, id *Identity) Decision {
	h := p.Headers
	d := Decision{Outcome: Allow, Reason: reason}
	hs := make([]Header, 4, h.count()+1) // +1: the caller may add the Cookie header
	hs[0].Name, hs[1].Name, hs[2].Name, hs[3].Name = h.User, h.Email, h.Groups, h.PreferredUsername
	var token string
	if id != nil {
		if !id.headerSafe() {
			return forbidden(id, ReasonInvalidIdentity)
		}
		d.User = id.User
		hs[0].Value, hs[1].Value, hs[3].Value = id.User, id.Email, id.PreferredUsername
		hs[2].Value = joinGroups(id.Groups)
		token = id.Token
	}
	if h.AccessToken != "" {
		hs = append(hs, Header{h.AccessToken, token})
	} else {
		hs = append(hs, Header{DefaultAccessTokenHeader, ""})
	}
	if h.Authorization != "" {
		v := ""
		if token != "" {
			v = "Bearer " + token
		}
		hs = append(hs, Header{h.Authorization, v})
	}
	if h.Assertion != "" {
		hs = append(hs, Header{h.Assertion, ""})
	}
	d.UpstreamHeaders = hs
	return d
}

// headerSafe reports whether every identity value can be sent as a header
// value the same way by every proxy: no control character (C0 or DEL).
func (id *Identity) headerSafe() bool {
	if hasControl(id.User) || hasControl(id.Email) || hasControl(id.PreferredUsername) {
		return false
	}
	for _, g := range id.Groups {
		if hasControl(g) {
			return false
		}
	}
	return true
}

// hasControl reports whether s holds a C0 control character or DEL.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return true
		}
	}
	return false
}

// joinGroups is strings.Join(groups, ","), without allocating for zero or
// one group.
func joinGroups(groups []string) string {
	switch len(groups) {
	case 0:
		return ""
	case 1:
		return groups[0]
	}
	return strings.Join(groups, ",")
}

func forbidden(id *Identity, reason Reason) Decision {
	d := Decision{Outcome: Forbidden, Reason: reason}
	if id != nil {
		d.User, d.Email = id.User, id.Email
	}
	return d
}

// Reject is the decision for a request refused before the core can judge
// it (an untrusted source, a malformed request, a look-alike header). It
// never allows.
func Reject(reason Reason) Decision {
	return Decision{Outcome: Forbidden, Reason: reason, RuleIndex: -1}
}
