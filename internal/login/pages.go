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

// providerName is what the pages call pv: its Name, else (for the
// default provider) Options.ProviderName, else its issuer's host.
func (h *Handler) providerName(pv *prov) string {
	fallback := ""
	if pv == h.provs[0] {
		fallback = h.providerLabel
	}
	return pv.name(fallback)
}

// ProviderEndsSession reports whether sign-out also ends the user's
// session at the provider: it advertises an end_session_endpoint and
// provider logout is on. When it does not (Google, say), the provider may
// sign the user straight back in, which the signed-out page says. An
// undiscoverable provider counts as not ending it.
func (h *Handler) ProviderEndsSession(ctx context.Context) bool {
	return h.endsSession(ctx, h.provs[0])
}

// endsSession is ProviderEndsSession for the provider pv.
func (h *Handler) endsSession(ctx context.Context, pv *prov) bool {
	if h.cfg.SkipProviderLogout {
		return false
	}
	p, err := pv.disc.get(ctx)
	return err == nil && p.endSession != ""
}

// signInURL is StartPath with rd, which must be safe, and, with several
// providers, the provider's ID.
func (h *Handler) signInURL(pv *prov, rd string) string {
	u := StartPath + "?rd=" + url.QueryEscape(rd)
	if len(h.provs) > 1 {
		u = StartPath + "?provider=" + url.QueryEscape(pv.cfg.ID) + "&rd=" + url.QueryEscape(rd)
	}
	return u
}

// SignedOutHandler serves SignedOutPath: the signed-out page, whose
// "sign in again" returns to the (checked) rd, through the provider its
// provider parameter names (the default one if none or unknown).
func (h *Handler) SignedOutHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		rd := h.redirects.Safe(r.URL.Query().Get("rd"))
		pv, ok := h.byID(r.URL.Query().Get("provider"))
		if !ok {
			pv = h.provs[0]
		}
		pages.Write(w, http.StatusOK, h.page().SignedOut(pages.SignedOutData{
			SignInURL:            h.signInURL(pv, rd),
			ProviderKeepsSession: !h.endsSession(r.Context(), pv),
			ProviderName:         h.providerName(pv),
		}))
	})
}

// SignInHandler serves SignInPath: the sign-in page, one button per
// provider in the configured order, each going to StartPath with the
// provider's ID and the (checked) rd.
func (h *Handler) SignInHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		rd := h.redirects.Safe(r.URL.Query().Get("rd"))
		var ps []pages.Provider
		for _, pv := range h.provs {
			ps = append(ps, pages.Provider{Name: h.providerName(pv), URL: h.signInURL(pv, rd)})
		}
		pages.Write(w, http.StatusOK, h.page().SignIn(pages.SignInData{Providers: ps}))
	})
}
