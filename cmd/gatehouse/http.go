package main

import (
	"io"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/assertion"
	"github.com/gatehouse/gatehouse/internal/forwardauth"
	"github.com/gatehouse/gatehouse/internal/login"
)

// Handler returns the public HTTP handler.
func (a *app) Handler() http.Handler {
	mux := http.NewServeMux()
	fa := forwardauth.NewHandler(a.checker, forwardauth.Options{TrustedProxies: a.cfg.TrustedPrefixes(), Logger: a.log, Observer: a.metrics})
	mux.Handle(forwardauth.ForwardAuthPath, a.tracer.HTTP("gatehouse.check forward_auth", fa))
	mux.Handle(forwardauth.AuthRequestPath, a.tracer.HTTP("gatehouse.check auth_request", fa))
	mux.Handle(login.StartPath, a.tracer.HTTP("gatehouse.login start", a.login))
	mux.Handle(login.CallbackPath, a.tracer.HTTP("gatehouse.login callback", a.countLogins(a.login)))
	mux.Handle(login.SignOutPath, a.tracer.HTTP("gatehouse.login sign_out", a.countLogouts("local", a.login)))
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

// countLogins records each login callback's result: a redirect to the
// return URL is a login, anything else a failure.
func (a *app) countLogins(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		a.metrics.Login(sw.status == http.StatusFound || sw.status == http.StatusSeeOther)
	})
}

// countLogouts records each sign-out of kind: a redirect (to the return
// URL or the provider); the sign-out confirmation page (200) is not one.
func (a *app) countLogouts(kind string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if sw.status == http.StatusFound || sw.status == http.StatusSeeOther {
			a.metrics.Logout(kind)
		}
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}
