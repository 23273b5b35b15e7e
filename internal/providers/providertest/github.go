package providertest

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// GitHubUser is who the GitHub fake's API says signed in.
type GitHubUser struct {
	ID     int64
	Login  string
	Emails []GitHubEmail
	Orgs   []string
	Teams  [][2]string // {org, team slug}
}

// GitHubEmail is one entry of /user/emails.
type GitHubEmail struct {
	Email             string
	Primary, Verified bool
}

// GitHub is github.com (base "https://github.com", API at
// api.github.com) or a GitHub Enterprise Server (API at base/api/v3): the
// OAuth endpoints and the REST API's /user, /user/emails, /user/orgs and
// /user/teams, whose lists are paged pageSize entries at a time with Link
// headers, as GitHub pages them.
func GitHub(t testing.TB, base string, pageSize int, u *GitHubUser) *Fake {
	f := New(t, base, map[string]any{
		"authorization_endpoint": base + "/login/oauth/authorize",
		"token_endpoint":         base + "/login/oauth/access_token",
	})
	f.OAuth2Only = true
	api := "https://api.github.com"
	if base != "https://github.com" {
		api = base + "/api/v3"
	}
	auth := func(w http.ResponseWriter, r *http.Request) bool {
		if r.Header.Get("Authorization") != "Bearer at-"+f.ClientID || r.Header.Get("X-GitHub-Api-Version") == "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest","status":"401"}`)
			return false
		}
		return true
	}
	page := func(w http.ResponseWriter, r *http.Request, items []any) {
		n, _ := strconv.Atoi(r.URL.Query().Get("page"))
		n = max(n, 1)
		per := min(max(atoi(r.URL.Query().Get("per_page"), 30), 1), pageSize)
		from := min((n-1)*per, len(items))
		to := min(from+per, len(items))
		if to < len(items) {
			w.Header().Set("Link", fmt.Sprintf(`<%s%s?per_page=%d&page=%d>; rel="next", <%s%s?per_page=%d&page=%d>; rel="last"`,
				api, strings.TrimPrefix(r.URL.Path, "/api/v3"), per, n+1, api, strings.TrimPrefix(r.URL.Path, "/api/v3"), per, (len(items)+per-1)/per))
		}
		writeJSON(w, http.StatusOK, items[from:to])
	}
	f.Handle(http.MethodGet, api+"/user", func(w http.ResponseWriter, r *http.Request) {
		if auth(w, r) {
			writeJSON(w, http.StatusOK, map[string]any{"login": u.Login, "id": u.ID, "node_id": "MDQ6VXNlcjE=", "type": "User",
				"site_admin": false, "name": "Test User", "email": nil})
		}
	})
	f.Handle(http.MethodGet, api+"/user/emails", func(w http.ResponseWriter, r *http.Request) {
		if auth(w, r) {
			var items []any
			for _, e := range u.Emails {
				items = append(items, map[string]any{"email": e.Email, "primary": e.Primary, "verified": e.Verified, "visibility": "private"})
			}
			page(w, r, items)
		}
	})
	f.Handle(http.MethodGet, api+"/user/orgs", func(w http.ResponseWriter, r *http.Request) {
		if auth(w, r) {
			var items []any
			for _, o := range u.Orgs {
				items = append(items, map[string]any{"login": o, "id": len(o), "url": api + "/orgs/" + o})
			}
			page(w, r, items)
		}
	})
	f.Handle(http.MethodGet, api+"/user/teams", func(w http.ResponseWriter, r *http.Request) {
		if auth(w, r) {
			var items []any
			for _, tm := range u.Teams {
				items = append(items, map[string]any{"name": tm[1], "slug": tm[1], "privacy": "closed",
					"organization": map[string]any{"login": tm[0], "id": len(tm[0])}})
			}
			page(w, r, items)
		}
	})
	return f
}

func atoi(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}
