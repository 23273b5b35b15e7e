// Package demo holds the pieces of "gatehouse-dev demo" and
// "gatehouse-dev dev-provider" that are not gatehouse itself: the
// development OpenID provider (its file and flag settings, checks, and the
// gatehouse oidc: snippet it prints), a front proxy that consults gatehouse
// the way Traefik's ForwardAuth middleware does, and an upstream app that
// shows the identity headers it received. They are for trying gatehouse
// out, never for production, and are not linked into cmd/gatehouse.
package demo

import (
	"context"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"time"
)

// ForwardAuthProxy is a small reverse proxy in front of an app. For each
// request it asks the forward-auth endpoint; on 2xx it copies the identity
// headers into the request (removing whatever the client sent under those
// names) and proxies to the app; otherwise it returns gatehouse's answer to
// the client as it is. Requests under /oauth2/ go to gatehouse itself.
type ForwardAuthProxy struct {
	authURL         string   // e.g. http://127.0.0.1:4180/authz/forward-auth
	responseHeaders []string // identity headers copied from the auth reply
	app             *httputil.ReverseProxy
	gatehouse       *httputil.ReverseProxy
	client          *http.Client
}

// NewForwardAuthProxy returns a proxy for app that asks gatehouse (its base
// URL) about every request and copies responseHeaders to the app.
func NewForwardAuthProxy(gatehouse, app *url.URL, responseHeaders []string) *ForwardAuthProxy {
	return &ForwardAuthProxy{
		authURL:         gatehouse.JoinPath("/authz/forward-auth").String(),
		responseHeaders: responseHeaders,
		app:             newReverseProxy(app),
		gatehouse:       newReverseProxy(gatehouse),
		client: &http.Client{
			Timeout:       5 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

func newReverseProxy(target *url.URL) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host // keep the public host, as Traefik does
			r.SetXForwarded()
		},
	}
}

// ServeHTTP implements http.Handler.
func (p *ForwardAuthProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/oauth2/") {
		p.gatehouse.ServeHTTP(w, r)
		return
	}
	resp, err := p.ask(r.Context(), r)
	if err != nil {
		http.Error(w, "authentication service unavailable", http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		for k, vs := range resp.Header {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, io.LimitReader(resp.Body, 1<<20))
		return
	}
	out := r.Clone(r.Context())
	for _, name := range p.responseHeaders {
		out.Header.Del(name)
		if vs := resp.Header.Values(name); len(vs) > 0 {
			out.Header[http.CanonicalHeaderKey(name)] = vs
		}
	}
	p.app.ServeHTTP(w, out)
}

func (p *ForwardAuthProxy) ask(ctx context.Context, r *http.Request) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.authURL, nil)
	if err != nil {
		return nil, err
	}
	for _, name := range []string{"Cookie", "Accept", "Authorization", "User-Agent", "Sec-Fetch-Mode", "X-Requested-With"} {
		if v := r.Header.Values(name); len(v) > 0 {
			req.Header[name] = v
		}
	}
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	req.Header.Set("X-Forwarded-Method", r.Method)
	req.Header.Set("X-Forwarded-Proto", proto)
	req.Header.Set("X-Forwarded-Host", r.Host)
	req.Header.Set("X-Forwarded-Uri", r.URL.RequestURI())
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		req.Header.Set("X-Forwarded-For", host)
	}
	return p.client.Do(req)
}

// App is the demo upstream: a page that shows who gatehouse says the user is
// and every header the app received.
func App() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		names := make([]string, 0, len(r.Header))
		for k := range r.Header {
			names = append(names, k)
		}
		sort.Strings(names)
		var rows []headerRow
		for _, k := range names {
			v := strings.Join(r.Header.Values(k), ", ")
			if strings.EqualFold(k, "Cookie") {
				v = "(hidden)"
			}
			rows = append(rows, headerRow{k, v, strings.HasPrefix(k, "X-Auth-Request-")})
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_ = appPage.Execute(w, appData{
			Email:  r.Header.Get("X-Auth-Request-Email"),
			User:   r.Header.Get("X-Auth-Request-User"),
			Groups: r.Header.Get("X-Auth-Request-Groups"),
			URL:    r.URL.RequestURI(),
			Rows:   rows,
		})
	})
}

type headerRow struct {
	Name, Value string
	Identity    bool
}

type appData struct {
	Email, User, Groups, URL string
	Rows                     []headerRow
}

var appPage = template.Must(template.New("app").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gatehouse demo app</title>
<style>body{font-family:sans-serif;max-width:52rem;margin:2rem auto}td{padding:2px 8px;font-family:monospace}tr.id{background:#e8f4e8}</style></head>
<body><p><b>gatehouse demo — not for production.</b></p>
<h1 id="who">Signed in as {{.Email}}</h1>
<p>User: <span id="user">{{.User}}</span>, groups: <span id="groups">{{.Groups}}</span>, page: <code id="url">{{.URL}}</code></p>
<p><a href="/oauth2/sign_out?rd=/">Sign out</a></p>
<h2>Headers this app received</h2>
<table>{{range .Rows}}<tr{{if .Identity}} class="id"{{end}}><td>{{.Name}}</td><td>{{.Value}}</td></tr>{{end}}</table>
</body></html>
`))

// String describes the proxy, for logs.
func (p *ForwardAuthProxy) String() string {
	return fmt.Sprintf("forward-auth proxy via %s", p.authURL)
}
