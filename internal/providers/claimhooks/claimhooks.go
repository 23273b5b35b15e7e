// Package claimhooks holds the provider-specific checks and lookups that a
// preset adds to a sign-in (login.ClaimsHook): Google Workspace's hosted
// domain, and Entra ID's email verification and group overage, resolved
// through Microsoft Graph.
package claimhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/claim"
	"github.com/gatehouse/gatehouse/internal/login"
	"github.com/gatehouse/gatehouse/internal/providers"
)

// Google checks a Google sign-in: the email must be present and verified,
// and with Domains, the hd (hosted domain) claim must be one of them. The
// hd authorization parameter only preselects accounts in Google's
// chooser; a user can remove it, so the claim is what counts. Consumer
// accounts have no hd claim and are refused when Domains are set.
type Google struct {
	Domains []string
}

var _ login.ClaimsHook = Google{}

// Claims implements login.ClaimsHook.
func (g Google) Claims(_ context.Context, _ *http.Client, _ *oauth2.Token, claims map[string]any) error {
	if claim.String(claims, "email") == "" || !claim.Bool(claims, "email_verified") {
		return fmt.Errorf("%w: Google did not vouch for the account's email", login.ErrClaimsRefused)
	}
	if len(g.Domains) == 0 {
		return nil
	}
	hd := claim.String(claims, "hd")
	if hd == "" {
		return fmt.Errorf("%w: not a Google Workspace account (no hd claim)", login.ErrClaimsRefused)
	}
	if !slices.ContainsFunc(g.Domains, func(d string) bool { return strings.EqualFold(d, hd) }) {
		return fmt.Errorf("%w: Workspace domain %q is not one of domains", login.ErrClaimsRefused, hd)
	}
	return nil
}

// Entra completes an Entra ID sign-in.
//
// Email: Entra ID sends no email_verified. The email claim counts as
// verified only when its domain is one the tenant verified (the optional
// xms_edov claim is true); with email_claim upn, a member's UPN (whose
// suffix is always a verified domain of the tenant) counts as verified,
// a guest's (#EXT#) does not.
//
// Groups: past 200 groups Entra ID leaves the groups claim out and marks
// the overage (_claim_names.groups, or hasgroups). The groups are then
// read from Microsoft Graph (POST /v1.0/me/getMemberObjects) with the
// sign-in's access token, and cached per user for CacheTTL. Any failure
// there fails the sign-in: a user is never admitted without the groups
// the policy may require.
type Entra struct {
	graphURL   string
	emailClaim string
	cache      *expirable.LRU[string, []string]
}

var _ login.ClaimsHook = (*Entra)(nil)

// EntraOptions configure NewEntra.
type EntraOptions struct {
	// GraphURL is Microsoft Graph's base URL; default
	// https://graph.microsoft.com.
	GraphURL string
	// EmailClaim is the provider's email claim ("email" or "upn").
	EmailClaim string
	// CacheTTL is how long resolved groups are used; default 5m.
	CacheTTL time.Duration
	// CacheSize bounds the users cached; default 10000.
	CacheSize int
}

// NewEntra returns the Entra ID hook.
func NewEntra(o EntraOptions) *Entra {
	if o.GraphURL == "" {
		o.GraphURL = "https://graph.microsoft.com"
	}
	if o.CacheTTL <= 0 {
		o.CacheTTL = 5 * time.Minute
	}
	if o.CacheSize <= 0 {
		o.CacheSize = 10000
	}
	return &Entra{
		graphURL:   strings.TrimSuffix(o.GraphURL, "/"),
		emailClaim: o.EmailClaim,
		cache:      expirable.NewLRU[string, []string](o.CacheSize, nil, o.CacheTTL),
	}
}

// maxGraphBody bounds Graph's answer (about 11 000 group IDs).
const maxGraphBody = 1 << 20

// Claims implements login.ClaimsHook.
func (e *Entra) Claims(ctx context.Context, client *http.Client, tok *oauth2.Token, claims map[string]any) error {
	if _, ok := claims["email_verified"]; !ok {
		verified := claim.Bool(claims, "xms_edov")
		if e.emailClaim == "upn" {
			upn := claim.String(claims, "upn")
			verified = upn != "" && !strings.Contains(strings.ToUpper(upn), "#EXT#")
		}
		claims["email_verified"] = verified
	}
	if !overage(claims) {
		return nil
	}
	tid, oid := claim.String(claims, "tid"), claim.String(claims, "oid")
	if tid == "" || oid == "" {
		return errors.New("entra: group overage without tid and oid claims")
	}
	key := tid + "/" + oid
	groups, ok := e.cache.Get(key)
	if !ok {
		var err error
		if groups, err = e.memberObjects(ctx, client, tok); err != nil {
			return fmt.Errorf("entra: group overage: %w", err)
		}
		e.cache.Add(key, groups)
	}
	list := make([]any, len(groups))
	for i, g := range groups {
		list[i] = g
	}
	claims["groups"] = list
	return nil
}

// overage reports whether Entra ID left the groups out for being too many.
func overage(claims map[string]any) bool {
	if names, ok := claims["_claim_names"].(map[string]any); ok {
		if _, ok := names["groups"]; ok {
			return true
		}
	}
	return claim.Bool(claims, "hasgroups")
}

// memberObjects asks Graph for the IDs of every group and directory role
// the signed-in user is a member of, directly or not.
func (e *Entra) memberObjects(ctx context.Context, client *http.Client, tok *oauth2.Token) ([]string, error) {
	if tok == nil || tok.AccessToken == "" {
		return nil, errors.New("no access token to call Graph with")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.graphURL+"/v1.0/me/getMemberObjects",
		bytes.NewReader([]byte(`{"securityEnabledOnly":false}`)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxGraphBody+1))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("microsoft graph answered %d", resp.StatusCode)
	}
	if len(body) > maxGraphBody {
		return nil, errors.New("microsoft graph's answer is too large")
	}
	var out struct {
		Value []string `json:"value"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("read Graph's answer: %w", err)
	}
	if out.Value == nil {
		return nil, errors.New("microsoft graph's answer has no value")
	}
	return out.Value, nil
}

// For returns the hook the preset adds to its sign-ins, or nil: Google's
// checks, Entra ID's email and groups. emailClaim is the provider's
// email claim; graphURL is Resolved.GraphURL.
func For(preset string, p providers.Params, emailClaim, graphURL string) login.ClaimsHook {
	switch preset {
	case providers.Google:
		return Google{Domains: slices.Clone(p.Domains)}
	case providers.Entra:
		return NewEntra(EntraOptions{GraphURL: graphURL, EmailClaim: emailClaim})
	}
	return nil
}
