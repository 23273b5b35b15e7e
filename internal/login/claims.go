package login

import (
	"context"
	"errors"
	"net/http"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/claim"
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
func (h *Handler) identity(ctx context.Context, pv *prov, p *provider, tok *oauth2.Token, idt *oidc.IDToken) (*identity, *failure) {
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return nil, fail(http.StatusBadRequest, ReasonInvalidIDToken, err)
	}
	return h.identityFrom(ctx, pv, p, tok, claims, idt.Subject)
}

// identityFrom completes claims (those of an ID token, or none) from
// userinfo when needed and reads the identity from them. subject is whose
// claims they must be.
func (h *Handler) identityFrom(ctx context.Context, pv *prov, p *provider, tok *oauth2.Token, claims map[string]any, subject string) (*identity, *failure) {
	_, hasEmail := claims[pv.cfg.EmailClaim]
	_, hasVerified := claims["email_verified"]
	hasGroups := stringsAt(claims, pv.cfg.GroupsClaim) != nil
	if (!hasEmail || !hasVerified || !hasGroups) && p.oidc.UserInfoEndpoint() != "" {
		uctx, cancel := context.WithTimeout(pv.disc.withClient(ctx), h.cfg.Timeout)
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

	if pv.cfg.Claims != nil {
		hctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
		err := pv.cfg.Claims.Claims(hctx, pv.disc.client, tok, claims)
		cancel()
		switch {
		case errors.Is(err, ErrClaimsRefused):
			return nil, fail(http.StatusForbidden, ReasonClaimsRefused, err)
		case err != nil:
			return nil, fail(http.StatusServiceUnavailable, ReasonProviderUnavailable, err)
		}
	}

	id := &identity{
		user:              claim.String(claims, pv.cfg.UserClaim),
		email:             claim.String(claims, pv.cfg.EmailClaim),
		emailVerified:     claim.Bool(claims, "email_verified"),
		preferredUsername: claim.String(claims, "preferred_username"),
		groups:            pv.groupsOf(claims),
		sid:               claim.String(claims, "sid"),
	}
	if id.user == "" {
		return nil, fail(http.StatusForbidden, ReasonMissingUserClaim, errors.New("claim "+pv.cfg.UserClaim+" is missing or not a string"))
	}
	// An email the provider does not vouch for is refused, unless allowed.
	if id.email != "" && !id.emailVerified && !pv.cfg.AllowUnverifiedEmail {
		return nil, fail(http.StatusForbidden, ReasonEmailUnverified, nil)
	}
	return id, nil
}
