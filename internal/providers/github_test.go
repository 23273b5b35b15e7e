package providers_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/login"
	"github.com/gatehouse/gatehouse/internal/providers"
	"github.com/gatehouse/gatehouse/internal/providers/github"
	"github.com/gatehouse/gatehouse/internal/providers/providertest"
	"github.com/gatehouse/gatehouse/internal/session"
)

func TestGitHub(t *testing.T) {
	cases := map[string]string{"github.com": "https://github.com", "Enterprise Server": "https://github.example.com"}
	for name, base := range cases {
		t.Run(name, func(t *testing.T) {
			u := &providertest.GitHubUser{ID: 583231, Login: "octocat",
				Emails: []providertest.GitHubEmail{
					{Email: "old@example.com", Verified: true},
					{Email: "octocat@example.com", Primary: true, Verified: true},
				},
				Orgs:  []string{"acme", "acme-labs", "oss"},
				Teams: [][2]string{{"acme", "eng"}, {"acme", "ops"}, {"oss", "maintainers"}},
			}
			f := providertest.GitHub(t, base, 2, u) // two per page: the lists take several pages
			params := providers.Params{}
			if base != providers.GitHubCom {
				params.BaseURL = base
			}
			g := newGate(t, f, providers.GitHub, params, func(p *login.Provider) { p.Connector = github.New(params.BaseURL) })
			if !g.resolved.OAuth2 || g.resolved.IssuerURL != base {
				t.Fatalf("resolved %+v", g.resolved)
			}
			s, resp, authz := g.signIn(t)
			if s == nil {
				t.Fatalf("sign-in failed: %d", resp.StatusCode)
			}
			if authz.String()[:len(base)] != base || authz.Path != "/login/oauth/authorize" || authz.Query().Get("scope") != "read:user user:email read:org" {
				t.Fatalf("authorization request %s", authz.Redacted())
			}
			want := []string{"acme", "acme-labs", "oss", "acme/eng", "acme/ops", "oss/maintainers"}
			if s.Issuer != base || s.Subject != "583231" || s.User != "octocat" || s.Email != "octocat@example.com" || !s.EmailVerified ||
				!slices.Equal(s.Groups, want) || s.Provider != "github" || s.IDToken != "" {
				t.Fatalf("session %+v", s)
			}

			// Only a primary address that GitHub verified is an email.
			u.Emails = []providertest.GitHubEmail{{Email: "octocat@example.com", Primary: true}, {Email: "x@example.com", Verified: true}}
			if s, resp, _ = g.signIn(t); s == nil || s.Email != "" || s.EmailVerified {
				t.Fatalf("unverified primary: %d %+v", resp.StatusCode, s)
			}
		})
	}
}

// An API failure fails the sign-in closed: no session without the groups.
func TestGitHubAPIFailure(t *testing.T) {
	u := &providertest.GitHubUser{ID: 1, Login: "octocat"}
	f := providertest.GitHub(t, providers.GitHubCom, 100, u)
	f.Handle(http.MethodGet, "https://api.github.com/user/teams", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"message":"Server Error"}`, http.StatusBadGateway)
	})
	g := newGate(t, f, providers.GitHub, providers.Params{}, func(p *login.Provider) { p.Connector = github.New("") })
	s, resp, _ := g.signIn(t)
	refused(t, s, resp, http.StatusServiceUnavailable, login.ReasonProviderUnavailable)
}

// A GitHub App's user tokens expire: the session is refreshed with the
// refresh token, and the groups are read again.
func TestGitHubAppRefresh(t *testing.T) {
	u := &providertest.GitHubUser{ID: 7, Login: "octocat", Orgs: []string{"acme"}}
	f := providertest.GitHub(t, providers.GitHubCom, 100, u)
	f.Expiring = true
	g := newGate(t, f, providers.GitHub, providers.Params{}, func(p *login.Provider) { p.Connector = github.New("") })
	s, resp, _ := g.signIn(t)
	if s == nil || s.RefreshToken == "" || s.TokenExpiry.IsZero() || !g.h.RefreshDue(&session.Session{RefreshToken: "x", TokenExpiry: time.Now()}) {
		t.Fatalf("sign-in: %d %+v", resp.StatusCode, s)
	}
	u.Orgs = []string{"acme", "new-org"}
	next, err := g.h.Refresh(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if f.TokensIssued() != 2 || next.RefreshToken == s.RefreshToken || !slices.Equal(next.Groups, []string{"acme", "new-org"}) || next.Subject != "7" {
		t.Fatalf("refreshed: tokens issued %d, groups %v", f.TokensIssued(), next.Groups)
	}
	// A spent refresh token is refused by GitHub (bad_refresh_token): the
	// session ends.
	spent := *next
	spent.RefreshToken = s.RefreshToken
	if err := g.store.Save(context.Background(), &spent); err != nil {
		t.Fatal(err)
	}
	if _, err := g.h.Refresh(context.Background(), &spent); !errors.Is(err, login.ErrRefreshRejected) {
		t.Fatalf("spent refresh token: %v", err)
	}
	if _, err := g.store.Load(context.Background(), spent.ID); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("the session outlived a refused refresh: %v", err)
	}
}
