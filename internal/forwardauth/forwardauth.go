// Package forwardauth adapts the HTTP sub-request protocols of Traefik
// (ForwardAuth), Caddy (forward_auth) and nginx (auth_request) to the
// decision core. It only translates: proxy request → authz.Request, and
// authz.Decision → the reply that proxy understands.
package forwardauth

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/check"
	"github.com/gatehouse/gatehouse/internal/httpin"
)

// Paths the Handler serves.
const (
	ForwardAuthPath = "/authz/forward-auth"
	AuthRequestPath = "/authz/auth-request"
	// DeniedPagePath answers the shipped nginx config's second question
	// after auth_request refused a request: the reply a forward-auth proxy
	// gets for it (the designed page or JSON, with its status), which
	// nginx hands to the browser as it is. So a refusal that no longer
	// holds a moment later (the store came back, the policy was reloaded)
	// is never answered with the allow and its upstream headers (a token,
	// say) but with a 307 back to the same URL, which the browser then
	// asks through auth_request again.
	DeniedPagePath = "/authz/denied-page"
)

// LoginHeader carries the login URL on nginx auth_request 401 replies; the
// shipped nginx config redirects the browser to it.
const LoginHeader = "X-Auth-Request-Redirect"

// ReasonHeader carries the decision's reason code on every reply, so nginx
// can tell a store outage (403 + store_unavailable) from a real denial.
const ReasonHeader = "X-Gatehouse-Reason"

// Options configure a Handler.
type Options struct {
	// TrustedProxies are the peers whose X-Forwarded-* / X-Original-*
	// headers are believed. A request from any other address is refused.
	TrustedProxies []netip.Prefix
	Logger         *slog.Logger
	// Observer, if set, is told about every decision.
	Observer Observer
}

// DeniedPageAdapter is the adapter name DeniedPagePath's decisions are
// observed under: a second look at a request auth_request has already
// counted, kept apart so that forward_auth and auth_request count each
// proxied request once.
const DeniedPageAdapter = "denied_page"

// Observer is told about every decision an adapter answers, for metrics.
// adapter is "forward_auth", "auth_request" or DeniedPageAdapter.
type Observer interface {
	ObserveDecision(adapter string, d authz.Decision, took time.Duration)
}

// Handler serves ForwardAuthPath and AuthRequestPath.
type Handler struct {
	checker  *check.Checker
	trusted  []netip.Prefix
	log      *slog.Logger
	observer Observer
}

// NewHandler returns the HTTP adapter for checker.
func NewHandler(checker *check.Checker, opts Options) *Handler {
	h := &Handler{checker: checker, trusted: opts.TrustedProxies, log: opts.Logger, observer: opts.Observer}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h
}

// ServeHTTP implements http.Handler: ForwardAuthPath and AuthRequestPath,
// matched exactly (the server's mux has already routed and cleaned the
// path; a second mux per request cost more than the check), else 404.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case ForwardAuthPath:
		h.forwardAuth(w, r)
	case AuthRequestPath:
		h.authRequest(w, r)
	case DeniedPagePath:
		h.deniedPage(w, r)
	default:
		http.NotFound(w, r)
	}
}

// forwardAuth answers Traefik and Caddy. Their replies for a denial go to the
// browser as they are, so the decision is written out unchanged.
func (h *Handler) forwardAuth(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var req authz.Request // on the stack: the check keeps no pointer to it
	v, ok := h.parse(r, fromForwardedHeaders, &req)
	if ok {
		v = h.checker.Check(r.Context(), &req, httpin.Credentials(r))
	}
	writeVerdict(w, v, v.Reply.Status)
	h.observe("forward_auth", v, start)
}

