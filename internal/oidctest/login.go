package oidctest

import (
	"context"
	"html/template"
	"net/http"
)

// Paths of the provider's own pages, beside the OP endpoints.
const (
	pathLogin     = "/login"
	pathLoggedOut = "/logged-out"
)

const loginHTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>oidctest sign-in</title></head>
<body><h1>oidctest sign-in</h1>
{{if .Error}}<p role="alert">{{.Error}}</p>{{end}}
<form method="post" action="/login">
<input type="hidden" name="id" value="{{.ID}}">
<p><label>Username <input name="username" autocomplete="username" autofocus></label></p>
<p><label>Password <input name="password" type="password" autocomplete="current-password"></label></p>
<p><button type="submit">Sign in</button></p>
</form></body></html>
`

// loginUI is the provider's login form: GET shows it for an authorization
// request ID, POST checks the credentials and sends the browser back to the
// OP, which then redirects to the client with a code.
type loginUI struct {
	page     *template.Template
	storage  *storage
	callback func(ctx context.Context, requestID string) string
}

func (l *loginUI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	switch r.Method {
	case http.MethodGet:
		l.render(w, http.StatusOK, r.URL.Query().Get("id"), "")
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		id := r.PostForm.Get("id")
		ok, err := l.storage.finishLogin(id, r.PostForm.Get("username"), r.PostForm.Get("password"))
		if err != nil {
			http.Error(w, "unknown or finished sign-in request", http.StatusBadRequest)
			return
		}
		if !ok {
			l.render(w, http.StatusUnauthorized, id, "Wrong username or password.")
			return
		}
		http.Redirect(w, r, l.callback(r.Context(), id), http.StatusFound)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (l *loginUI) render(w http.ResponseWriter, status int, id, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = l.page.Execute(w, struct{ ID, Error string }{id, msg})
}
