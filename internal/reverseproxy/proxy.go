// Package reverseproxy is gatehouse's fifth adapter: instead of answering a
// proxy's question, gatehouse is the proxy. Each request is built into an
// authz.Request with the same constructor and the same client, cookie and
// header rules as the other adapters, judged by the same check.Checker,
// and, when allowed, sent on to the upstream chosen by host and path
// prefix with net/http/httputil.ReverseProxy: the judged path (never
// another form of it), gatehouse's identity headers and none of the
// client's, the client's cookies without gatehouse's own, and
// X-Forwarded-* that follow the trusted-proxy rules. Refusals are the
// decision core's replies (internal/render); an upstream that cannot be
// reached or answers too slowly gets the designed 502 or 504 page.
package reverseproxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/check"
	"github.com/gatehouse/gatehouse/internal/httpin"
	"github.com/gatehouse/gatehouse/internal/pages"
)

// AdapterName labels this adapter's decisions for the Observer.
const AdapterName = "reverse_proxy"

// ReasonHeader carries the decision's reason code on every refusal, as the
// forward-auth endpoints send it.
const ReasonHeader = "X-Gatehouse-Reason"

// Observer is told about every decision the adapter makes, for metrics.
type Observer interface {
	ObserveDecision(adapter string, d authz.Decision, took time.Duration)
}

// Options are the optional settings of a Handler.
type Options struct {
	// TrustedProxies are the peers whose X-Forwarded-For and
	// X-Forwarded-Proto are believed (nginx in front of gatehouse). Any
	// other peer is a client: its forwarded headers are ignored and
	// replaced.
	TrustedProxies []netip.Prefix
	Logger         *slog.Logger
	Observer       Observer
	// Pages renders the upstream-unreachable page; nil means pages.Builtin.
	Pages *pages.Pages
	// Own serves gatehouse's own endpoints (sign-in, callback, health) on
	// the same listener: a request whose normalized path is one of
	// OwnPaths ("/healthz") or lies under one that ends in "/" ("/oauth2/")
	// goes to Own instead of an upstream.
	Own      http.Handler
	OwnPaths []string
}

// Handler is the reverse-proxy adapter, an http.Handler.
type Handler struct {
	checker   *check.Checker
	upstreams []*upstream // in matching order (see route)
	trusted   []netip.Prefix
	log       *slog.Logger
	observer  Observer
	pages     *pages.Pages
	own       http.Handler
	ownPaths  []string
}

// New returns the adapter for checker that proxies to upstreams. Its
// errors name the upstream (by its index) and the field at fault.
func New(checker *check.Checker, upstreams []Upstream, opts Options) (*Handler, error) {
	if len(upstreams) == 0 {
		return nil, errors.New("reverseproxy: no upstreams")
	}
	h := &Handler{checker: checker, trusted: opts.TrustedProxies, log: opts.Logger, observer: opts.Observer,
		pages: opts.Pages, own: opts.Own, ownPaths: opts.OwnPaths}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.pages == nil {
		h.pages = pages.Builtin()
	}
	for i, u := range upstreams {
		up, err := h.newUpstream(u)
		if err != nil {
			return nil, fmt.Errorf("upstreams[%d]: %w", i, err)
		}
		h.upstreams = append(h.upstreams, up)
	}
	sortUpstreams(h.upstreams)
	return h, nil
}

// CloseIdleConnections closes the idle connections to every upstream.
func (h *Handler) CloseIdleConnections() {
	for _, u := range h.upstreams {
		u.transport.CloseIdleConnections()
	}
}

// forward is what Rewrite and the error handler need to know about an
// allowed request, carried in its context.
type forward struct {
	req      *authz.Request
	verdict  check.Verdict
	upstream *upstream
	trusted  bool // the peer is a trusted proxy
	peer     netip.Addr
}

type forwardKey struct{}

// ServeHTTP judges r and proxies it when allowed.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.own != nil && h.isOwn(r) {
		h.own.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	fw, v, ok := h.parse(r)
	if !ok {
		writeRefusal(w, v)
		h.observe(v, start)
		return
	}
	fw.upstream = h.route(fw.req)
	if fw.upstream == nil {
		h.log.LogAttrs(r.Context(), slog.LevelInfo, "no upstream",
			slog.String("reason", reasonNoUpstream), slog.String("host", fw.req.Host), slog.String("path", fw.req.Path))
		writeJSON(w, http.StatusNotFound, reasonNoUpstream)
		return
	}
	v = h.checker.Check(r.Context(), fw.req, httpin.Credentials(r))
	h.observe(v, start)
	if v.Outcome != authz.Allow {
		writeRefusal(w, v)
		return
	}
	fw.verdict = v
	// Uploads, downloads, streams and websockets take as long as they
	// take: the listener's read and write timeouts (which bound gatehouse's
	// own answers) stop here. The upstream's timeouts still hold.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	r = r.WithContext(context.WithValue(r.Context(), forwardKey{}, fw))
	fw.upstream.proxy.ServeHTTP(w, r)
}

func (h *Handler) observe(v check.Verdict, start time.Time) {
	if h.observer != nil {
		h.observer.ObserveDecision(AdapterName, v.Decision, time.Since(start))
	}
}

