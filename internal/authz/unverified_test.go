package authz

import "testing"

// TestAllowUnverifiedEmail: with Policy.AllowUnverifiedEmail an email the
// provider does not vouch for matches emails and email_domains, both the
// default allow-lists and a require rule's; without it, it never does. The
// address must still be a well-formed single-@ email.
func TestAllowUnverifiedEmail(t *testing.T) {
	unverified := &Identity{User: "u", Email: "Alice@Example.com"}
	guest := &Identity{User: "g", Email: "guest@partner.org"}
	outsider := &Identity{User: "e", Email: "eve@evil.com"}
	twoAt := &Identity{User: "e", Email: "eve@evil.com@example.com"}
	cases := map[string]struct {
		r     *Request
		id    *Identity
		allow bool
		want  Outcome
	}{
		"default domain, not allowed":           {browserReq("/"), unverified, false, Forbidden},
		"default domain, allowed":               {browserReq("/"), unverified, true, Allow},
		"default email, not allowed":            {browserReq("/"), guest, false, Forbidden},
		"default email, allowed":                {browserReq("/"), guest, true, Allow},
		"other domain stays forbidden":          {browserReq("/"), outsider, true, Forbidden},
		"two @ stay forbidden":                  {browserReq("/"), twoAt, true, Forbidden},
		"require rule domain, not allowed":      {req("GET", "partners.example.org", "/", "1.2.3.4"), &Identity{User: "p", Email: "p@partner.org"}, false, Forbidden},
		"require rule domain, allowed":          {req("GET", "partners.example.org", "/", "1.2.3.4"), &Identity{User: "p", Email: "p@partner.org"}, true, Allow},
		"require rule email, allowed":           {req("POST", "api.example.com", "/", "1.2.3.4"), &Identity{User: "b", Email: "boss@example.com"}, true, Allow},
		"require rule email, not allowed":       {req("POST", "api.example.com", "/", "1.2.3.4"), &Identity{User: "b", Email: "boss@example.com"}, false, Forbidden},
		"require rule other domain, allowed on": {req("GET", "partners.example.org", "/", "1.2.3.4"), outsider, true, Forbidden},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := rulesPolicy()
			p.AllowUnverifiedEmail = tc.allow
			d := Decide(p, tc.r, ValidSession, tc.id)
			if d.Outcome != tc.want {
				t.Fatalf("outcome %v (%s, rule %s), want %v", d.Outcome, d.Reason, d.Rule, tc.want)
			}
		})
	}
}
