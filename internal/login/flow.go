package login

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/session"
)

// loginState is what an attempt's login cookie carries from start to
// callback (see attempts.go).
type loginState struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Return   string `json:"r"`
	// Provider is the ID of the provider the sign-in went to; empty (in
	// cookies of older versions) is the default provider.
	Provider string `json:"p,omitempty"`
	Started  int64  `json:"t"` // unix milliseconds, to evict the oldest attempt
}

var errMalformedLoginState = errors.New("malformed login state")

func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// start sends the browser to the provider that the provider parameter
// names, or, without one, to the only provider; with several, it sends
// the browser to the sign-in page to choose. rd, if safe, is where the
// callback will send it afterwards.
func (h *Handler) start(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return fail(http.StatusMethodNotAllowed, ReasonMethodNotAllowed, nil)
	}
	q := r.URL.Query()
	rd := h.redirects.Safe(q.Get("rd"))
	if !q.Has("provider") && len(h.provs) > 1 {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, SignInPath+"?rd="+url.QueryEscape(rd), http.StatusFound)
		return nil
	}
	pv, ok := h.byID(q.Get("provider"))
	if !ok || q.Has("provider") && q.Get("provider") == "" {
		return fail(http.StatusBadRequest, ReasonUnknownProvider, errors.New("provider "+sanitize(q.Get("provider"))))
	}
	p, err := pv.disc.get(r.Context())
	if err != nil {
		return fail(http.StatusServiceUnavailable, ReasonProviderUnavailable, err)
	}
	ls := loginState{Verifier: oauth2.GenerateVerifier(), Return: rd, Provider: pv.cfg.ID}
	if ls.State, err = randomToken(); err != nil {
		return fail(http.StatusInternalServerError, ReasonInternal, err)
	}
	if ls.Nonce, err = randomToken(); err != nil {
		return fail(http.StatusInternalServerError, ReasonInternal, err)
	}
	now := h.cfg.Now()
	ls.Started = now.UnixMilli()
	expires := now.Add(LoginCookieTTL)
	name := h.attemptCookie(ls.State)
	value, err := h.sealLogin(name, ls, expires)
	if err != nil {
		return fail(http.StatusInternalServerError, ReasonInternal, err)
	}
	// Other tabs' sign-ins stay under way; only the oldest make room.
	for _, a := range evict(h.attempts(r), len(name)+1+len(value)+2) {
		http.SetCookie(w, h.cookies.Clear(a.name))
	}
	http.SetCookie(w, h.cookies.New(name, value, expires))
	w.Header().Set("Cache-Control", "no-store")
	// AuthParams never name the flow's own parameters (see flowParams).
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(ls.Verifier), oidc.Nonce(ls.Nonce)}
	for k, v := range pv.cfg.AuthParams {
		opts = append(opts, oauth2.SetAuthURLParam(k, v))
	}
	http.Redirect(w, r, p.oauth.AuthCodeURL(ls.State, opts...), http.StatusFound)
	return nil
}

// sealLogin seals ls for the login cookie name; a return URL that would
// make the value longer than maxAttemptValue is dropped in favour of "/".
func (h *Handler) sealLogin(name string, ls loginState, expires time.Time) (string, error) {
	for {
		payload, err := json.Marshal(ls)
		if err != nil {
			return "", fmt.Errorf("encode login state: %w", err)
		}
		value, err := h.codec.Seal(name, payload, expires)
		if err != nil {
			return "", err
		}
		if len(value) <= maxAttemptValue || ls.Return == "/" {
			return value, nil
		}
		ls.Return = "/"
	}
}

