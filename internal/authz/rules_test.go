package authz

import (
	"fmt"
	"net/netip"
	"testing"
)

func rulesPolicy() *Policy {
	p := testPolicy()
	p.Skip = []Route{{PathPrefix: "/healthz"}}
	p.Rules = []Rule{
		{Name: "public", Hosts: []string{"app.example.com"}, Paths: []string{"/public"}, Action: ActionAllow},
		{Name: "admin", Hosts: []string{"app.example.com"}, PathRegexp: mustPattern(`^/admin(/|$)`), Action: ActionRequire,
			Require: Requirement{Groups: map[string]struct{}{"admins": {}}}},
		{Name: "writes", Hosts: []string{"*.example.com"}, Methods: []string{"POST", "DELETE"}, Action: ActionRequire,
			Require: Requirement{Emails: map[string]struct{}{"boss@example.com": {}}, Claims: map[string][]string{"role": {"writer"}}}},
		{Name: "internal", Hosts: []string{"internal.example.com"}, Sources: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, Action: ActionAuthenticate},
		{Name: "internal-others", Hosts: []string{"internal.example.com"}, Action: ActionDeny},
		{Name: "partners", Hosts: []string{"partners.example.org"}, Action: ActionRequire,
			Require: Requirement{EmailDomains: []string{"partner.org"}}},
	}
	return p
}

func req(method, host, path, ip string) *Request {
	return &Request{Method: method, Scheme: "https", Host: host, Path: path, Accept: "text/html", ClientIP: netip.MustParseAddr(ip)}
}

