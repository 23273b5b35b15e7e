package providers_test

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/providers"
)

func TestResolveProblems(t *testing.T) {
	cases := map[string]struct {
		preset string
		p      providers.Params
		want   string // "field: message fragment"
	}{
		"unknown preset":          {"facebook", providers.Params{}, "preset: must be one of google, entra"},
		"entra without tenant":    {"entra", providers.Params{}, "tenant: required for preset entra"},
		"entra common endpoint":   {"entra", providers.Params{Tenant: "common"}, "tenant: \"common\" is a multi-tenant endpoint"},
		"entra organizations":     {"entra", providers.Params{Tenant: "Organizations"}, "is a multi-tenant endpoint"},
		"entra garbage tenant":    {"entra", providers.Params{Tenant: "a/b"}, "tenant: \"a/b\" is neither"},
		"entra plain http graph":  {"entra", providers.Params{Tenant: "contoso.com", GraphURL: "http://graph.example.com"}, "graph_url: "},
		"keycloak without realm":  {"keycloak", providers.Params{BaseURL: "https://sso.example.com"}, "realm: required"},
		"keycloak without server": {"keycloak", providers.Params{Realm: "acme"}, "base_url: required"},
		"okta without domain":     {"okta", providers.Params{}, "domain: required for preset okta"},
		"auth0 domain with path":  {"auth0", providers.Params{Domain: "https://acme.auth0.com/x"}, "domain: "},
		"google bad domain":       {"google", providers.Params{Domains: []string{"company com"}}, "domains[0]: "},
		"setting of another":      {"google", providers.Params{Tenant: "contoso.com"}, "tenant: is not a setting of preset google"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, probs := providers.Resolve(tc.preset, tc.p)
			var all []string
			for _, p := range probs {
				all = append(all, p.String())
			}
			if !strings.Contains(strings.Join(all, "\n"), tc.want) {
				t.Fatalf("problems %q, want one containing %q", all, tc.want)
			}
		})
	}
}

func TestResolveValues(t *testing.T) {
	cases := map[string]struct {
		preset string
		p      providers.Params
		issuer string
	}{
		"google":                 {"google", providers.Params{}, "https://accounts.google.com"},
		"entra by domain":        {"entra", providers.Params{Tenant: "contoso.onmicrosoft.com"}, "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0"},
		"entra sovereign cloud":  {"entra", providers.Params{Tenant: "contoso.us", BaseURL: "https://login.microsoftonline.us"}, "https://login.microsoftonline.us/contoso.us/v2.0"},
		"gitlab.com":             {"gitlab", providers.Params{}, "https://gitlab.com"},
		"gitlab self-managed":    {"gitlab", providers.Params{BaseURL: "https://git.example.com/"}, "https://git.example.com"},
		"okta":                   {"okta", providers.Params{Domain: "acme.okta.com"}, "https://acme.okta.com/oauth2/default"},
		"okta org server":        {"okta", providers.Params{IssuerURL: "https://acme.okta.com"}, "https://acme.okta.com"},
		"auth0 keeps the slash":  {"auth0", providers.Params{Domain: "acme.us.auth0.com"}, "https://acme.us.auth0.com/"},
		"issuer_url always wins": {"keycloak", providers.Params{IssuerURL: "https://kc.example.com/realms/x"}, "https://kc.example.com/realms/x"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r, probs := providers.Resolve(tc.preset, tc.p)
			if len(probs) > 0 || r.IssuerURL != tc.issuer {
				t.Fatalf("issuer %q, problems %v; want %q", r.IssuerURL, probs, tc.issuer)
			}
		})
	}
	// A Workspace domain is passed as the hd hint; several as "*".
	r, _ := providers.Resolve("google", providers.Params{Domains: []string{"a.com", "b.com"}})
	if r.AuthParams["hd"] != "*" {
		t.Fatalf("hd %q", r.AuthParams["hd"])
	}
}
