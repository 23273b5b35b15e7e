package login

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/session"
)

// Connector signs users in through an OAuth 2 provider that is not an
// OpenID provider (GitHub): there is no discovery, no ID token and no
// nonce; who signed in is read from the provider's API with the access
// token. The flow keeps state, PKCE and the login cookie as for OpenID
// providers.
type Connector interface {
	// Endpoint returns the provider's authorization and token endpoints.
	Endpoint() oauth2.Endpoint
	// Identity reads who the access token belongs to. An error wrapping
	// ErrClaimsRefused refuses the sign-in (403); any other fails it
	// (503: the provider's API could not answer).
	Identity(ctx context.Context, client *http.Client, tok *oauth2.Token) (*Identity, error)
}

// Identity is who a Connector says signed in.
type Identity struct {
	// Issuer names the provider (its base URL); Subject is the user's
	// stable ID there. Both are required.
	Issuer, Subject   string
	User              string
	Email             string
	EmailVerified     bool
	PreferredUsername string
	Groups            []string
}

// connectorProvider is what "discovery" of a Connector yields: its
// endpoints, without I/O.
func (d *discovery) connectorProvider() *provider {
	return &provider{oauth: &oauth2.Config{
		ClientID: d.p.ClientID, ClientSecret: d.p.ClientSecret, Endpoint: d.p.Connector.Endpoint(),
		RedirectURL: d.p.RedirectURL, Scopes: d.p.Scopes,
	}}
}

// connectorIdentity redeems code at pv (a Connector's provider) and reads
// who signed in.
func (h *Handler) connectorIdentity(ctx context.Context, pv *prov, p *provider, code string, ls loginState) (*oauth2.Token, *identity, string, string, *failure) {
	cctx, cancel := context.WithTimeout(pv.disc.withClient(ctx), h.cfg.Timeout)
	defer cancel()
	tok, err := p.oauth.Exchange(cctx, code, oauth2.VerifierOption(ls.Verifier))
	if err != nil {
		return nil, nil, "", "", providerFailure(ReasonCodeExchangeFailed, err)
	}
	id, f := h.readConnector(ctx, pv, tok)
	if f != nil {
		return nil, nil, "", "", f
	}
	return tok, &identity{user: id.User, email: id.Email, emailVerified: id.EmailVerified,
		preferredUsername: id.PreferredUsername, groups: id.Groups}, id.Issuer, id.Subject, nil
}

// readConnector asks the Connector who tok belongs to and checks it as a
// sign-in's identity is checked.
func (h *Handler) readConnector(ctx context.Context, pv *prov, tok *oauth2.Token) (*Identity, *failure) {
	ictx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
	defer cancel()
	id, err := pv.cfg.Connector.Identity(ictx, pv.disc.client, tok)
	switch {
	case errors.Is(err, ErrClaimsRefused):
		return nil, fail(http.StatusForbidden, ReasonClaimsRefused, err)
	case err != nil:
		return nil, fail(http.StatusServiceUnavailable, ReasonProviderUnavailable, err)
	case id.Issuer == "" || id.Subject == "":
		return nil, fail(http.StatusBadGateway, ReasonMissingUserClaim, errors.New("the provider named no user"))
	case id.User == "":
		return nil, fail(http.StatusForbidden, ReasonMissingUserClaim, errors.New("the provider named no user name"))
	case id.Email != "" && !id.EmailVerified && !pv.cfg.AllowUnverifiedEmail:
		return nil, fail(http.StatusForbidden, ReasonEmailUnverified, nil)
	}
	return id, nil
}

// renewConnector refreshes a Connector session's token (GitHub Apps'
// user tokens expire; OAuth Apps' have no refresh token and never come
// here) and re-reads the identity, which must be the same user.
func (h *Handler) renewConnector(ctx context.Context, pv *prov, p *provider, cur *session.Session) (*session.Session, *failure) {
	cctx, cancel := context.WithTimeout(pv.disc.withClient(ctx), h.cfg.Timeout)
	defer cancel()
	tok, err := p.oauth.TokenSource(cctx, &oauth2.Token{RefreshToken: cur.RefreshToken, Expiry: time.Unix(1, 0)}).Token()
	if err != nil {
		f := providerFailure(ReasonRefreshFailed, err)
		if re, ok := errors.AsType[*oauth2.RetrieveError](err); !ok || re.ErrorCode != "invalid_grant" && re.ErrorCode != "bad_refresh_token" {
			f.status = http.StatusServiceUnavailable
		}
		return nil, f
	}
	id, f := h.readConnector(ctx, pv, tok)
	if f != nil {
		if f.status >= 500 {
			f.status = http.StatusServiceUnavailable
		}
		return nil, f
	}
	if id.Issuer != cur.Issuer || id.Subject != cur.Subject {
		return nil, fail(http.StatusBadRequest, ReasonUserinfoMismatch, errors.New("the refreshed token is another user's"))
	}
	next := *cur
	next.User, next.Email, next.EmailVerified, next.PreferredUsername, next.Groups = id.User, id.Email, id.EmailVerified, id.PreferredUsername, id.Groups
	next.AccessToken, next.RefreshToken, next.TokenExpiry = tok.AccessToken, tok.RefreshToken, tok.Expiry
	h.log.LogAttrs(ctx, slog.LevelDebug, "connector token refreshed", slog.String("provider", pv.cfg.ID))
	return &next, nil
}
