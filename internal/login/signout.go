package login

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/internal/pages"
	"github.com/gatehouse/gatehouse/internal/session"
)

// maxSignOutForm bounds the body of a sign-out POST.
const maxSignOutForm = 16 << 10

// signOut ends the session when the request comes from gatehouse's own
// pages or an allowed host (see fromTrustedSite). A GET from anywhere else
// (a link, an image or a redirect on another site) never ends the session:
// it gets a confirmation page whose form POSTs back here. A POST from
// anywhere else is refused with 403.
func (h *Handler) signOut(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return fail(http.StatusMethodNotAllowed, ReasonMethodNotAllowed, nil)
	}
	trusted := h.fromTrustedSite(r)
	if r.Method == http.MethodPost && !trusted {
		return fail(http.StatusForbidden, ReasonCrossSiteRequest, errors.New("sign-out POST from "+sanitize(requestSource(r))))
	}
	rd := r.URL.Query().Get("rd")
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxSignOutForm)
		if err := r.ParseForm(); err == nil && r.PostForm.Has("rd") {
			rd = r.PostForm.Get("rd")
		}
	}
	rd = h.redirects.Safe(rd)
	if !trusted {
		h.confirmSignOut(w, rd)
		return nil
	}
	return h.endSession(w, r, rd)
}

// fromTrustedSite reports whether r was sent from gatehouse's own pages,
// typed by the user, or sent from a page on an allowed host. In order:
//   - Sec-Fetch-Site same-origin or none (typed URL, bookmark) is trusted;
//   - else an Origin header decides: its host must be r's own or allowed
//     ("null" never is);
//   - else a Referer decides in the same way;
//   - else a request that carries none of these headers is not a
//     browser's cross-site request (a CLI or a health probe) and is
//     trusted, while a browser's (Sec-Fetch-Site cross-site or same-site
//     without Origin or Referer) is not.
//
// These are the rules of net/http.CrossOriginProtection, extended to GET,
// to allowed hosts and to Referer.
func (h *Handler) fromTrustedSite(r *http.Request) bool {
	site := r.Header.Get("Sec-Fetch-Site")
	if site == "same-origin" || site == "none" {
		return true
	}
	if o := r.Header.Get("Origin"); o != "" {
		return h.trustedURL(o, r.Host)
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		return h.trustedURL(ref, r.Host)
	}
	return site == ""
}

// trustedURL reports whether raw, an Origin or Referer, names the host the
// request was sent to (host:port as in the Host header) or an allowed host.
func (h *Handler) trustedURL(raw, host string) bool {
	if h.redirects.AllowedOrigin(raw) {
		return true
	}
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.User == nil &&
		u.Host != "" && strings.EqualFold(u.Host, host)
}

// requestSource names where a request says it came from, for the log.
func requestSource(r *http.Request) string {
	for _, k := range []string{"Origin", "Referer"} {
		if v := r.Header.Get(k); v != "" {
			if u, err := url.Parse(v); err == nil && u.Host != "" {
				return k + " " + u.Scheme + "://" + u.Host
			}
			return k + " (unparsable)"
		}
	}
	return "Sec-Fetch-Site " + r.Header.Get("Sec-Fetch-Site")
}

// confirmSignOut answers with a page that asks the user to confirm: a form
// that POSTs rd back to SignOutPath, and a link back to rd. The page may
// not be framed (so its button cannot be clickjacked) nor cached.
func (h *Handler) confirmSignOut(w http.ResponseWriter, rd string) {
	pages.Write(w, http.StatusOK, h.page().SignOut(pages.SignOutData{Action: SignOutPath, ReturnTo: rd}))
}

// endSession deletes the session from the store, clears the cookies, and
// sends the browser to the provider's end_session_endpoint (when there was
// a session with an ID token and provider logout is on) or straight to rd,
// which must be safe.
func (h *Handler) endSession(w http.ResponseWriter, r *http.Request, rd string) error {
	ctx := r.Context()
	http.SetCookie(w, h.cookies.Clear(h.cookies.Name))
	h.clearAttempts(w, r) // every sign-in under way ends too
	w.Header().Set("Cache-Control", "no-store")

	// Every copy of the session cookie is ended: with cookie.domain set, a
	// sibling host may have planted another, and signing out must not
	// leave the user's own session alive behind it.
	var idToken, provider string
	for _, id := range h.cookieSessions(r) {
		sctx, cancel := context.WithTimeout(ctx, h.cfg.StoreTimeout)
		s, err := h.store.Load(sctx, id)
		switch {
		case err == nil:
			if idToken == "" {
				idToken, provider = s.IDToken, s.Provider
			}
		case !errors.Is(err, session.ErrNotFound):
			cancel()
			return fail(http.StatusServiceUnavailable, ReasonStoreUnavailable, err)
		}
		err = h.store.Delete(sctx, id)
		cancel()
		if err != nil {
			return fail(http.StatusServiceUnavailable, ReasonStoreUnavailable, err)
		}
		if s != nil {
			h.log.LogAttrs(ctx, slog.LevelInfo, "signed out", slog.String("user", s.User), slog.String("subject", s.Subject))
		}
	}

	// Without the provider's end_session_endpoint the browser lands on
	// the signed-out page, which says whether the provider may still
	// have the user signed in; its "sign in again" returns to rd.
	// The provider is the session's own; one no longer configured ends
	// only here.
	target := SignedOutPath + "?rd=" + url.QueryEscape(rd)
	pv, known := h.byID(provider)
	if known && len(h.provs) > 1 {
		target += "&provider=" + url.QueryEscape(pv.cfg.ID)
	}
	if idToken != "" && known && !h.cfg.SkipProviderLogout {
		if p, err := pv.disc.get(ctx); err == nil && p.endSession != "" {
			target = h.endSessionURL(pv, p, idToken, rd)
		}
	}
	h.observer.Logout(LogoutLocal)
	http.Redirect(w, r, target, http.StatusFound)
	return nil
}

// endSessionURL is the provider's end_session_endpoint with the RP-initiated
// logout parameters.
func (h *Handler) endSessionURL(pv *prov, p *provider, idToken, rd string) string {
	u, _ := url.Parse(p.endSession) // checked at discovery
	q := u.Query()
	q.Set("id_token_hint", idToken)
	q.Set("client_id", pv.cfg.ClientID)
	q.Set("post_logout_redirect_uri", pv.absolute(rd))
	u.RawQuery = q.Encode()
	return u.String()
}
