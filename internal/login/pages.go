package login

import (
	"context"
	"net/http"
	"net/url"

	"github.com/gatehouse/gatehouse/internal/pages"
)

// SignedOutPath shows the signed-out page; sign-out ends there unless the
// provider's end_session_endpoint takes the browser first.
const SignedOutPath = "/oauth2/signed_out"

// SignInPath shows the sign-in page: a choice of providers, each starting
// the sign-in at StartPath with the same return URL.
const SignInPath = "/oauth2/sign_in"

func (h *Handler) page() *pages.Pages {
	if h.pages != nil {
		return h.pages
	}
	return pages.Builtin()
}

func (h *Handler) provider() string {
	if h.providerName != "" {
		return h.providerName
	}
	if u, err := url.Parse(h.cfg.IssuerURL); err == nil && u.Host != "" {
		return u.Host
	}
	return "your sign-in provider"
}

// ProviderEndsSession reports whether sign-out also ends the user's
// session at the provider: it advertises an end_session_endpoint and
// provider logout is on. When it does not (Google, say), the provider may
// sign the user straight back in, which the signed-out page says. An
// undiscoverable provider counts as not ending it.
func (h *Handler) ProviderEndsSession(ctx context.Context) bool {
	if h.cfg.SkipProviderLogout {
		return false
	}
	p, err := h.disc.get(ctx)
	return err == nil && p.endSession != ""
}

// signInURL is StartPath with rd, which must be safe.
func signInURL(rd string) string { return StartPath + "?rd=" + url.QueryEscape(rd) }

// SignedOutHandler serves SignedOutPath: the signed-out page, whose
// "sign in again" returns to the (checked) rd.
func (h *Handler) SignedOutHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		rd := h.redirects.Safe(r.URL.Query().Get("rd"))
		pages.Write(w, http.StatusOK, h.page().SignedOut(pages.SignedOutData{
			SignInURL:            signInURL(rd),
			ProviderKeepsSession: !h.ProviderEndsSession(r.Context()),
			ProviderName:         h.provider(),
		}))
	})
}

// SignInHandler serves SignInPath: the sign-in page, one button per
// provider (one today), each going to StartPath with the (checked) rd.
func (h *Handler) SignInHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		rd := h.redirects.Safe(r.URL.Query().Get("rd"))
		pages.Write(w, http.StatusOK, h.page().SignIn(pages.SignInData{
			Providers: []pages.Provider{{Name: h.provider(), URL: signInURL(rd)}},
		}))
	})
}
