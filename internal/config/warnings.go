package config

import (
	"bytes"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/internal/limitedfile"
)

// Warning is a risky but valid choice, named by the setting (or the
// environment variable) it is about. A warning never stops startup.
type Warning struct {
	Path string
	Msg  string
}

func (w Warning) String() string { return w.Path + ": " + w.Msg }

// Warnings are every warning about one configuration.
type Warnings []Warning

func (ws *Warnings) add(path, format string, args ...any) {
	*ws = append(*ws, Warning{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Warnings returns the risky combinations of c's settings, in a fixed
// order: cookies that would travel in the clear or be dropped, admission
// that anyone can meet at a public provider, secrets copied from
// gatehouse's own examples, credentials crossing the network unencrypted,
// a callback on a host the session cookie does not reach, and access lists
// that admit nobody. It contacts nothing; the only file it reads is
// admin.token_file, to compare it with the examples.
func (c *Config) Warnings() Warnings {
	var ws Warnings
	c.warnCookie(&ws)
	c.warnPublicProvider(&ws)
	c.warnExampleSecrets(&ws)
	c.warnPlainText(&ws)
	c.warnCallbackHost(&ws)
	if c.Session.Store == "redis" && c.Redis.RecordFormat == "v2" {
		ws.add("redis.record_format", `"v2": session records are written in the slower JSON format of earlier releases, for a rolling upgrade from one; set "v3" (the default) once every replica runs this release`)
	}
	if c.AdmitsNobody() {
		ws.add("access", "email_domains, emails and groups are empty and allow_any_authenticated is false: every signed-in user will get 403")
	}
	return ws
}

// warnCookie: a session cookie without Secure on an https site can leak
// over plain HTTP; one with Secure on a plain-HTTP site is dropped by
// browsers (except on localhost), so sign-in loops.
func (c *Config) warnCookie(ws *Warnings) {
	c.eachProvider(func(path string, p Provider) {
		u, err := url.Parse(p.RedirectURL)
		if err != nil || u.Host == "" {
			return
		}
		switch {
		case !c.Cookie.Secure && u.Scheme == "https":
			ws.add("cookie.secure", "false, but %sredirect_url is https: the session cookie would also be sent over plain HTTP, where anyone on the path can take it; set cookie.secure: true", path)
		case c.Cookie.Secure && u.Scheme == "http" && !isLoopbackHost(u.Hostname()):
			ws.add("cookie.secure", "true, but %sredirect_url is plain http on %s: browsers drop Secure cookies there, so sign-in cannot complete; serve gatehouse over https (cookie.secure: false only for development)", path, u.Hostname())
		}
	})
}

// publicProvider names the provider at issuer if anyone can get an account
// there: a sign-in at it proves nothing about who the person is.
func publicProvider(issuer string) (string, bool) {
	u, err := url.Parse(issuer)
	if err != nil {
		return "", false
	}
	host := strings.ToLower(u.Hostname())
	tenant, _, _ := strings.Cut(strings.TrimPrefix(strings.ToLower(u.Path), "/"), "/")
	switch {
	case host == "accounts.google.com":
		return "Google", true
	case host == "login.microsoftonline.com" && slices.Contains([]string{"common", "organizations", "consumers", "9188040d-6c67-4c5b-b112-36a304b66dad"}, tenant):
		return "Microsoft (the " + tenant + " endpoint, any tenant)", true
	case host == "github.com" || strings.HasSuffix(host, ".github.com"):
		return "GitHub", true
	case host == "gitlab.com":
		return "GitLab.com", true
	}
	return "", false
}

// warnPublicProvider: with a public provider, "any signed-in user" is
// anyone on the internet.
func (c *Config) warnPublicProvider(ws *Warnings) {
	c.eachProvider(func(path string, p Provider) {
		name, ok := publicProvider(p.IssuerURL)
		if !ok || p.Preset == "google" && len(p.Domains) > 0 { // hd restricts it to Workspace domains
			return
		}
		anyone := fmt.Sprintf("anyone can create an account at %s, so this admits anyone on the internet; list email_domains, emails or groups instead", name)
		if c.Access.AllowAnyAuthenticated {
			ws.add("access.allow_any_authenticated", "true with %sissuer_url at %s: %s", path, name, anyone)
		}
		for i, d := range c.Access.EmailDomains {
			if d == "*" {
				ws.add(indexPath("access.email_domains", i), `"*" with %sissuer_url at %s: %s`, path, name, anyone)
			}
		}
		for i, r := range c.Access.Rules {
			if r.Action == "authenticate" && (len(r.Providers) == 0 || slices.Contains(r.Providers, p.ID)) {
				ws.add(indexPath("access.rules", i), "action authenticate with %sissuer_url at %s: %s", path, name, anyone)
			}
		}
	})
}

// warnExampleSecrets: a secret copied from gatehouse's examples is public.
// The messages never show the secret.
func (c *Config) warnExampleSecrets(ws *Warnings) {
	const msg = "is an example value published in gatehouse's own repository, known to everyone: %s"
	c.eachProvider(func(path string, p Provider) {
		if p.ClientSecret != "" && isExampleSecret(p.ClientSecret) {
			ws.add(secretPath(p.ClientSecretFile, path+"client_secret"), msg, "use the secret your provider issued for this client")
		}
	})
	for i, s := range c.Cookie.Secrets {
		if _, err := decodeKey(s); err == nil && isExampleSecret(s) { // a bad key is a problem already
			ws.add(secretPath(c.Cookie.SecretsFile, indexPath("cookie.secrets", i)), msg, "generate your own with: openssl rand -base64 32")
		}
	}
	if c.Redis.Password != "" && isExampleSecret(c.Redis.Password) {
		ws.add(secretPath(c.Redis.PasswordFile, "redis.password"), msg, "set a password of your own on the Redis server")
	}
	if c.Admin.TokenFile != "" {
		// internal/admin reads and checks the token at startup; an
		// unreadable file is its problem to report.
		if tok, err := limitedfile.Read(c.Admin.TokenFile, 4096); err == nil && isExampleSecret(string(tok)) {
			ws.add("admin.token_file", msg, "generate your own with: openssl rand -hex 32")
		}
	}
}

// secretPath names a secret by the setting it came from.
func secretPath(file, path string) string {
	if file != "" {
		p, _, _ := strings.Cut(path, "[")
		return p + "_file"
	}
	return path
}

// isExampleSecret reports whether s is one of exampleSecrets, or, for a
// cookie key, decodes to the same bytes as one.
func isExampleSecret(s string) bool {
	s = strings.TrimSpace(s)
	k, kerr := decodeKey(s)
	for _, e := range exampleSecrets() {
		if s == e {
			return true
		}
		if ek, err := decodeKey(e); kerr == nil && err == nil && bytes.Equal(k, ek) {
			return true
		}
	}
	return false
}

// warnPlainText: credentials and identities crossing the network
// unencrypted.
func (c *Config) warnPlainText(ws *Warnings) {
	c.eachProvider(func(path string, p Provider) {
		if u, err := url.Parse(p.IssuerURL); err == nil && u.Scheme == "http" && u.Host != "" && !isLoopbackHost(u.Hostname()) {
			ws.add(path+"issuer_url", "plain http to %s: the client secret, tokens and signing keys cross the network unencrypted, and anyone on the path can forge them; use https", u.Hostname())
		}
	})
	if c.Session.Store == "redis" && !c.Redis.TLS.Enabled && c.Redis.Password != "" {
		for i, a := range c.Redis.Addrs {
			if host, _, err := net.SplitHostPort(a); err == nil && !isLoopbackHost(host) {
				ws.add("redis.tls.enabled", "false, but redis.password is set and %s (%s) is not on loopback: the password and the session records cross the network unencrypted", indexPath("redis.addrs", i), a)
				break
			}
		}
	}
	if c.Admin.Addr != "" && c.Admin.TLS.CertFile == "" {
		if host, _, err := net.SplitHostPort(c.Admin.Addr); err == nil && !isLoopbackHost(host) {
			ws.add("admin.addr", "%s is not loopback and admin.tls is not set: the admin token and /metrics cross the network unencrypted; set admin.tls or bind to 127.0.0.1", c.Admin.Addr)
		}
	}
}

// warnCallbackHost: the callback must be on a host the session cookie is
// set for, and, with http.public_url, on gatehouse's own host.
func (c *Config) warnCallbackHost(ws *Warnings) {
	c.eachProvider(func(path string, pr Provider) {
		u, err := url.Parse(pr.RedirectURL)
		if err != nil || u.Host == "" {
			return
		}
		callback := "/oauth2/callback"
		if path != "oidc." {
			callback += "/" + pr.ID
		}
		host := strings.ToLower(u.Hostname())
		if c.HTTP.PublicURL != "" {
			if p, err := url.Parse(c.HTTP.PublicURL); err == nil && p.Host != "" && !strings.EqualFold(p.Hostname(), host) {
				ws.add(path+"redirect_url", "on %s, but http.public_url is on %s: the provider sends people back to a host where gatehouse's /oauth2/ endpoints are not, or the login cookie is not; use %s%s",
					host, p.Hostname(), strings.TrimSuffix(c.HTTP.PublicURL, "/"), callback)
			}
		}
		if d := strings.ToLower(strings.TrimPrefix(c.Cookie.Domain, ".")); d != "" && host != d && !strings.HasSuffix(host, "."+d) {
			ws.add("cookie.domain", "%s does not cover %s, the host of %sredirect_url: browsers refuse the session cookie set at the callback", c.Cookie.Domain, host, path)
		}
	})
}

// isLoopbackHost reports whether host (a name or an address, without port)
// is this machine: localhost or a loopback address. An empty host (":9090")
// is every address, so not loopback.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