// openLogin returns the login state of the attempt whose state the
// callback names, and the name of its login cookie when r carries one
// (which a failure clears: that attempt is over, the others are not). The
// attempt is bound to this browser: only the browser that started it has
// its cookie, so a callback URL made for another browser (login CSRF)
// finds none.
func (h *Handler) openLogin(r *http.Request, state string) (loginState, string, *failure) {
	var ls loginState
	name := h.attemptCookie(state)
	cs := r.CookiesNamed(name)
	if state == "" || len(cs) == 0 {
		for _, c := range r.Cookies() {
			if h.isAttemptCookie(c.Name) {
				return ls, "", fail(http.StatusBadRequest, ReasonStateMismatch, errors.New("no sign-in under way in this browser has this state"))
			}
		}
		return ls, "", fail(http.StatusBadRequest, ReasonMissingLoginCookie, nil)
	}
	var err error
	for _, c := range cs[:min(len(cs), 2)] {
		if ls, err = h.openAttempt(name, c.Value); err == nil {
			break
		}
	}
	if err != nil {
		return ls, name, fail(http.StatusBadRequest, ReasonInvalidLoginCookie, err)
	}
	if subtle.ConstantTimeCompare([]byte(state), []byte(ls.State)) != 1 {
		return ls, name, fail(http.StatusBadRequest, ReasonStateMismatch, nil)
	}
	return ls, name, nil
}

// callback finishes the sign-in: it checks state, redeems the code with the
// PKCE verifier, verifies the ID token and nonce, completes the identity
// from userinfo if needed, and stores a fresh session. The Observer is
// told whether it succeeded.
func (h *Handler) callback(w http.ResponseWriter, r *http.Request) (err error) {
	var attempt string // the login cookie of this sign-in, when the browser sent it
	defer func() {
		if err != nil && attempt != "" {
			http.SetCookie(w, h.cookies.Clear(attempt))
		}
		h.observer.Login(err == nil)
	}()
	if r.Method != http.MethodGet {
		return fail(http.StatusMethodNotAllowed, ReasonMethodNotAllowed, nil)
	}
	ctx := r.Context()
	q := r.URL.Query()
	ls, attempt, f := h.openLogin(r, q.Get("state"))
	if e := q.Get("error"); e != "" {
		// Reported before cookie problems: it is what actually happened.
		return fail(http.StatusBadRequest, ReasonProviderError, errors.New("provider error "+sanitize(e)))
	}
	if f != nil {
		return f
	}
	// The callback path says which provider answered; it must be the
	// one this sign-in went to (a mix-up defence: a code from one
	// provider is never redeemed at another).
	pv, ok := h.byCallback(r.URL.Path)
	if !ok {
		return fail(http.StatusNotFound, ReasonUnknownProvider, nil)
	}
	if want := cmp.Or(ls.Provider, h.DefaultProvider()); want != pv.cfg.ID {
		return fail(http.StatusBadRequest, ReasonProviderMismatch, errors.New("sign-in started with provider "+sanitize(want)+", callback of "+pv.cfg.ID))
	}
	code := q.Get("code")
	if code == "" {
		return fail(http.StatusBadRequest, ReasonMissingCode, nil)
	}
	p, err := pv.disc.get(ctx)
	if err != nil {
		return fail(http.StatusServiceUnavailable, ReasonProviderUnavailable, err)
	}

	var tok *oauth2.Token
	var rawID, issuer, subject string
	var id *identity
	if pv.cfg.Connector != nil {
		var fl *failure
		if tok, id, issuer, subject, fl = h.connectorIdentity(ctx, pv, p, code, ls); fl != nil {
			return fl
		}
	} else {
		var idt *oidc.IDToken
		var fl *failure
		if tok, rawID, idt, fl = h.redeem(ctx, pv, p, code, ls); fl != nil {
			return fl
		}
		if id, fl = h.identity(ctx, pv, p, tok, idt); fl != nil {
			return fl
		}
		issuer, subject = idt.Issuer, idt.Subject
	}

	sid, err := session.NewID()
	if err != nil {
		return fail(http.StatusInternalServerError, ReasonInternal, err)
	}
	now := h.cfg.Now()
	s := &session.Session{
		ID:                sid,
		Issuer:            issuer,
		Subject:           subject,
		SID:               id.sid,
		Provider:          pv.cfg.ID,
		User:              id.user,
		Email:             id.email,
		EmailVerified:     id.emailVerified,
		PreferredUsername: id.preferredUsername,
		Groups:            id.groups,
		CreatedAt:         now,
		ExpiresAt:         now.Add(h.cfg.SessionLifetime),
		IDToken:           rawID,
		AccessToken:       tok.AccessToken,
		RefreshToken:      tok.RefreshToken,
		TokenExpiry:       tok.Expiry,
	}
	h.dropOldSession(ctx, r)
	sctx, cancel := context.WithTimeout(ctx, h.cfg.StoreTimeout)
	err = h.store.Save(sctx, s)
	cancel()
	if errors.Is(err, session.ErrTooLarge) {
		return fail(http.StatusInternalServerError, ReasonSessionTooLarge, err)
	}
	if err != nil {
		return fail(http.StatusServiceUnavailable, ReasonStoreUnavailable, err)
	}
	value, err := h.codec.SealID(h.cookies.Name, sid, s.ExpiresAt)
	if err != nil {
		return fail(http.StatusInternalServerError, ReasonInternal, err)
	}
	http.SetCookie(w, h.cookies.New(h.cookies.Name, value, s.ExpiresAt))
	http.SetCookie(w, h.cookies.Clear(attempt)) // only this sign-in's: other tabs' go on
	w.Header().Set("Cache-Control", "no-store")
	h.log.LogAttrs(ctx, slog.LevelInfo, "signed in",
		slog.String("user", s.User), slog.String("subject", s.Subject), slog.String("issuer", s.Issuer), slog.String("provider", s.Provider))
	http.Redirect(w, r, h.redirects.Safe(ls.Return), http.StatusFound)
	return nil
}

