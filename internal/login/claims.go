package login

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// identity is who signed in, as the session will record it.
type identity struct {
	user              string
	email             string
	emailVerified     bool
	preferredUsername string
	groups            []string
	sid               string
}

// identity reads the configured claims from the ID token and, when email,
// email_verified or groups are missing there, from the userinfo endpoint
// (whose subject must match). ID token values take precedence.
func (h *Handler) identity(ctx context.Context, p *provider, tok *oauth2.Token, idt *oidc.IDToken) (*identity, *failure) {
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return nil, fail(http.StatusBadRequest, ReasonInvalidIDToken, err)
	}
	return h.identityFrom(ctx, p, tok, claims, idt.Subject)
}

// identityFrom completes claims (those of an ID token, or none) from
// userinfo when needed and reads the identity from them. subject is whose
// claims they must be.
func (h *Handler) identityFrom(ctx context.Context, p *provider, tok *oauth2.Token, claims map[string]any, subject string) (*identity, *failure) {
	_, hasEmail := claims[h.cfg.EmailClaim]
	_, hasVerified := claims["email_verified"]
	_, hasGroups := claims[h.cfg.GroupsClaim]
	if (!hasEmail || !hasVerified || !hasGroups) && p.oidc.UserInfoEndpoint() != "" {
		uctx, cancel := context.WithTimeout(h.disc.withClient(ctx), h.cfg.Timeout)
		defer cancel()
		ui, err := p.oidc.UserInfo(uctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			if unreachable(err) {
				return nil, fail(http.StatusServiceUnavailable, ReasonProviderUnavailable, err)
			}
			return nil, fail(http.StatusBadGateway, ReasonUserinfoFailed, err)
		}
		if ui.Subject != subject {
			return nil, fail(http.StatusBadRequest, ReasonUserinfoMismatch, errors.New("userinfo sub differs from ID token sub"))
		}
		extra := map[string]any{}
		if err := ui.Claims(&extra); err != nil {
			return nil, fail(http.StatusBadGateway, ReasonUserinfoFailed, err)
		}
		for k, v := range extra {
			if _, ok := claims[k]; !ok {
				claims[k] = v
			}
		}
	}

	id := &identity{
		user:              stringClaim(claims, h.cfg.UserClaim),
		email:             stringClaim(claims, h.cfg.EmailClaim),
		emailVerified:     boolClaim(claims, "email_verified"),
		preferredUsername: stringClaim(claims, "preferred_username"),
		groups:            listClaim(claims, h.cfg.GroupsClaim),
		sid:               stringClaim(claims, "sid"),
	}
	if id.user == "" {
		return nil, fail(http.StatusForbidden, ReasonMissingUserClaim, errors.New("claim "+h.cfg.UserClaim+" is missing or not a string"))
	}
	// An email the provider does not vouch for is refused, unless allowed.
	if id.email != "" && !id.emailVerified && !h.cfg.AllowUnverifiedEmail {
		return nil, fail(http.StatusForbidden, ReasonEmailUnverified, nil)
	}
	return id, nil
}

func stringClaim(c map[string]any, name string) string {
	s, _ := c[name].(string)
	return s
}

// boolClaim reads a boolean claim; some providers send "true" as a string.
// Anything else, including absence, is false.
func boolClaim(c map[string]any, name string) bool {
	switch v := c[name].(type) {
	case bool:
		return v
	case string:
		return strings.EqualFold(v, "true")
	}
	return false
}

// listClaim reads a list of strings, or a single string as a list of one.
// Non-string members are dropped.
func listClaim(c map[string]any, name string) []string {
	switch v := c[name].(type) {
	case string:
		if v == "" {
			return nil
		}
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	return nil
}
