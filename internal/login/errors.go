package login

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/pages"
)

// Reason is a stable code saying why a sign-in or sign-out failed. It is
// shown on the error page, logged, and fit for metric labels; never rename one.
type Reason string

// The reasons the endpoints give.
const (
	ReasonMethodNotAllowed    Reason = "method_not_allowed"
	ReasonProviderUnavailable Reason = "provider_unavailable"
	ReasonProviderError       Reason = "provider_error"
	ReasonMissingLoginCookie  Reason = "missing_login_cookie"
	ReasonInvalidLoginCookie  Reason = "invalid_login_cookie"
	ReasonStateMismatch       Reason = "state_mismatch"
	ReasonMissingCode         Reason = "missing_code"
	ReasonCodeExchangeFailed  Reason = "code_exchange_failed"
	ReasonMissingIDToken      Reason = "missing_id_token"
	ReasonInvalidIDToken      Reason = "invalid_id_token"
	ReasonNonceMismatch       Reason = "nonce_mismatch"
	ReasonUserinfoFailed      Reason = "userinfo_failed"
	ReasonUserinfoMismatch    Reason = "userinfo_subject_mismatch"
	ReasonMissingUserClaim    Reason = "missing_user_claim"
	ReasonEmailUnverified     Reason = "email_unverified"
	ReasonStoreUnavailable    Reason = "store_unavailable"
	ReasonInternal            Reason = "internal_error"
	// ReasonRefreshFailed: a token refresh failed; logged when it ends a session.
	ReasonRefreshFailed Reason = "refresh_failed"
	// ReasonInvalidLogoutToken: a back-channel logout token was refused.
	ReasonInvalidLogoutToken Reason = "invalid_logout_token"
	// ReasonLogoutTokenReplayed: a back-channel logout token's jti was seen before.
	ReasonLogoutTokenReplayed Reason = "logout_token_replayed"
	// ReasonBackchannelUnsupported: back-channel logout is not configured.
	ReasonBackchannelUnsupported Reason = "backchannel_logout_unsupported"
	// ReasonCrossSiteRequest: a sign-out POST came from another site.
	ReasonCrossSiteRequest Reason = "cross_site_request"
	// ReasonUnknownProvider: /oauth2/start named no configured provider.
	ReasonUnknownProvider Reason = "unknown_provider"
	// ReasonProviderMismatch: a callback arrived at another provider's
	// callback path than the one its sign-in was started with.
	ReasonProviderMismatch Reason = "provider_mismatch"
	// ReasonClaimsRefused: the provider's claims check refused the user
	// (a Google account outside the Workspace domain, say).
	ReasonClaimsRefused Reason = "claims_refused"
	// ReasonSessionTooLarge: the signed-in account's groups or tokens are
	// more than a session may hold (session.ErrTooLarge).
	ReasonSessionTooLarge Reason = "session_too_large"
)

// message is what the error page tells the user for each reason.
func (r Reason) message() string {
	switch r {
	case ReasonMethodNotAllowed:
		return "This endpoint does not accept that request method."
	case ReasonProviderUnavailable:
		return "The sign-in provider cannot be reached right now. Please try again in a moment."
	case ReasonProviderError:
		return "The sign-in provider refused the sign-in."
	case ReasonMissingLoginCookie, ReasonInvalidLoginCookie, ReasonStateMismatch:
		return "This sign-in was not started in this browser, took too long, or was already used. Please start again."
	case ReasonEmailUnverified:
		return "Your email address is not verified with the sign-in provider."
	case ReasonMissingUserClaim:
		return "The sign-in provider did not say who you are."
	case ReasonStoreUnavailable:
		return "Sessions cannot be stored right now. Please try again in a moment."
	case ReasonSessionTooLarge:
		return "Your account carries more groups or larger tokens than a session can hold. Ask the administrator to have the sign-in provider send fewer groups."
	case ReasonUnknownProvider:
		return "There is no such sign-in provider here."
	case ReasonClaimsRefused:
		return "This account may not sign in here through this provider."
	case ReasonCrossSiteRequest:
		return "This sign-out request came from another site and was refused. Use the sign-out link of the application."
	default:
		return "The sign-in could not be completed. Please start again."
	}
}

// failure is an endpoint's error: the status and reason are for the client,
// err is the detail for the log and must never hold a token, code, cookie
// or secret.
type failure struct {
	status int
	reason Reason
	err    error
}

func (f *failure) Error() string {
	if f.err == nil {
		return string(f.reason)
	}
	return string(f.reason) + ": " + f.err.Error()
}

func (f *failure) Unwrap() error { return f.err }

func fail(status int, reason Reason, err error) *failure {
	return &failure{status: status, reason: reason, err: err}
}

// serve runs an endpoint and turns its failure into the error page:
// nothing is cached, and the failure is logged. (A failed callback clears
// its own attempt's login cookie.)
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, fn func(http.ResponseWriter, *http.Request) error) {
	err := fn(w, r)
	if err == nil {
		return
	}
	f, ok := errors.AsType[*failure](err)
	if !ok {
		f = fail(http.StatusInternalServerError, ReasonInternal, err)
	}
	level := slog.LevelInfo
	if f.status >= 500 {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("reason", string(f.reason)),
		slog.Int("status", f.status),
		slog.String("path", r.URL.Path),
	}
	if f.err != nil {
		attrs = append(attrs, slog.String("error", f.err.Error()))
	}
	h.log.LogAttrs(r.Context(), level, "login endpoint failed", attrs...)

	hd := w.Header()
	hd.Del("Location")
	pages.SetHeaders(hd)
	switch f.status {
	case http.StatusMethodNotAllowed:
		allow := "GET"
		if r.URL.Path == SignOutPath {
			allow = "GET, POST"
		}
		hd.Set("Allow", allow)
	case http.StatusServiceUnavailable:
		hd.Set("Retry-After", "5")
	}
	w.WriteHeader(f.status)
	_, _ = w.Write(h.page().Error(f.status, pages.ErrorData{Message: f.reason.message(), Reason: string(f.reason), RestartURL: "/"}))
}

// unreachable reports whether err means the provider could not be reached
// or did not answer in time, as opposed to answering with a refusal.
func unreachable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	if _, ok := errors.AsType[*url.Error](err); ok {
		return true
	}
	_, ok := errors.AsType[net.Error](err)
	return ok
}

// providerFailure classifies an error from a call to the provider: network
// trouble and 5xx answers are 503 (try again later); refusals are reason
// with status 400. Only the OAuth error code is kept from an error answer.
func providerFailure(reason Reason, err error) *failure {
	if re, ok := errors.AsType[*oauth2.RetrieveError](err); ok {
		detail := errors.New("provider answered " + strconv.Itoa(re.Response.StatusCode) + " " + sanitize(re.ErrorCode))
		if re.Response.StatusCode >= 500 {
			return fail(http.StatusServiceUnavailable, ReasonProviderUnavailable, detail)
		}
		return fail(http.StatusBadRequest, reason, detail)
	}
	if unreachable(err) {
		return fail(http.StatusServiceUnavailable, ReasonProviderUnavailable, err)
	}
	return fail(http.StatusBadGateway, reason, err)
}

// sanitize keeps a short printable prefix of a value from the outside, for logs.
func sanitize(s string) string {
	const max = 64
	var b strings.Builder
	for _, c := range s {
		if b.Len() >= max {
			b.WriteString("…")
			break
		}
		if c < 0x20 || c == 0x7f {
			c = '?'
		}
		b.WriteRune(c)
	}
	return b.String()
}
