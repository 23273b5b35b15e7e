// Package github signs users in through GitHub or GitHub Enterprise
// Server, which speak OAuth 2 but not OpenID Connect: a login.Connector
// that reads the user from the REST API (/user), the primary verified
// email from /user/emails, and organization and team memberships
// (/user/orgs, /user/teams) as groups: "org" and "org/team-slug".
package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/login"
)

// DefaultBaseURL is github.com.
const DefaultBaseURL = "https://github.com"

// Limits of one sign-in's API reads.
const (
	maxPages = 10 // of 100 entries each, per list
	maxBody  = 1 << 20
)

// Connector is GitHub as a login.Connector.
type Connector struct {
	base, api string
}

var _ login.Connector = (*Connector)(nil)

// New returns the connector for GitHub at baseURL: github.com (""), or a
// GitHub Enterprise Server such as https://github.example.com, whose API
// is at /api/v3.
func New(baseURL string) *Connector {
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	base := strings.TrimSuffix(baseURL, "/")
	api := "https://api.github.com"
	if base != DefaultBaseURL {
		api = base + "/api/v3"
	}
	return &Connector{base: base, api: api}
}

// Endpoint implements login.Connector.
func (c *Connector) Endpoint() oauth2.Endpoint {
	return oauth2.Endpoint{AuthURL: c.base + "/login/oauth/authorize", TokenURL: c.base + "/login/oauth/access_token"}
}

type user struct {
	ID    int64  `json:"id"`
	Login string `json:"login"`
	Name  string `json:"name"`
}

type email struct {
	Email    string `json:"email"`
	Primary  bool   `json:"primary"`
	Verified bool   `json:"verified"`
}

type org struct {
	Login string `json:"login"`
}

type team struct {
	Slug         string `json:"slug"`
	Organization org    `json:"organization"`
}

// Identity implements login.Connector. The email is the primary one, and
// only when GitHub says it is verified (otherwise there is none); the
// subject is the numeric user ID, which survives renames.
func (c *Connector) Identity(ctx context.Context, client *http.Client, tok *oauth2.Token) (*login.Identity, error) {
	var u user
	if err := c.get(ctx, client, tok, "/user", &u); err != nil {
		return nil, err
	}
	if u.ID == 0 || u.Login == "" {
		return nil, errors.New("github: /user named no user")
	}
	id := &login.Identity{Issuer: c.base, Subject: strconv.FormatInt(u.ID, 10), User: u.Login, PreferredUsername: u.Login}
	emails, err := list[email](ctx, c, client, tok, "/user/emails")
	if err != nil {
		return nil, err
	}
	for _, e := range emails {
		if e.Primary && e.Verified {
			id.Email, id.EmailVerified = e.Email, true
		}
	}
	orgs, err := list[org](ctx, c, client, tok, "/user/orgs")
	if err != nil {
		return nil, err
	}
	for _, o := range orgs {
		id.Groups = append(id.Groups, o.Login)
	}
	teams, err := list[team](ctx, c, client, tok, "/user/teams")
	if err != nil {
		return nil, err
	}
	for _, t := range teams {
		id.Groups = append(id.Groups, t.Organization.Login+"/"+t.Slug)
	}
	return id, nil
}

// list reads every page (at most maxPages) of a list endpoint.
func list[T any](ctx context.Context, c *Connector, client *http.Client, tok *oauth2.Token, path string) ([]T, error) {
	var all []T
	next := c.api + path + "?per_page=100"
	for range maxPages {
		var page []T
		link, err := c.getURL(ctx, client, tok, next, &page)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if next = nextLink(link); next == "" {
			return all, nil
		}
		if u, err := url.Parse(next); err != nil || !strings.HasPrefix(next, c.api+"/") || u.User != nil {
			return nil, fmt.Errorf("github: %s: a next page outside the API", path)
		}
	}
	return nil, fmt.Errorf("github: %s: more than %d pages", path, maxPages)
}

func (c *Connector) get(ctx context.Context, client *http.Client, tok *oauth2.Token, path string, v any) error {
	_, err := c.getURL(ctx, client, tok, c.api+path, v)
	return err
}

// getURL GETs u with the user's token and decodes the JSON answer into v;
// it returns the Link header.
func (c *Connector) getURL(ctx context.Context, client *http.Client, tok *oauth2.Token, u string, v any) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("github: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return "", fmt.Errorf("github: %s: %w", req.URL.Path, err)
	}
	switch {
	case resp.StatusCode != http.StatusOK:
		return "", fmt.Errorf("github: %s answered %d", req.URL.Path, resp.StatusCode)
	case len(body) > maxBody:
		return "", fmt.Errorf("github: %s: answer too large", req.URL.Path)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return "", fmt.Errorf("github: %s: %w", req.URL.Path, err)
	}
	return resp.Header.Get("Link"), nil
}

// nextLink returns the rel="next" URL of a Link header, or "".
func nextLink(h string) string {
	for part := range strings.SplitSeq(h, ",") {
		target, params, ok := strings.Cut(strings.TrimSpace(part), ";")
		if ok && strings.Contains(params, `rel="next"`) {
			return strings.Trim(strings.TrimSpace(target), "<>")
		}
	}
	return ""
}
