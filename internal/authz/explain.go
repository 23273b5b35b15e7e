package authz

import (
	"fmt"
	"strings"
)

// Step is one entry of an explanation: a skip route, a rule or the default
// allow-lists, and what it made of the request.
type Step struct {
	// Kind is "skip", "rule" or "default".
	Kind string
	// Index is the position in Policy.Skip or Policy.Rules; -1 for default.
	Index int
	// Name is the rule's name; empty for skip routes and the default.
	Name string
	// Failed is the first condition the request did not meet, or
	// CondMatched when the step matched.
	Failed Condition
	// Detail says in words why the step matched or not, and what it did.
	Detail string
}

// Explain decides r exactly as Decide does and also returns the steps that
// led there: every skip route and rule up to and including the one that
// decided. It is for operators (gatehouse policy explain), not the request
// path: it allocates freely.
func Explain(p *Policy, r *Request, state SessionState, id *Identity) (Decision, []Step) {
	d := Decide(p, r, state, id)
	if name, spoofed := p.SpoofedHeader(r); spoofed {
		return d, []Step{{Kind: "request", Index: -1, Detail: fmt.Sprintf("header %q looks like a header gatehouse owns or reads: refused", name)}}
	}
	if state == StoreFailed {
		return d, []Step{{Kind: "store", Index: -1, Detail: "the session store failed: nothing is allowed"}}
	}
	host := CanonicalHost(r.Host)
	v := d.View
	var steps []Step
	if form := r.pathForm(v); form != "" {
		steps = append(steps, Step{Kind: "view", Index: -1, Detail: "judged as " + v.Method + " " + v.Path + " (" + form +
			"): of the readings an upstream may act on, it restricts most"})
	}
	for i := range p.Skip {
		rt := &p.Skip[i]
		c := rt.Check(v, host)
		if c == CondMatched {
			return d, append(steps, Step{Kind: "skip", Index: i, Detail: "skip route matches: allowed without login"})
		}
		steps = append(steps, Step{Kind: "skip", Index: i, Failed: c, Detail: "skip route does not match " + describeRoute(rt) + ": " + c.String() + " differ"})
	}
	for i := range p.Rules {
		rl := &p.Rules[i]
		c := rl.Match(v, host, r.ClientIP)
		if c != CondMatched {
			steps = append(steps, Step{Kind: "rule", Index: i, Name: rl.Name, Failed: c, Detail: mismatch(rl, c, r, v, host)})
			continue
		}
		return d, append(steps, Step{Kind: "rule", Index: i, Name: rl.Name, Detail: "matches; action " + rl.Action.String() + ": " + verdict(p, rl, d, id)})
	}
	return d, append(steps, Step{Kind: "default", Index: -1, Detail: "no rule matched; the default allow-lists decide: " + verdict(p, nil, d, id)})
}

func describeRoute(rt *Route) string {
	var parts []string
	if len(rt.Methods) > 0 {
		parts = append(parts, "methods "+strings.Join(rt.Methods, ","))
	}
	if rt.Host != "" {
		parts = append(parts, "host "+rt.Host)
	}
	if rt.PathPrefix != "" {
		parts = append(parts, "path "+rt.PathPrefix)
	}
	if rt.PathRegexp != nil {
		parts = append(parts, "path_regex "+rt.PathRegexp.String())
	}
	return "(" + strings.Join(parts, "; ") + ")"
}

func mismatch(rl *Rule, c Condition, r *Request, v View, host string) string {
	switch c {
	case CondMethod:
		return fmt.Sprintf("method %s is not one of %s", v.Method, strings.Join(rl.Methods, ", "))
	case CondHost:
		return fmt.Sprintf("host %q is not one of %s", host, strings.Join(rl.Hosts, ", "))
	case CondPath:
		return fmt.Sprintf("path %q has none of the prefixes %s", v.Path, strings.Join(rl.Paths, ", "))
	case CondPathRegexp:
		return fmt.Sprintf("path %q does not match %s", v.Path, rl.PathRegexp)
	case CondSource:
		return fmt.Sprintf("client address %v is not in %v", r.ClientIP, rl.Sources)
	}
	return "does not match"
}

func verdict(p *Policy, rl *Rule, d Decision, id *Identity) string {
	switch d.Outcome {
	case Allow:
		if id == nil || d.Reason == ReasonAllowRule || d.Reason == ReasonSkipRoute {
			return "allowed without login"
		}
		return "allowed: " + admittedBy(p, rl, id)
	case Unauthenticated:
		return "a signed-in user is required (" + string(d.Reason) + ")"
	case Forbidden:
		if d.Reason == ReasonDeniedByRule {
			return "denied for everyone"
		}
		if d.Reason == ReasonProviderNotAccepted && id != nil {
			if !p.knownProvider(id.Provider) || rl == nil || len(rl.Providers) == 0 {
				return fmt.Sprintf("signed in through provider %q, which is not configured", providerOf(p, id))
			}
			return fmt.Sprintf("signed in through provider %q, but the rule accepts only %s", providerOf(p, id), strings.Join(rl.Providers, ", "))
		}
		return "signed in, but not on the allow-list"
	}
	return d.Outcome.String() + " (" + string(d.Reason) + ")"
}

// admittedBy names the allow-list entry that admitted id, by the very
// check Decide made (Requirement.admittedBy).
func admittedBy(p *Policy, rl *Rule, id *Identity) string {
	q := Requirement{Emails: p.Emails, EmailDomains: p.EmailDomains, Groups: p.Groups}
	if rl != nil && rl.Action == ActionRequire {
		q = rl.Require
	} else if p.AllowAnyAuthenticated {
		return "allow_any_authenticated"
	}
	a := q.admittedBy(id, p.AllowUnverifiedEmail)
	switch {
	case !a.ok:
		return "not admitted"
	case a.kind == "claim":
		return fmt.Sprintf("claim %s=%s", a.claim, a.value)
	}
	return a.kind + " " + a.value
}

// providerOf is the ID of the provider id signed in through.
func providerOf(p *Policy, id *Identity) string {
	if id.Provider == "" {
		return p.DefaultProvider
	}
	return id.Provider
}
