package reverseproxy

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/pages"
	"github.com/gatehouse/gatehouse/internal/render"
)

// Reason codes of the replies this adapter makes itself (the decision
// core's are authz.Reason).
const (
	// ReasonUpstreamUnreachable: the upstream refused the connection, reset
	// it or answered something that is not HTTP (502).
	ReasonUpstreamUnreachable = "upstream_unreachable"
	// ReasonUpstreamTimeout: no connection or no response headers in time
	// (504).
	ReasonUpstreamTimeout = "upstream_timeout"
	reasonNoUpstream      = "no_upstream"
)

// upstreamError answers a request gatehouse allowed but the upstream did
// not serve: 504 when it did not answer in time, 502 otherwise, as the
// designed page for a browser and JSON for anyone else. A client that went
// away gets nothing.
func (h *Handler) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	fw, _ := r.Context().Value(forwardKey{}).(*forward)
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		h.log.LogAttrs(r.Context(), slog.LevelDebug, "client went away before the upstream answered", upstreamAttr(fw))
		return
	}
	status, reason := http.StatusBadGateway, ReasonUpstreamUnreachable
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		status, reason = http.StatusGatewayTimeout, ReasonUpstreamTimeout
	}
	h.log.LogAttrs(r.Context(), slog.LevelWarn, "upstream failed", slog.String("reason", reason), slog.Int("status", status),
		upstreamAttr(fw), slog.String("error", err.Error()))
	if fw == nil || !render.IsBrowser(fw.req) {
		writeJSON(w, status, reason)
		return
	}
	hdr := w.Header()
	pages.SetHeaders(hdr)
	hdr.Set(ReasonHeader, reason)
	w.WriteHeader(status)
	_, _ = w.Write(h.pages.Upstream(status, pages.UpstreamData{App: fw.upstream.name, Reason: reason, RetryURL: fw.req.URL()}))
}

func upstreamAttr(fw *forward) slog.Attr {
	if fw == nil || fw.upstream == nil {
		return slog.String("upstream", "")
	}
	name := fw.upstream.name
	if name == "" {
		name = fw.upstream.url.Host
	}
	return slog.String("upstream", name)
}
