package login

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/internal/session"
)

// backchannelLogoutEvent is the member of a logout token's events claim
// that makes it one (OIDC Back-Channel Logout 1.0, section 2.4).
const backchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// logoutTokenSkew is how far in the future a logout token's iat may be.
const logoutTokenSkew = time.Minute

// maxLogoutBody bounds the POST body of a back-channel logout request.
const maxLogoutBody = 64 << 10

// logoutRequest is what a valid logout token asks for.
type logoutRequest struct {
	issuer, subject, sid, jti string
}

// backchannelLogout serves OIDC Back-Channel Logout 1.0: it verifies the
// POSTed logout_token and ends every session it names, on every replica
// (through the Revoker). Answers follow section 2.8: 200 when done, 400
// with an OAuth error JSON for any invalid token, 501 when not configured,
// 503 when the provider's keys or the store cannot be reached. Nothing is
// cached.
func (h *Handler) backchannelLogout(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		h.logoutError(w, r, http.StatusMethodNotAllowed, ReasonMethodNotAllowed, "only POST is accepted", nil)
		return
	}
	if h.revoker == nil || h.locker == nil {
		h.logoutError(w, r, http.StatusNotImplemented, ReasonBackchannelUnsupported, "back-channel logout is not enabled", nil)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxLogoutBody)
	if err := r.ParseForm(); err != nil {
		h.logoutError(w, r, http.StatusBadRequest, ReasonInvalidLogoutToken, "malformed request body", err)
		return
	}
	raw := r.PostForm.Get("logout_token")
	if raw == "" {
		h.logoutError(w, r, http.StatusBadRequest, ReasonInvalidLogoutToken, "logout_token is missing", nil)
		return
	}
	ctx := r.Context()
	lr, f := h.verifyLogoutToken(ctx, raw)
	if f != nil {
		desc := "the logout token is invalid"
		if f.status == http.StatusServiceUnavailable {
			desc = "the provider's keys cannot be fetched right now"
		}
		h.logoutError(w, r, f.status, f.reason, desc, f.err)
		return
	}

	// Replay: the jti is remembered as long as a token with it could pass
	// the iat check. A store failure releases it so the provider's retry works.
	sum := sha256.Sum256([]byte(lr.issuer + "\x00" + lr.jti))
	lctx, cancel := context.WithTimeout(ctx, h.cfg.StoreTimeout)
	release, ok, err := h.locker.TryLock(lctx, "jti:"+hex.EncodeToString(sum[:]), h.cfg.LogoutTokenMaxAge+2*logoutTokenSkew)
	cancel()
	if err != nil {
		h.logoutError(w, r, http.StatusServiceUnavailable, ReasonStoreUnavailable, "sessions cannot be reached right now", err)
		return
	}
	if !ok {
		h.logoutError(w, r, http.StatusBadRequest, ReasonLogoutTokenReplayed, "the logout token was already used", nil)
		return
	}

	filter := session.Filter{Issuer: lr.issuer, SID: lr.sid}
	if lr.sid == "" {
		filter.Subject = lr.subject
	}
	dctx, cancel := context.WithTimeout(ctx, h.cfg.StoreTimeout)
	n, err := h.revoker.DeleteMatching(dctx, filter)
	cancel()
	if err != nil {
		release()
		h.logoutError(w, r, http.StatusServiceUnavailable, ReasonStoreUnavailable, "sessions cannot be reached right now", err)
		return
	}
	h.log.LogAttrs(ctx, slog.LevelInfo, "back-channel logout",
		slog.String("issuer", lr.issuer), slog.String("subject", lr.subject),
		slog.String("sid", lr.sid), slog.Int("sessions_ended", n))
	h.observer.Logout(LogoutBackchannel)
	w.WriteHeader(http.StatusOK)
}