// isOwn reports whether r is for one of gatehouse's own endpoints. The
// path is the normalized one that would be judged; a path that cannot be
// normalized is never gatehouse's (the adapter refuses it).
func (h *Handler) isOwn(r *http.Request) bool {
	raw, _, _ := strings.Cut(targetOf(r), "?")
	ps, err := authz.ParsePath(raw)
	if err != nil {
		return false
	}
	for _, p := range h.ownPaths {
		if ps.Clean == p || strings.HasSuffix(p, "/") && strings.HasPrefix(ps.Clean, p) {
			return true
		}
	}
	return false
}

// parse reads the request to judge from r: the method of the request
// line, the scheme (a trusted proxy's X-Forwarded-Proto, else the
// connection's), the host gatehouse routes on (r.Host: the Host header, or
// the authority of an absolute-form target) and the target as the client
// sent it, through authz.NewRequest. When ok is false, v is the refusal.
func (h *Handler) parse(r *http.Request) (fw *forward, v check.Verdict, ok bool) {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		h.log.LogAttrs(r.Context(), slog.LevelWarn, "request refused",
			slog.String("reason", string(authz.ReasonBadRequest)), slog.String("error", "unreadable peer address"), slog.String("peer", r.RemoteAddr))
		return nil, check.Refused(authz.ReasonBadRequest), false
	}
	fw = &forward{peer: peer.Addr().Unmap()}
	fw.trusted = httpin.Trusted(h.trusted, fw.peer)
	req, err := h.read(r, fw.trusted)
	if err == nil {
		// Every value of a repeated override counts, as in forward-auth.
		err = req.SetMethodOverride(func(name string) string { return strings.Join(r.Header[name], ",") })
	}
	if err != nil {
		h.log.LogAttrs(r.Context(), slog.LevelWarn, "request refused",
			slog.String("reason", string(authz.ReasonBadRequest)), slog.String("error", err.Error()), slog.String("peer", r.RemoteAddr))
		return nil, check.Refused(authz.ReasonBadRequest), false
	}
	req.ClientIP = fw.peer
	if fw.trusted {
		req.ClientIP = httpin.ClientIP(strings.Join(r.Header.Values("X-Forwarded-For"), ","), fw.peer)
	}
	req.Accept = r.Header.Get("Accept")
	req.FetchMode = strings.Join(r.Header.Values("Sec-Fetch-Mode"), ",")
	req.RequestedWith = strings.Join(r.Header.Values("X-Requested-With"), ",")
	req.UnderscoreHeaders = authz.UnderscoreHeaders(r.Header)
	fw.req = &req
	return fw, check.Verdict{}, true
}

// read builds the authz.Request of r.
func (h *Handler) read(r *http.Request, trusted bool) (authz.Request, error) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if trusted {
		switch v := r.Header["X-Forwarded-Proto"]; len(v) {
		case 0:
		case 1:
			scheme = v[0]
		default:
			return authz.Request{}, fmt.Errorf("%w: X-Forwarded-Proto sent %d times", authz.ErrBadRequest, len(v))
		}
	}
	target := targetOf(r)
	if target != "" && target[0] != '/' && target != "*" {
		// Absolute form: net/http took r.Host from its authority (and
		// ignored the Host header), so the path is what follows it.
		_, rest, ok := strings.Cut(target, "://")
		if !ok {
			return authz.Request{}, fmt.Errorf("%w: request target is neither origin nor absolute form", authz.ErrBadRequest)
		}
		i := strings.IndexAny(rest, "/?")
		switch {
		case i < 0:
			target = "/"
		case rest[i] == '?':
			target = "/" + rest[i:]
		default:
			target = rest[i:]
		}
	}
	return authz.NewRequest(r.Method, scheme, r.Host, target)
}

// targetOf is the request target as the client sent it: the request
// line's (HTTP/1) or :path (HTTP/2). A request built in-process has none;
// its URL stands in.
func targetOf(r *http.Request) string {
	if r.RequestURI != "" {
		return r.RequestURI
	}
	return r.URL.RequestURI()
}

// writeRefusal sends the decision core's reply for a refused request.
func writeRefusal(w http.ResponseWriter, v check.Verdict) {
	hdr := w.Header()
	hdr.Set(ReasonHeader, string(v.Reason))
	hdr.Set("Cache-Control", "no-store")
	for _, h := range v.Reply.Headers {
		if strings.EqualFold(h.Name, "Set-Cookie") {
			hdr.Add("Set-Cookie", h.Value)
			continue
		}
		hdr.Set(h.Name, h.Value)
	}
	w.WriteHeader(v.Reply.Status)
	if v.Reply.Body != "" {
		_, _ = w.Write([]byte(v.Reply.Body))
	}
}

// writeJSON sends {"error": reason} with status.
func writeJSON(w http.ResponseWriter, status int, reason string) {
	hdr := w.Header()
	hdr.Set(ReasonHeader, reason)
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"error":"` + reason + `"}`))
}

// newReverseProxy is the httputil.ReverseProxy of one upstream.
func (h *Handler) newReverseProxy(u *upstream) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { rewrite(pr, u) },
		Transport: u.transport,
		// Streams (ClearML's UI, server-sent events, downloads) reach the
		// client as the upstream writes them.
		FlushInterval: -1,
		ErrorHandler:  h.upstreamError,
		ErrorLog:      slog.NewLogLogger(h.log.Handler(), slog.LevelWarn),
	}
}