func TestRules(t *testing.T) {
	alice := &Identity{User: "alice", Email: "alice@example.com", EmailVerified: true}
	admin := &Identity{User: "root", Email: "root@other.org", EmailVerified: true, Groups: []string{"admins"}}
	writer := &Identity{User: "w", Email: "w@example.com", EmailVerified: true, Claims: map[string][]string{"role": {"reader", "writer"}}}
	partner := &Identity{User: "p", Email: "p@partner.org", EmailVerified: true}
	cases := map[string]struct {
		r     *Request
		state SessionState
		id    *Identity
		want  Outcome
		rule  string
		why   Reason
	}{
		"allow rule needs no login":                {req("GET", "app.example.com", "/public/x", "1.2.3.4"), NoSession, nil, Allow, "public", ReasonAllowRule},
		"allow rule on segment boundary only":      {req("GET", "app.example.com", "/publicity", "1.2.3.4"), NoSession, nil, Unauthenticated, RuleDefault, ReasonNoSession},
		"allow rule ignores the query":             {&Request{Method: "GET", Scheme: "https", Host: "app.example.com", Path: "/admin", RawQuery: "x=/public", Accept: "text/html"}, NoSession, nil, Unauthenticated, "admin", ReasonNoSession},
		"mixed-case host and trailing dot match":   {req("GET", "APP.Example.COM.", "/public", "1.2.3.4"), NoSession, nil, Allow, "public", ReasonAllowRule},
		"host with port matches":                   {req("GET", "app.example.com:8443", "/public", "1.2.3.4"), NoSession, nil, Allow, "public", ReasonAllowRule},
		"skip routes come first":                   {req("GET", "internal.example.com", "/healthz", "8.8.8.8"), NoSession, nil, Allow, RuleSkip, ReasonSkipRoute},
		"require group: member":                    {req("GET", "app.example.com", "/admin/users", "1.2.3.4"), ValidSession, admin, Allow, "admin", ReasonAllowed},
		"require group: default-list user refused": {req("GET", "app.example.com", "/admin", "1.2.3.4"), ValidSession, alice, Forbidden, "admin", ReasonNotAllowed},
		"require: anonymous must log in":           {req("GET", "app.example.com", "/admin", "1.2.3.4"), NoSession, nil, Unauthenticated, "admin", ReasonNoSession},
		"regexp anchored":                          {req("GET", "app.example.com", "/x/admin", "1.2.3.4"), ValidSession, alice, Allow, RuleDefault, ReasonAllowed},
		"wildcard host, method, claim":             {req("POST", "api.example.com", "/v1", "1.2.3.4"), ValidSession, writer, Allow, "writes", ReasonAllowed},
		"wildcard host deep subdomain":             {req("DELETE", "a.b.example.com", "/v1", "1.2.3.4"), ValidSession, alice, Forbidden, "writes", ReasonNotAllowed},
		"wildcard does not match the apex":         {req("POST", "example.com", "/v1", "1.2.3.4"), ValidSession, alice, Allow, RuleDefault, ReasonAllowed},
		"wildcard suffix confusion":                {req("POST", "evilexample.com", "/v1", "1.2.3.4"), ValidSession, alice, Allow, RuleDefault, ReasonAllowed},
		"require email":                            {req("POST", "api.example.com", "/", "1.2.3.4"), ValidSession, &Identity{Email: "Boss@Example.com", EmailVerified: true}, Allow, "writes", ReasonAllowed},
		"method not in rule falls through":         {req("GET", "api.example.com", "/v1", "1.2.3.4"), ValidSession, alice, Allow, RuleDefault, ReasonAllowed},
		"cidr match authenticates":                 {req("GET", "internal.example.com", "/", "10.1.2.3"), ValidSession, alice, Allow, "internal", ReasonAllowed},
		"authenticate still applies default lists": {req("GET", "internal.example.com", "/", "10.1.2.3"), ValidSession, partner, Forbidden, "internal", ReasonNotAllowed},
		"cidr mismatch falls to deny":              {req("GET", "internal.example.com", "/", "192.168.1.1"), ValidSession, alice, Forbidden, "internal-others", ReasonDeniedByRule},
		"deny refuses anonymous with 403":          {req("GET", "internal.example.com", "/", "192.168.1.1"), NoSession, nil, Forbidden, "internal-others", ReasonDeniedByRule},
		"invalid client address never in a cidr":   {&Request{Method: "GET", Scheme: "https", Host: "internal.example.com", Path: "/"}, ValidSession, alice, Forbidden, "internal-others", ReasonDeniedByRule},
		"require domain":                           {req("GET", "partners.example.org", "/", "1.2.3.4"), ValidSession, partner, Allow, "partners", ReasonAllowed},
		"require domain refuses default users":     {req("GET", "partners.example.org", "/", "1.2.3.4"), ValidSession, alice, Forbidden, "partners", ReasonNotAllowed},
		"unverified email never matches a rule":    {req("GET", "partners.example.org", "/", "1.2.3.4"), ValidSession, &Identity{Email: "p@partner.org"}, Forbidden, "partners", ReasonNotAllowed},
		"bad token is 401 even for browsers":       {req("GET", "app.example.com", "/admin", "1.2.3.4"), InvalidToken, nil, Unauthenticated, "admin", ReasonInvalidToken},
		"bad token on an allow route passes":       {req("GET", "app.example.com", "/public", "1.2.3.4"), InvalidToken, nil, Allow, "public", ReasonAllowRule},
		"store failure beats every rule":           {req("GET", "app.example.com", "/public", "1.2.3.4"), StoreFailed, nil, Unavailable, "", ReasonStoreUnavailable},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := rulesPolicy()
			d := Decide(p, tc.r, tc.state, tc.id)
			if d.Outcome != tc.want || d.Rule != tc.rule || d.Reason != tc.why {
				t.Fatalf("got %v by %q (%s), want %v by %q (%s)", d.Outcome, d.Rule, d.Reason, tc.want, tc.rule, tc.why)
			}
			if d.Outcome == Allow && len(d.UpstreamHeaders) != len(p.Headers.All()) {
				t.Errorf("allow must list every identity header: %v", d.UpstreamHeaders)
			}
			if d.Outcome == Allow && (d.Reason == ReasonAllowRule || d.Reason == ReasonSkipRoute) {
				for _, h := range d.UpstreamHeaders {
					if h.Value != "" {
						t.Errorf("anonymous allow leaks %v", h)
					}
				}
			}
			// Explain agrees with Decide and ends at the deciding step.
			ed, steps := Explain(p, tc.r, tc.state, tc.id)
			if ed.Outcome != d.Outcome || ed.Rule != d.Rule || len(steps) == 0 {
				t.Fatalf("Explain disagrees: %v %q %v", ed.Outcome, ed.Rule, steps)
			}
			last := steps[len(steps)-1]
			if d.RuleIndex >= 0 && d.Rule != "" && last.Index != d.RuleIndex {
				t.Errorf("last step %+v, decision index %d", last, d.RuleIndex)
			}
		})
	}
}

