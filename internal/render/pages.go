package render

import (
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/pages"
)

// Renderer says decisions with a set of designed pages (internal/pages):
// browsers get the page, API clients JSON. The zero value and a nil
// *Renderer use pages.Builtin.
type Renderer struct {
	pages *pages.Pages
}

// New returns a Renderer with pg; nil means pages.Builtin.
func New(pg *pages.Pages) *Renderer { return &Renderer{pages: pg} }

func (rr *Renderer) page() *pages.Pages {
	if rr == nil || rr.pages == nil {
		return pages.Builtin()
	}
	return rr.pages
}

// pageHeaders are the headers of an HTML page reply.
func pageHeaders() []authz.Header {
	var hs []authz.Header
	for _, kv := range pages.Headers() {
		hs = append(hs, authz.Header{Name: kv[0], Value: kv[1]})
	}
	return hs
}

// oauth2Base is the /oauth2 base of p's login URL (which ends in
// /oauth2/start), absolute on r's origin when the login URL is a path:
// the sign-in and sign-out pages are its siblings.
func oauth2Base(p *authz.Policy, r *authz.Request) string {
	login := "/oauth2/start"
	if p != nil && p.LoginURL != "" {
		login = p.LoginURL
	}
	base := strings.TrimSuffix(login, "/start")
	if strings.HasPrefix(base, "/") && r != nil && r.Host != "" {
		base = r.Scheme + "://" + r.Host + base
	}
	return base
}

// switchAccountURL signs out and returns to the URL of r: with a provider
// that ends its own session too (end_session_endpoint), the return leads
// to its login form, where another account can sign in; with one that
// does not, the signed-out page says that the provider may still have the
// user signed in.
func switchAccountURL(p *authz.Policy, r *authz.Request) string {
	rd := "/"
	if r != nil && r.Host != "" {
		rd = r.URL()
	}
	return oauth2Base(p, r) + "/sign_out?rd=" + url.QueryEscape(rd)
}

func retryURL(r *authz.Request) string {
	if r == nil || r.Host == "" {
		return "/"
	}
	return r.URL()
}

// forbiddenHTML is the forbidden page for r: the account named (user is
// the decision's), or the deny rule's wording.
func (rr *Renderer) forbiddenHTML(p *authz.Policy, r *authz.Request, reason authz.Reason, user string) string {
	d := pages.ForbiddenData{Account: user, ByRule: reason == authz.ReasonDeniedByRule}
	if !d.ByRule {
		d.SwitchURL = switchAccountURL(p, r)
	}
	return string(rr.page().Forbidden(d))
}

// unavailableHTML is the try-again page for a store or issuer outage.
func (rr *Renderer) unavailableHTML(r *authz.Request, reason authz.Reason) string {
	what := "the session store"
	if reason == authz.ReasonIssuerUnavailable {
		what = "the token issuer"
	}
	return string(rr.page().Unavailable(pages.UnavailableData{What: what, Reason: string(reason), RetryURL: retryURL(r)}))
}