// verifyLogoutToken validates raw as section 2.6 asks: signature with the
// provider's keys, iss, aud and exp (go-oidc's ID token checks), iat
// neither in the future nor older than LogoutTokenMaxAge, the events claim,
// no nonce, sub or sid, and jti.
func (h *Handler) verifyLogoutToken(ctx context.Context, raw string) (*logoutRequest, *failure) {
	invalid := func(err error) *failure { return fail(http.StatusBadRequest, ReasonInvalidLogoutToken, err) }
	// The token's (unverified) issuer picks the providers that may have
	// sent it; each one's verifier then checks it in full, and the first
	// that accepts it (its client ID is the audience) is the sender.
	var idt *oidc.IDToken
	var f *failure
	iss := unverifiedIssuer(raw)
	for _, pv := range h.provs {
		if pv.cfg.Connector != nil || len(h.provs) > 1 && pv.cfg.IssuerURL != iss {
			continue // an OAuth 2 provider sends no logout tokens
		}
		if idt, f = h.verifyWith(ctx, pv, raw); f == nil {
			break
		}
	}
	if idt == nil {
		if f == nil {
			f = invalid(errors.New("no configured provider has the token's issuer"))
		}
		return nil, f
	}
	if err := checkLogoutType(raw); err != nil {
		return nil, invalid(err)
	}
	var claims map[string]json.RawMessage
	if err := idt.Claims(&claims); err != nil {
		return nil, invalid(err)
	}
	var c struct {
		Subject string         `json:"sub"`
		SID     string         `json:"sid"`
		JTI     string         `json:"jti"`
		Events  map[string]any `json:"events"`
	}
	if err := idt.Claims(&c); err != nil {
		return nil, invalid(fmt.Errorf("claims of the wrong type: %w", err))
	}
	now := h.cfg.Now()
	switch {
	case idt.IssuedAt.IsZero():
		return nil, invalid(errors.New("iat is missing"))
	case idt.IssuedAt.After(now.Add(logoutTokenSkew)):
		return nil, invalid(errors.New("iat is in the future"))
	case now.Sub(idt.IssuedAt) > h.cfg.LogoutTokenMaxAge:
		return nil, invalid(errors.New("iat is too old"))
	}
	if ev, ok := c.Events[backchannelLogoutEvent].(map[string]any); !ok || ev == nil {
		return nil, invalid(errors.New("events claim lacks the back-channel logout event object"))
	}
	if _, ok := claims["nonce"]; ok {
		return nil, invalid(errors.New("nonce is present"))
	}
	if c.Subject == "" && c.SID == "" {
		return nil, invalid(errors.New("neither sub nor sid is present"))
	}
	if c.JTI == "" {
		return nil, invalid(errors.New("jti is missing"))
	}
	return &logoutRequest{issuer: idt.Issuer, subject: c.Subject, sid: c.SID, jti: c.JTI}, nil
}

// verifyWith verifies raw with pv's verifier, which checks the signature
// against the provider's keys and algorithms (never "none" or HMAC), the
// issuer, the client ID in aud, and exp, which the final spec makes
// REQUIRED and to be validated as in ID tokens.
func (h *Handler) verifyWith(ctx context.Context, pv *prov, raw string) (*oidc.IDToken, *failure) {
	p, err := pv.disc.get(ctx)
	if err != nil {
		return nil, fail(http.StatusServiceUnavailable, ReasonProviderUnavailable, err)
	}
	vctx, cancel := context.WithTimeout(pv.disc.withClient(ctx), h.cfg.Timeout)
	defer cancel()
	idt, err := p.verifier.Verify(vctx, raw)
	if err != nil {
		// go-oidc loses the error type of a failed key fetch; its message says it.
		if unreachable(err) || strings.Contains(err.Error(), "fetching keys") {
			return nil, fail(http.StatusServiceUnavailable, ReasonProviderUnavailable, err)
		}
		return nil, fail(http.StatusBadRequest, ReasonInvalidLogoutToken, err)
	}
	return idt, nil
}

// unverifiedIssuer reads the iss claim of a JWT without verifying it, only
// to choose which provider verifies it; "" when unreadable.
func unverifiedIssuer(raw string) string {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 || len(parts[1]) > maxLogoutBody {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Issuer string `json:"iss"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return ""
	}
	return c.Issuer
}

// checkLogoutType refuses a token explicitly typed as something other than
// a logout token or a plain JWT (an access token, say). The signature has
// been verified already; this only reads the header.
func checkLogoutType(raw string) error {
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{
		jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
		jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
	})
	if err != nil || len(jws.Signatures) != 1 {
		return fmt.Errorf("read header: %w", err)
	}
	typ, _ := jws.Signatures[0].Header.ExtraHeaders[jose.HeaderType].(string)
	switch strings.TrimPrefix(strings.ToLower(typ), "application/") {
	case "", "jwt", "logout+jwt":
		return nil
	}
	return fmt.Errorf("typ %q is not a logout token's", sanitize(typ))
}

// logoutError answers a back-channel logout request with status and, for
// 4xx/5xx, the OAuth error JSON; the detail err goes to the log only.
func (h *Handler) logoutError(w http.ResponseWriter, r *http.Request, status int, reason Reason, desc string, err error) {
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{slog.String("reason", string(reason)), slog.Int("status", status), slog.String("path", r.URL.Path)}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	h.log.LogAttrs(r.Context(), level, "back-channel logout refused", attrs...)

	code := "invalid_request"
	if status >= 500 {
		code = "temporarily_unavailable"
		if status == http.StatusNotImplemented {
			code = "unsupported"
		}
		if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "5")
		}
	}
	b, _ := json.Marshal(struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}{code, desc})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