func TestExtraUpstreamHeaders(t *testing.T) {
	p := testPolicy()
	p.Headers.AccessToken = "X-Auth-Request-Access-Token"
	p.Headers.Authorization = "Authorization"
	p.Headers.Assertion = "X-Gatehouse-Assertion"
	id := &Identity{User: "u", Email: "u@example.com", EmailVerified: true, Token: "tok"}
	d := Decide(p, browserReq("/"), ValidSession, id)
	if got := header(d.UpstreamHeaders, "X-Auth-Request-Access-Token"); got != "tok" {
		t.Errorf("access token header = %q", got)
	}
	if got := header(d.UpstreamHeaders, "Authorization"); got != "Bearer tok" {
		t.Errorf("authorization = %q", got)
	}
	if len(d.UpstreamHeaders) != 7 {
		t.Fatalf("want 7 headers, got %v", d.UpstreamHeaders)
	}
	if !d.SetUpstream("x-gatehouse-assertion", "jwt") || header(d.UpstreamHeaders, "X-Gatehouse-Assertion") != "jwt" {
		t.Error("SetUpstream")
	}
	// Anonymous allow: every header listed, all empty (= removed upstream),
	// so a client's own Authorization or assertion never reaches the app.
	d = Decide(p, browserReq("/healthz"), NoSession, nil)
	if len(d.UpstreamHeaders) != 7 {
		t.Fatalf("want 7 headers, got %v", d.UpstreamHeaders)
	}
	for _, h := range d.UpstreamHeaders {
		if h.Value != "" {
			t.Errorf("anonymous allow sets %v", h)
		}
	}
}

// hundredRules is a policy whose request of interest matches only the last
// of 100 rules, so all of them are tested.
func hundredRules() *Policy {
	p := testPolicy()
	p.Skip = nil
	for i := range 99 {
		p.Rules = append(p.Rules, Rule{
			Name:       fmt.Sprintf("r%d", i),
			Hosts:      []string{fmt.Sprintf("app%d.example.com", i), fmt.Sprintf("*.svc%d.example.com", i)},
			Paths:      []string{"/api", "/v2"},
			PathRegexp: mustPattern(fmt.Sprintf(`^/x%d/`, i)),
			Methods:    []string{"GET", "POST"},
			Action:     ActionRequire,
			Require:    Requirement{Groups: map[string]struct{}{"g": {}}},
		})
	}
	p.Rules = append(p.Rules, Rule{Name: "last", Hosts: []string{"*.example.com"}, Paths: []string{"/dashboard"},
		PathRegexp: mustPattern(`^/dashboard(/|$)`), Sources: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		Action: ActionRequire, Require: Requirement{EmailDomains: []string{"example.com"}}})
	return p
}

func TestMatchingAllocatesNothing(t *testing.T) {
	if raceDetector {
		t.Skip("allocation counts are meaningless under the race detector; make test runs this test without it")
	}
	p := hundredRules()
	r := browserReq("/dashboard/x")
	if i := p.matchRule(r, CanonicalHost(r.Host)); i != 99 {
		t.Fatalf("matched %d", i)
	}
	if n := testing.AllocsPerRun(100, func() { p.matchRule(r, CanonicalHost(r.Host)) }); n != 0 {
		t.Errorf("rule matching allocates %v times", n)
	}
	id := &Identity{User: "alice", Email: "alice@example.com", EmailVerified: true, Groups: []string{"dev"}}
	if n := testing.AllocsPerRun(100, func() { Decide(p, r, ValidSession, id) }); n > 1 {
		t.Errorf("Decide allocates %v times, want at most the header slice", n)
	}
}

// BenchmarkMatch100Rules measures rule matching alone: 100 rules, the last
// one matches.
func BenchmarkMatch100Rules(b *testing.B) {
	p := hundredRules()
	r := browserReq("/dashboard/x")
	b.ReportAllocs()
	for b.Loop() {
		if p.matchRule(r, CanonicalHost(r.Host)) != 99 {
			b.Fatal("no match")
		}
	}
}

// BenchmarkDecide100Rules measures a whole decision with 100 rules, the
// last one admitting the user: the header slice is the one allocation.
func BenchmarkDecide100Rules(b *testing.B) {
	p := hundredRules()
	r := browserReq("/dashboard/x")
	id := &Identity{User: "alice", Email: "alice@example.com", EmailVerified: true, Groups: []string{"dev"}}
	b.ReportAllocs()
	for b.Loop() {
		if d := Decide(p, r, ValidSession, id); d.Outcome != Allow || d.Rule != "last" {
			b.Fatal(d.Reason, d.Rule)
		}
	}
}

func mustPattern(expr string) *PathPattern {
	pp, err := CompilePathPattern(expr)
	if err != nil {
		panic(err)
	}
	return pp
}