// redeem exchanges the code and verifies the ID token it brings.
func (h *Handler) redeem(ctx context.Context, pv *prov, p *provider, code string, ls loginState) (*oauth2.Token, string, *oidc.IDToken, *failure) {
	cctx, cancel := context.WithTimeout(pv.disc.withClient(ctx), h.cfg.Timeout)
	defer cancel()
	tok, err := p.oauth.Exchange(cctx, code, oauth2.VerifierOption(ls.Verifier))
	if err != nil {
		return nil, "", nil, providerFailure(ReasonCodeExchangeFailed, err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return nil, "", nil, fail(http.StatusBadGateway, ReasonMissingIDToken, nil)
	}
	vctx, cancel := context.WithTimeout(pv.disc.withClient(ctx), h.cfg.Timeout)
	defer cancel()
	idt, err := p.verifier.Verify(vctx, rawID)
	if err != nil {
		if unreachable(err) {
			return nil, "", nil, fail(http.StatusServiceUnavailable, ReasonProviderUnavailable, err)
		}
		return nil, "", nil, fail(http.StatusBadRequest, ReasonInvalidIDToken, err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(ls.Nonce)) != 1 {
		return nil, "", nil, fail(http.StatusBadRequest, ReasonNonceMismatch, nil)
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, "", nil, fail(http.StatusBadRequest, ReasonInvalidIDToken, err)
		}
	}
	return tok, rawID, idt, nil
}

// dropOldSession deletes the sessions the browser had before this sign-in
// (every copy of the cookie that opens), if any; the new one always gets a
// fresh ID. Failures are only logged.
func (h *Handler) dropOldSession(ctx context.Context, r *http.Request) {
	for _, old := range h.cookieSessions(r) {
		sctx, cancel := context.WithTimeout(ctx, h.cfg.StoreTimeout)
		err := h.store.Delete(sctx, old)
		cancel()
		if err != nil {
			h.log.LogAttrs(ctx, slog.LevelWarn, "could not delete the previous session",
				slog.String("reason", string(ReasonStoreUnavailable)), slog.String("error", err.Error()))
		}
	}
}

// cookieSessions returns the session IDs named by every copy of the
// session cookie that opens, at most maxCookieCopies of them.
func (h *Handler) cookieSessions(r *http.Request) []string {
	var ids []string
	for _, c := range r.CookiesNamed(h.cookies.Name) {
		if len(ids) == maxCookieCopies {
			break
		}
		if id, err := h.codec.OpenID(h.cookies.Name, c.Value); err == nil && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// maxCookieCopies bounds the copies of the session cookie one request may
// make gatehouse look up.
const maxCookieCopies = 8