// deniedPage answers DeniedPagePath: forwardAuth's reply, except that an
// allow becomes a 307 to the request's own URL with no upstream header.
func (h *Handler) deniedPage(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var req authz.Request
	v, ok := h.parse(r, fromForwardedHeaders, &req)
	if ok {
		v = h.checker.Recheck(r.Context(), &req, httpin.Credentials(r))
	}
	if v.Outcome != authz.Allow {
		writeVerdict(w, v, v.Reply.Status)
		h.observe(DeniedPageAdapter, v, start)
		return
	}
	hdr := w.Header()
	hdr.Set(ReasonHeader, string(v.Reason))
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Location", req.URL())
	w.WriteHeader(http.StatusTemporaryRedirect)
	h.observe(DeniedPageAdapter, v, start)
}

func (h *Handler) observe(adapter string, v check.Verdict, start time.Time) {
	if h.observer != nil {
		h.observer.ObserveDecision(adapter, v.Decision, time.Since(start))
	}
}

// authRequest answers nginx auth_request, which understands only 2xx, 401
// and 403 (anything else becomes a 500). So: a login redirect becomes 401
// with the login URL in LoginHeader, and a store outage becomes 403 with
// ReasonHeader store_unavailable, which the shipped config turns into 503.
// nginx passes at most one Set-Cookie on, so at most one is sent.
func (h *Handler) authRequest(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var req authz.Request
	v, ok := h.parse(r, fromOriginalURL, &req)
	if ok {
		// The denial is logged with the status nginx is told.
		v = h.checker.CheckFor(r.Context(), &req, httpin.Credentials(r), authRequestStatus)
	}
	status := authRequestStatus(v)
	if v.Outcome == authz.Unauthenticated {
		w.Header().Set(LoginHeader, v.Reply.LoginURL)
		// nginx ignores Location on a 401; the shipped config redirects
		// with LoginHeader instead. Keep the reply unambiguous.
		v.Reply.Headers = slices.DeleteFunc(slices.Clone(v.Reply.Headers), func(h authz.Header) bool {
			return strings.EqualFold(h.Name, "Location")
		})
	}
	writeVerdict(w, v, status)
	h.observe("auth_request", v, start)
}

// authRequestStatus is the status nginx is told for v: 200 on allow, 401
// for a sign-in (redirect or not), 403 for every other refusal.
func authRequestStatus(v check.Verdict) int {
	switch {
	case v.Outcome == authz.Allow:
		return http.StatusOK
	case v.Outcome == authz.Unauthenticated || v.Reply.Status == http.StatusUnauthorized:
		return http.StatusUnauthorized
	}
	return http.StatusForbidden
}

// parse checks the peer and reads the proxy's view of the original request.
// It fills *req (the caller's, so that it can stay on the stack). When ok is
// false, the verdict is the refusal to send.
func (h *Handler) parse(r *http.Request, read func(*http.Request) (authz.Request, error), req *authz.Request) (check.Verdict, bool) {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || !httpin.Trusted(h.trusted, peer.Addr()) {
		h.log.LogAttrs(r.Context(), slog.LevelWarn, "request refused",
			slog.String("reason", string(authz.ReasonUntrustedSource)), slog.String("peer", r.RemoteAddr))
		return check.Refused(authz.ReasonUntrustedSource), false
	}
	*req, err = read(r)
	if err == nil {
		// Every value of a repeated header counts: frameworks differ on
		// which one they act on, so two of them are refused.
		err = req.SetMethodOverride(func(name string) string { return strings.Join(r.Header[name], ",") })
	}
	if err != nil {
		h.log.LogAttrs(r.Context(), slog.LevelWarn, "request refused",
			slog.String("reason", string(authz.ReasonBadRequest)), slog.String("error", err.Error()), slog.String("peer", r.RemoteAddr))
		return check.Refused(authz.ReasonBadRequest), false
	}
	req.ClientIP = httpin.ClientIP(strings.Join(r.Header.Values("X-Forwarded-For"), ","), peer.Addr().Unmap())
	req.Accept = r.Header.Get("Accept")
	req.FetchMode = strings.Join(r.Header.Values("Sec-Fetch-Mode"), ",")
	req.RequestedWith = strings.Join(r.Header.Values("X-Requested-With"), ",")
	req.UnderscoreHeaders = authz.UnderscoreHeaders(r.Header)
	return check.Verdict{}, true
}

