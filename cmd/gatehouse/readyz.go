package main

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"
)

// readyTimeout bounds the dependency checks of one /readyz.
const readyTimeout = 2 * time.Second

// The component names /readyz reports, also the "component" log field.
const (
	componentStore      = "session_store"
	componentOIDC       = "oidc"
	componentPolicyFile = "policy_file"
)

// problem is one component that is not ready (or, for the policy file,
// stale), with the error behind it. The error is for the log and the admin
// listener only: it can hold addresses, file paths and policy content.
type problem struct {
	component string
	err       error
}

// readiness checks the session store and provider discovery, and reports
// them as problems when they fail, then the policy file when its last
// reload failed. ready is false when any dependency failed; a stale policy
// file alone leaves gatehouse ready, since the previous policy stays in
// force.
func (a *app) readiness(ctx context.Context) (ready bool, problems []problem, stale *problem) {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if err := a.store.Ping(ctx); err != nil {
		problems = append(problems, problem{componentStore, err})
	}
	if err := a.login.Ready(ctx); err != nil {
		problems = append(problems, problem{componentOIDC, err})
	}
	if a.reloader != nil {
		if st := a.reloader.Status(); st.LastError != "" {
			stale = &problem{componentPolicyFile, errors.New(st.LastError)}
		}
	}
	return len(problems) == 0, problems, stale
}

// readyz is the public listener's /readyz: 200 "ready" or 503 "not ready:"
// with the names of the components that are not, one line
// "policy_file: stale" (and the X-Gatehouse-Policy: stale header) when the
// policy file's last reload failed. It never shows an error: those are
// logged, and shown by the admin listener's /readyz (readyzDetail).
func (a *app) readyz(w http.ResponseWriter, r *http.Request) {
	ready, problems, stale := a.readiness(r.Context())
	for _, p := range problems {
		a.log.Warn("not ready", "component", p.component, "error", p.err.Error())
	}
	var b strings.Builder
	if ready {
		b.WriteString("ready\n")
	} else {
		names := make([]string, len(problems))
		for i, p := range problems {
			names[i] = p.component
		}
		b.WriteString("not ready: " + strings.Join(names, ", ") + "\n")
	}
	if stale != nil {
		b.WriteString(stale.component + ": stale\n")
	}
	writeReadiness(w, ready, stale != nil, b.String())
}

// readyzDetail is the admin listener's /readyz: the same status and first
// line as the public one, then one line per problem with its error.
func (a *app) readyzDetail(w http.ResponseWriter, r *http.Request) {
	ready, problems, stale := a.readiness(r.Context())
	var b strings.Builder
	if ready {
		b.WriteString("ready\n")
	} else {
		b.WriteString("not ready\n")
	}
	for _, p := range problems {
		b.WriteString(p.component + ": " + oneLine(p.err.Error()) + "\n")
	}
	if stale != nil {
		b.WriteString(stale.component + ": stale: " + oneLine(stale.err.Error()) + "\n")
	}
	writeReadiness(w, ready, stale != nil, b.String())
}

func writeReadiness(w http.ResponseWriter, ready, stale bool, body string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if stale {
		h.Set("X-Gatehouse-Policy", "stale")
	}
	if !ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_, _ = w.Write([]byte(body))
}

// oneLine folds a multi-line error (a configuration's list of problems)
// onto one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
