package main

import (
	"io"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/assertion"
	"github.com/gatehouse/gatehouse/internal/forwardauth"
	"github.com/gatehouse/gatehouse/internal/login"
)

// Handler returns the public HTTP handler: gatehouse's own endpoints, and
// in reverse-proxy mode (upstreams set) the proxy for everything else.
func (a *app) Handler() http.Handler {
	if a.proxy != nil {
		return a.proxy
	}
	return a.ownHandler()
}

// ownPaths are the paths gatehouse answers itself in reverse-proxy mode;
// every other path goes to an upstream. The /authz/ endpoints are not
// among them: behind the TLS proxy every client would reach them as a
// trusted proxy and could read its own identity headers (an access token,
// with headers.access_token) from their answers.
func (a *app) ownPaths() []string {
	ps := []string{"/oauth2/", "/healthz", "/readyz", "/ping", "/ready"}
	if a.access.jwks() != nil {
		ps = append(ps, assertion.JWKSPath)
	}
	return ps
}

// ownHandler serves gatehouse's own endpoints.
func (a *app) ownHandler() http.Handler {
	mux := http.NewServeMux()
	fa := forwardauth.NewHandler(a.checker, forwardauth.Options{TrustedProxies: a.cfg.TrustedPrefixes(), Logger: a.log, Observer: a.metrics})
	mux.Handle(forwardauth.ForwardAuthPath, a.tracer.HTTP("gatehouse.check forward_auth", fa))
	mux.Handle(forwardauth.AuthRequestPath, a.tracer.HTTP("gatehouse.check auth_request", fa))
	mux.Handle(forwardauth.DeniedPagePath, a.tracer.HTTP("gatehouse.check forward_auth", fa))
	// oauth2-proxy's names for the same things, for snippets written for it.
	if len(a.cfg.Upstreams) == 0 {
		mux.Handle(forwardauth.OAuth2AuthPath, a.tracer.HTTP("gatehouse.check auth_request", fa.OAuth2Auth()))
	} else {
		// In reverse-proxy mode /oauth2/ is reached by every client through
		// the TLS proxy, a trusted address: as for /authz/, the answer would
		// show the client its own identity headers (an access token too).
		mux.Handle(forwardauth.OAuth2AuthPath, http.NotFoundHandler())
	}
	mux.Handle(forwardauth.UserInfoPath, forwardauth.UserInfo(a.checker))
	mux.HandleFunc("/ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "OK")
	})
	mux.HandleFunc("/ready", a.readyz)
	mux.Handle(login.StartPath, a.tracer.HTTP("gatehouse.login start", a.login))
	mux.Handle(login.CallbackPath, a.tracer.HTTP("gatehouse.login callback", a.login))
	mux.Handle(login.SignOutPath, a.tracer.HTTP("gatehouse.login sign_out", a.login))
	mux.Handle(login.SignInPath, a.login.SignInHandler())
	mux.Handle(login.SignedOutPath, a.login.SignedOutHandler())
	mux.Handle("/oauth2/", a.login)
	if h := a.access.jwks(); h != nil {
		mux.Handle(assertion.JWKSPath, h)
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/readyz", a.readyz)
	return mux
}
