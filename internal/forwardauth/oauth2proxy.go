package forwardauth

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/check"
	"github.com/gatehouse/gatehouse/internal/httpin"
)

// Compatibility names: the paths oauth2-proxy serves, so that nginx
// snippets written for it keep working.
const (
	// OAuth2AuthPath is oauth2-proxy's auth_request endpoint: the nginx
	// adapter, answering 202 instead of 200 on allow.
	OAuth2AuthPath = "/oauth2/auth"
	// UserInfoPath is oauth2-proxy's JSON view of the signed-in identity.
	UserInfoPath = "/oauth2/userinfo"
)

// OAuth2Auth serves OAuth2AuthPath as oauth2-proxy does for nginx's
// auth_request: 202 with the identity headers on allow, 401 (with the
// login URL in X-Auth-Request-Redirect) to sign in, 403 for every other
// refusal. It is the auth_request adapter: the original request is read
// from the headers oauth2-proxy's documented snippet sends (Host $host,
// X-Forwarded-Uri $request_uri, optionally X-Forwarded-Proto and
// X-Original-Method) or from X-Original-URL, never from both.
func (h *Handler) OAuth2Auth() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer, err := netip.ParseAddrPort(r.RemoteAddr)
		if err == nil && httpin.Trusted(h.trusted, peer.Addr()) {
			if err := asOriginalURL(r); err != nil {
				h.log.LogAttrs(r.Context(), slog.LevelWarn, "request refused",
					slog.String("reason", string(authz.ReasonBadRequest)), slog.String("error", err.Error()), slog.String("peer", r.RemoteAddr))
				v := check.Refused(authz.ReasonBadRequest)
				writeVerdict(w, v, authRequestStatus(v))
				return
			}
		}
		// An untrusted peer is refused by the adapter itself.
		h.authRequest(acceptedWriter{w}, r)
	})
}

// asOriginalURL rewrites an oauth2-proxy style sub-request into the
// X-Original-URL form the auth_request adapter reads. A description of
// the original request given twice, or not at all, is refused.
func asOriginalURL(r *http.Request) error {
	if r.URL.RawQuery != "" {
		// oauth2-proxy's allowed_groups / allowed_emails / ... query
		// parameters restrict further; ignoring them would open more.
		return fmt.Errorf("%w: query parameters of %s (allowed_groups, allowed_emails, ...) are not supported: express them as access rules", authz.ErrBadRequest, OAuth2AuthPath)
	}
	var orig, uri, fwdHost, proto, method, fwdMethod string
	if err := onlyValues(r.Header, []string{"X-Original-URL", "X-Forwarded-Uri", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Original-Method", "X-Forwarded-Method"},
		&orig, &uri, &fwdHost, &proto, &method, &fwdMethod); err != nil {
		return err
	}
	if method != "" && fwdMethod != "" && method != fwdMethod {
		return fmt.Errorf("%w: X-Original-Method and X-Forwarded-Method differ", authz.ErrBadRequest)
	}
	switch {
	case orig != "" && uri != "":
		return fmt.Errorf("%w: both X-Original-URL and X-Forwarded-Uri describe the request", authz.ErrBadRequest)
	case orig != "":
		return notOwnPath(r)
	case uri == "":
		return fmt.Errorf("%w: no X-Forwarded-Uri (set it to $request_uri, as oauth2-proxy's nginx snippet does)", authz.ErrBadRequest)
	}
	// The snippet sets Host to nginx's $host, what nginx routed on. A
	// client's own X-Forwarded-Host passes through nginx untouched, so a
	// different one is a second description of the request.
	if fwdHost != "" && !strings.EqualFold(fwdHost, r.Host) {
		return fmt.Errorf("%w: X-Forwarded-Host differs from Host", authz.ErrBadRequest)
	}
	if proto == "" {
		proto = "https"
	}
	if !strings.EqualFold(proto, "http") && !strings.EqualFold(proto, "https") {
		return fmt.Errorf("%w: X-Forwarded-Proto must be http or https", authz.ErrBadRequest)
	}
	if !strings.HasPrefix(uri, "/") {
		return fmt.Errorf("%w: X-Forwarded-Uri must be a path", authz.ErrBadRequest)
	}
	r.Header.Set("X-Original-URL", strings.ToLower(proto)+"://"+r.Host+uri)
	if method == "" {
		method = fwdMethod
	}
	if method != "" {
		r.Header.Set("X-Original-Method", method)
	}
	for _, k := range []string{"X-Forwarded-Uri", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Method"} {
		r.Header.Del(k)
	}
	return notOwnPath(r)
}

// notOwnPath refuses a check that describes a request for /oauth2/
// itself. The proxy routes /oauth2/ to gatehouse without a check, so
// only a client calling /oauth2/auth directly (it is not an internal
// location in oauth2-proxy's snippet) asks this, and the allow's answer
// would show it its own identity headers, an access token too.
func notOwnPath(r *http.Request) error {
	req, err := fromOriginalURL(r)
	if err != nil {
		return nil // the adapter refuses it with the reason
	}
	if req.Path == "/oauth2" || strings.HasPrefix(req.Path, "/oauth2/") {
		return fmt.Errorf("%w: a check of gatehouse's own %s: a direct call, not a proxy's sub-request", authz.ErrBadRequest, req.Path)
	}
	return nil
}

// acceptedWriter answers 202 Accepted where the auth_request adapter
// answers 200, as oauth2-proxy's /oauth2/auth does.
type acceptedWriter struct{ http.ResponseWriter }

func (a acceptedWriter) WriteHeader(code int) {
	if code == http.StatusOK {
		code = http.StatusAccepted
	}
	a.ResponseWriter.WriteHeader(code)
}

// UserInfo serves UserInfoPath as oauth2-proxy does: the signed-in
// identity as JSON ({"user", "email", "groups", "preferredUsername"}),
// from the session cookie only (never a bearer token); 401 without a live
// session, 503 when the session store cannot answer.
func UserInfo(c *check.Checker) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		state, id := c.SessionIdentity(r.Context(), httpin.Credentials(r).Cookie)
		switch state {
		case authz.ValidSession:
		case authz.StoreFailed:
			http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
			return
		default:
			http.Error(w, http.StatusText(http.StatusUnauthorized), http.StatusUnauthorized)
			return
		}
		body := struct {
			User              string   `json:"user"`
			Email             string   `json:"email"`
			Groups            []string `json:"groups,omitempty"`
			PreferredUsername string   `json:"preferredUsername,omitempty"`
		}{id.User, id.Email, id.Groups, id.PreferredUsername}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_ = json.NewEncoder(w).Encode(body)
	})
}
