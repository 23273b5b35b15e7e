package config

import (
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/authz"
)

const providersBase = `
cookie:
  secrets: ["MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="]
access:
  allow_any_authenticated: true
`

func TestProvidersLoad(t *testing.T) {
	secret := writeFile(t, "s3cret\n")
	c, err := Load(writeFile(t, providersBase+`
  rules:
    - name: corp-only
      hosts: [corp.example.com]
      action: authenticate
      providers: [corp]
providers:
  - id: google
    preset: google
    domains: [company.com]
    client_id: g-id
    client_secret_file: `+secret+`
    redirect_url: https://auth.example.com/oauth2/callback/google
  - id: corp
    preset: entra
    tenant: contoso.onmicrosoft.com
    client_id: e-id
    client_secret: e-secret
    redirect_url: https://sso.example.org/oauth2/callback/corp
  - id: kc
    preset: keycloak
    base_url: https://kc.example.com
    realm: staff
    client_id: k-id
    client_secret: k-secret
    redirect_url: https://auth.example.com/oauth2/callback/kc
`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	ps := c.LoginProviders()
	if len(ps) != 3 || ps[0].ID != "google" {
		t.Fatalf("providers %+v", ps)
	}
	g, e, k := ps[0], ps[1], ps[2]
	if g.IssuerURL != "https://accounts.google.com" || g.ClientSecret != "s3cret" || g.AuthParams["hd"] != "company.com" || g.Name != "Google" {
		t.Errorf("google: %+v", g)
	}
	if e.IssuerURL != "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0" || e.UserClaim != "oid" || e.GraphURL != "https://graph.microsoft.com" ||
		!slices.Contains(e.Scopes, "offline_access") {
		t.Errorf("entra: %+v", e)
	}
	if k.IssuerURL != "https://kc.example.com/realms/staff" || !slices.Equal(k.ExtraGroupsClaims, []string{"realm_access.roles"}) {
		t.Errorf("keycloak: %+v", k)
	}
	// Every callback host is a return host.
	if hosts := c.ReturnHosts(); !slices.Contains(hosts, "auth.example.com") || !slices.Contains(hosts, "sso.example.org") {
		t.Errorf("return hosts %v", hosts)
	}
	p, err := c.Policy()
	if err != nil {
		t.Fatal(err)
	}
	if p.DefaultProvider != "google" || !slices.Equal(p.Rules[0].Providers, []string{"corp"}) {
		t.Errorf("policy: default %q, rule providers %v", p.DefaultProvider, p.Rules[0].Providers)
	}
	// The compiled rule refuses a session from another provider.
	d := authz.Decide(p, &authz.Request{Method: "GET", Scheme: "https", Host: "corp.example.com", Path: "/", Accept: "text/html"},
		authz.ValidSession, &authz.Identity{User: "a", Provider: "google"})
	if d.Reason != authz.ReasonProviderNotAccepted {
		t.Errorf("decision %s", d.Reason)
	}
}

// The oidc section alone is provider "oidc", as before.
func TestProvidersFromOIDC(t *testing.T) {
	c, err := Load(writeFile(t, providersBase+`
oidc:
  issuer_url: https://idp.example.com
  client_id: id
  client_secret: s
  redirect_url: https://auth.example.com/oauth2/callback
`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	ps := c.LoginProviders()
	if len(ps) != 1 || ps[0].ID != "oidc" || ps[0].IssuerURL != "https://idp.example.com" || ps[0].ClientSecret != "s" || ps[0].UserClaim != "sub" {
		t.Fatalf("providers %+v", ps)
	}
	if p, _ := c.Policy(); p.DefaultProvider != "oidc" {
		t.Fatalf("default provider %q", p.DefaultProvider)
	}
}

func TestProvidersProblems(t *testing.T) {
	provider := `
  - id: a
    issuer_url: https://idp.example.com
    client_id: id
    client_secret: s
    redirect_url: https://auth.example.com/oauth2/callback/a
`
	cases := map[string]struct {
		yaml string
		want []string
	}{
		"both oidc and providers": {"oidc:\n  issuer_url: https://x.example.com\nproviders:" + provider,
			[]string{"oidc: set either oidc or providers, not both"}},
		"duplicate id and callback": {"providers:" + provider + provider,
			[]string{`providers[1].id: "a" is already the ID of providers[0]`, "providers[1].redirect_url: path /oauth2/callback/a is also the callback of providers[0]"}},
		"missing settings": {"providers:\n  - id: B\n",
			[]string{`providers[0].id: "B" must be 1-32`, "providers[0].issuer_url: required (or a preset)", "providers[0].client_id: required",
				"providers[0].client_secret: required (or client_secret_file)", "providers[0].redirect_url: required"}},
		"preset problems by path": {"providers:\n  - id: ms\n    preset: entra\n    tenant: common\n    client_id: x\n    client_secret: y\n    redirect_url: https://a.example.com/oauth2/callback/ms\n",
			[]string{`providers[0].tenant: "common" is a multi-tenant endpoint`}},
		"unknown preset": {"providers:\n  - id: fb\n    preset: facebook\n    client_id: x\n    client_secret: y\n    redirect_url: https://a.example.com/oauth2/callback/fb\n",
			[]string{"providers[0].preset: must be one of"}},
		"google with unverified emails": {"providers:\n  - id: g\n    preset: google\n    allow_unverified_email: true\n    client_id: x\n    client_secret: y\n    redirect_url: https://a.example.com/oauth2/callback/g\n",
			[]string{"providers[0].allow_unverified_email: not with preset google"}},
		"entra email from preferred_username": {"providers:\n  - id: ms\n    preset: entra\n    tenant: contoso.com\n    email_claim: preferred_username\n    client_id: x\n    client_secret: y\n    redirect_url: https://a.example.com/oauth2/callback/ms\n",
			[]string{"providers[0].email_claim: must be email or upn with preset entra"}},
		"github with an issuer": {"providers:\n  - id: gh\n    preset: github\n    issuer_url: https://github.com\n    client_id: x\n    client_secret: y\n    redirect_url: https://a.example.com/oauth2/callback/gh\n",
			[]string{"providers[0].issuer_url: not a setting of preset github"}},
		"callback outside /oauth2/": {"providers:\n  - id: a\n    issuer_url: https://idp.example.com\n    client_id: x\n    client_secret: y\n    redirect_url: https://a.example.com/cb\n",
			[]string{"providers[0].redirect_url: must be on gatehouse's /oauth2/ path"}},
		"rule names an unknown provider": {"providers:" + provider + "access:\n  rules:\n    - action: authenticate\n      providers: [b]\n",
			[]string{`access.rules[0].providers[0]: "b" is not a configured provider (a)`}},
		"rule providers on an allow rule": {"providers:" + provider + "access:\n  rules:\n    - action: allow\n      providers: [a]\n",
			[]string{"access.rules[0].providers: only for action authenticate or require"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Load(writeFile(t, "cookie:\n  secrets: [\"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\"]\n"+tc.yaml), env(nil))
			if err == nil {
				t.Fatal("loaded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("missing %q in:\n%v", w, err)
				}
			}
		})
	}
}

// GitHub is no OpenID provider: its scopes need no openid.
func TestProvidersGitHub(t *testing.T) {
	c, err := Load(writeFile(t, providersBase+`
providers:
  - id: github
    preset: github
    base_url: https://github.example.com
    client_id: gh-id
    client_secret: gh-secret
    redirect_url: https://auth.example.com/oauth2/callback/github
`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	p := c.LoginProviders()[0]
	if !p.OAuth2 || p.IssuerURL != "https://github.example.com" || !slices.Equal(p.Scopes, []string{"read:user", "user:email", "read:org"}) {
		t.Fatalf("github: %+v", p)
	}
}

// Warnings look at every provider, named by its path: a public provider
// admitting anyone (Google without domains; not with them), plain http.
func TestProvidersWarnings(t *testing.T) {
	r, err := Check(writeFile(t, `
cookie:
  secrets: ["MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="]
access:
  allow_any_authenticated: true
  rules:
    - hosts: [corp.example.com]
      action: authenticate
      providers: [corp]
providers:
  - id: corp
    issuer_url: http://idp.corp.example.com
    client_id: c
    client_secret: s
    redirect_url: https://auth.example.com/oauth2/callback/corp
  - id: gmail
    preset: google
    client_id: g
    client_secret: s
    redirect_url: https://auth.example.com/oauth2/callback/gmail
  - id: workspace
    preset: google
    domains: [company.com]
    client_id: w
    client_secret: s
    redirect_url: https://auth.example.com/oauth2/callback/workspace
`), env(nil))
	if err != nil || len(r.Errors) > 0 {
		t.Fatal(err, r.Errors)
	}
	var got []string
	for _, w := range r.Warnings {
		got = append(got, w.Path+": "+w.Msg)
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{
		"providers[0].issuer_url: plain http to idp.corp.example.com",
		"access.allow_any_authenticated: true with providers[1].issuer_url at Google",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("missing warning %q in:\n%s", want, all)
		}
	}
	for _, not := range []string{"providers[2].issuer_url at Google", "access.rules[0]: action authenticate with providers[1]"} {
		if strings.Contains(all, not) {
			t.Errorf("unexpected warning %q in:\n%s", not, all)
		}
	}
}
