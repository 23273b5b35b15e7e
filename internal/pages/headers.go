package pages

import "net/http"

// CSP is the Content-Security-Policy of every page: nothing loads but the
// inline style and data: images, no script runs, forms post only to
// gatehouse's own origin, and no other site may frame the page.
const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// ContentType is the media type of every page.
const ContentType = "text/html; charset=utf-8"

// Headers are the headers every page is sent with, in a fixed order:
// content type, CSP, no sniffing, no framing, no caching, no referrer.
func Headers() [][2]string {
	return [][2]string{
		{"Content-Type", ContentType},
		{"Content-Security-Policy", CSP},
		{"X-Content-Type-Options", "nosniff"},
		{"X-Frame-Options", "DENY"},
		{"Cache-Control", "no-store"},
		{"Referrer-Policy", "no-referrer"},
	}
}

// SetHeaders sets Headers on h.
func SetHeaders(h http.Header) {
	for _, kv := range Headers() {
		h.Set(kv[0], kv[1])
	}
}

// Write sends body as a page with status.
func Write(w http.ResponseWriter, status int, body []byte) {
	SetHeaders(w.Header())
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