// fromForwardedHeaders reads the Traefik / Caddy headers.
func fromForwardedHeaders(r *http.Request) (authz.Request, error) {
	var method, proto, host, uri string
	if err := onlyValues(r.Header, []string{"X-Forwarded-Method", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Uri"},
		&method, &proto, &host, &uri); err != nil {
		return authz.Request{}, err
	}
	if method == "" {
		method = http.MethodGet
	}
	return authz.NewRequest(method, proto, host, uri)
}

// fromOriginalURL reads nginx's X-Original-URL (scheme://host/target, built
// by the shipped config from what nginx routed on), falling back to the
// X-Forwarded-* headers.
func fromOriginalURL(r *http.Request) (authz.Request, error) {
	var orig, method, fwdMethod string
	if err := onlyValues(r.Header, []string{"X-Original-URL", "X-Original-Method", "X-Forwarded-Method"},
		&orig, &method, &fwdMethod); err != nil {
		return authz.Request{}, err
	}
	if method == "" {
		method = fwdMethod
	}
	if method == "" {
		method = http.MethodGet
	}
	if orig == "" {
		var proto, host, uri string
		if err := onlyValues(r.Header, []string{"X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Uri"}, &proto, &host, &uri); err != nil {
			return authz.Request{}, err
		}
		return authz.NewRequest(method, proto, host, uri)
	}
	scheme, rest, ok := strings.Cut(orig, "://")
	if !ok {
		return authz.Request{}, fmt.Errorf("%w: X-Original-URL is not an absolute URL", authz.ErrBadRequest)
	}
	slash := strings.IndexByte(rest, '/')
	if slash < 0 {
		return authz.Request{}, fmt.Errorf("%w: X-Original-URL has no path", authz.ErrBadRequest)
	}
	return authz.NewRequest(method, scheme, rest[:slash], rest[slash:])
}

// onlyValues sets *dst[i] to the value of the header names[i]. A header
// that describes the original request must come once: a repeated one is
// ambiguous (which copy did the proxy act on?) and wraps ErrBadRequest.
func onlyValues(h http.Header, names []string, dst ...*string) error {
	for i, name := range names {
		switch v := h[http.CanonicalHeaderKey(name)]; len(v) {
		case 0:
		case 1:
			*dst[i] = v[0]
		default:
			return fmt.Errorf("%w: %s sent %d times", authz.ErrBadRequest, name, len(v))
		}
	}
	return nil
}

// writeVerdict writes v with the given status. On allow the identity
// headers are always all present, empty when unknown, so the proxy
// overwrites whatever the client sent.
func writeVerdict(w http.ResponseWriter, v check.Verdict, status int) {
	hdr := w.Header()
	if v.Outcome == authz.Allow {
		// One backing array for every value (each header gets a one-element,
		// full-capacity slice of it, so an Add elsewhere cannot spill into
		// the next): an allow is the common answer, and a slice per header
		// was most of its allocations.
		vals := make([]string, 2+len(v.UpstreamHeaders))
		vals[0], vals[1] = string(v.Reason), "no-store"
		hdr[ReasonHeader] = vals[0:1:1]
		hdr["Cache-Control"] = vals[1:2:2]
		for i, h := range v.UpstreamHeaders {
			vals[2+i] = h.Value
			hdr[http.CanonicalHeaderKey(h.Name)] = vals[2+i : 3+i : 3+i]
		}
		w.WriteHeader(status)
		return
	}
	hdr.Set(ReasonHeader, string(v.Reason))
	hdr.Set("Cache-Control", "no-store")
	for _, h := range v.Reply.Headers {
		if strings.EqualFold(h.Name, "Set-Cookie") {
			hdr.Add("Set-Cookie", h.Value)
			continue
		}
		hdr.Set(h.Name, h.Value)
	}
	w.WriteHeader(status)
	if v.Reply.Body != "" {
		_, _ = w.Write([]byte(v.Reply.Body))
	}
}
