package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"time"

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

// readyz reports ready when the store answers and provider discovery has
// loaded; it names what is not ready.
func (a *app) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var problems []string
	if err := a.store.Ping(ctx); err != nil {
		problems = append(problems, "session store: unreachable")
		a.log.Warn("not ready", "component", "session_store", "error", err.Error())
	}
	if err := a.login.Ready(ctx); err != nil {
		problems = append(problems, "oidc provider: discovery not loaded")
		a.log.Warn("not ready", "component", "oidc", "error", err.Error())
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if a.reloader != nil {
		// A bad policy file keeps the last good policy in force: still
		// ready, but say so.
		if st := a.reloader.Status(); st.LastError != "" {
			w.Header().Set("X-Gatehouse-Policy", "stale")
			defer io.WriteString(w, "policy file: last reload failed, previous policy in force: "+st.LastError+"\n")
		}
	}
	if len(problems) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, strings.Join(problems, "\n")+"\n")
		return
	}
	_, _ = io.WriteString(w, "ready\n")
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

// countLogouts records each successful sign-out of kind.
func (a *app) countLogouts(kind string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if sw.status < 400 {
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
