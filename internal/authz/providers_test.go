package authz

import "testing"

// A rule that names providers refuses a session from any other, however
// the allow-lists would judge it, and its explanation says why.
func TestRuleProviders(t *testing.T) {
	p := testPolicy()
	p.AllowAnyAuthenticated = true
	p.DefaultProvider = "oidc"
	p.Rules = []Rule{
		{Name: "corp-only", Hosts: []string{"corp.example.com"}, Action: ActionAuthenticate, Providers: []string{"corp"}},
		{Name: "legacy", Hosts: []string{"old.example.com"}, Action: ActionRequire, Providers: []string{"oidc"},
			Require: Requirement{EmailDomains: []string{"example.com"}}},
	}
	corp := &Identity{User: "a", Email: "a@example.com", EmailVerified: true, Provider: "corp"}
	google := &Identity{User: "b", Email: "b@example.com", EmailVerified: true, Provider: "google"}
	old := &Identity{User: "c", Email: "c@example.com", EmailVerified: true} // a record from before providers
	cases := map[string]struct {
		host  string
		state SessionState
		id    *Identity
		want  Outcome
		why   Reason
	}{
		"accepted provider":                   {"corp.example.com", ValidSession, corp, Allow, ReasonAllowed},
		"other provider refused":              {"corp.example.com", ValidSession, google, Forbidden, ReasonProviderNotAccepted},
		"old record is the default provider":  {"old.example.com", ValidSession, old, Allow, ReasonAllowed},
		"old record refused by a named rule":  {"corp.example.com", ValidSession, old, Forbidden, ReasonProviderNotAccepted},
		"explicit default provider accepted":  {"old.example.com", ValidSession, &Identity{Email: "d@example.com", EmailVerified: true, Provider: "oidc"}, Allow, ReasonAllowed},
		"anonymous still sent to log in":      {"corp.example.com", NoSession, nil, Unauthenticated, ReasonNoSession},
		"rules without providers accept any":  {"else.example.com", ValidSession, google, Allow, ReasonAllowed},
		"provider checked before allow-lists": {"old.example.com", ValidSession, google, Forbidden, ReasonProviderNotAccepted},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			d := Decide(p, req("GET", tc.host, "/", "1.2.3.4"), tc.state, tc.id)
			if d.Outcome != tc.want || d.Reason != tc.why {
				t.Fatalf("got %v %s, want %v %s", d.Outcome, d.Reason, tc.want, tc.why)
			}
		})
	}
	// A session of a provider no longer configured is refused everywhere
	// a signed-in user is needed; a bearer token of another issuer is not
	// a session and passes where no rule names providers.
	p.Providers = []string{"oidc", "corp", "google"}
	if d := Decide(p, req("GET", "else.example.com", "/", "1.2.3.4"), ValidSession, &Identity{User: "x", Provider: "removed"}); d.Reason != ReasonProviderNotAccepted {
		t.Fatalf("removed provider: %s", d.Reason)
	}
	if d := Decide(p, req("GET", "else.example.com", "/", "1.2.3.4"), ValidSession, &Identity{User: "x", Provider: "bearer:https://ci.example.com"}); d.Outcome != Allow {
		t.Fatalf("bearer of another issuer: %v %s", d.Outcome, d.Reason)
	}
	if d := Decide(p, req("GET", "corp.example.com", "/", "1.2.3.4"), ValidSession, &Identity{User: "x", Provider: "bearer:https://ci.example.com"}); d.Reason != ReasonProviderNotAccepted {
		t.Fatalf("bearer of another issuer on a rule naming providers: %s", d.Reason)
	}

	// Every view is judged: a letter-case variant of the path cannot
	// escape the provider check either.
	d := Decide(p, req("GET", "CORP.example.com", "/X", "1.2.3.4"), ValidSession, google)
	if d.Reason != ReasonProviderNotAccepted {
		t.Fatalf("mixed case: got %s", d.Reason)
	}
}

// BenchmarkDecideProviders is BenchmarkDecideAllowed with three
// configured providers and a session of the last, through a rule naming it.
func BenchmarkDecideProviders(b *testing.B) {
	p := testPolicy()
	p.Providers = []string{"oidc", "google", "corp"}
	p.DefaultProvider = "oidc"
	p.Rules = []Rule{{Name: "corp", Action: ActionAuthenticate, Providers: []string{"google", "corp"}}}
	r := browserReq("/dashboard")
	id := &Identity{User: "alice", Email: "alice@example.com", EmailVerified: true, Groups: []string{"dev"}, Provider: "corp"}
	b.ReportAllocs()
	for b.Loop() {
		if d := Decide(p, r, ValidSession, id); d.Outcome != Allow {
			b.Fatal(d.Reason)
		}
	}
}
