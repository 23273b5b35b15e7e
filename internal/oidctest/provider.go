package oidctest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// User is an account of the provider.
type User struct {
	// Subject is the stable user ID, the "sub" claim. It may not contain ':'.
	Subject           string
	Email             string
	EmailVerified     bool
	Groups            []string
	PreferredUsername string
	// Password is what the login form accepts, with Subject or
	// PreferredUsername as the username.
	Password string
}

// Client is the one registered confidential client (client_secret_basic
// or client_secret_post).
type Client struct {
	ID     string
	Secret string
	// RedirectURIs must match the redirect_uri of a request exactly;
	// http://127.0.0.1:<port>/... is fine.
	RedirectURIs []string
	// PostLogoutRedirectURIs lists the accepted post_logout_redirect_uri values.
	PostLogoutRedirectURIs []string
	// BackchannelLogoutURI, if set, receives a logout token (OIDC
	// Back-Channel Logout 1.0) for each provider session ended at the
	// end_session endpoint; see LogoutDeliveries.
	BackchannelLogoutURI string
}

// The client registered when Options.Client.ID is empty.
const (
	DefaultClientID     = "gatehouse"
	DefaultClientSecret = "gatehouse-test-secret"
)

// Options configure a Provider. Every field is optional.
type Options struct {
	// Addr is the loopback address to listen on; default "127.0.0.1:0".
	Addr string
	// AllowPublic lets Addr be any address, not only a loopback IP. Only
	// the development provider sets it, on its --allow-public flag.
	AllowPublic bool
	// Issuer overrides the issuer URL; default "http://" + the listen address.
	Issuer string
	Users  []User
	Client Client
	// ClaimsInUserinfoOnly leaves email, email_verified, preferred_username
	// and groups out of the ID token, so clients must call userinfo.
	ClaimsInUserinfoOnly bool
	// Lifetimes; defaults: ID and access tokens 5 minutes, refresh tokens 1 hour.
	IDTokenLifetime      time.Duration
	AccessTokenLifetime  time.Duration
	RefreshTokenLifetime time.Duration
}

// Provider is a running OpenID provider. Its methods are safe for
// concurrent use.
type Provider struct {
	issuer   string
	server   *http.Server
	listener net.Listener
	op       *op.Provider
	storage  *storage
	closed   sync.Once
	served   chan struct{}
}

// TB is the part of testing.TB that Start uses.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// Start is New for tests: it fails t on error and closes the provider when
// the test ends.
func Start(t TB, opts Options) *Provider {
	t.Helper()
	p, err := New(opts)
	if err != nil {
		t.Fatalf("oidctest: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// New starts a provider listening on opts.Addr.
func New(opts Options) (*Provider, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("oidctest: address %q: %w", opts.Addr, err)
	}
	if ip := net.ParseIP(host); !opts.AllowPublic && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("oidctest: address %q: only loopback IP addresses are allowed", opts.Addr)
	}
	if opts.Client.ID == "" {
		opts.Client.ID, opts.Client.Secret = DefaultClientID, DefaultClientSecret
	}
	for _, u := range opts.Users {
		if err := checkUser(u); err != nil {
			return nil, err
		}
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("oidctest: generate signing key: %w", err)
	}
	var cryptoKey [32]byte
	if _, err := rand.Read(cryptoKey[:]); err != nil {
		return nil, fmt.Errorf("oidctest: generate token key: %w", err)
	}
	st := newStorage(key, opts)

	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("oidctest: listen: %w", err)
	}
	issuer := opts.Issuer
	if issuer == "" {
		issuer = "http://" + ln.Addr().String()
	}
	issuer = strings.TrimSuffix(issuer, "/")

	provider, err := op.NewProvider(&op.Config{
		CryptoKey:                cryptoKey,
		DefaultLogoutRedirectURI: pathLoggedOut,
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
		// Logout tokens come from LogoutToken and, with
		// Client.BackchannelLogoutURI, from end_session.
		BackChannelLogoutSupported:        true,
		BackChannelLogoutSessionSupported: true,
		SupportedScopes:                   []string{"openid", "profile", "email", "groups", "offline_access"},
	}, st, op.StaticIssuer(issuer), op.WithAllowInsecure())
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("oidctest: create provider: %w", err)
	}

	p := &Provider{issuer: issuer, listener: ln, op: provider, storage: st, served: make(chan struct{})}
	st.onTerminate = func(ctx context.Context, subject string, sids []string) {
		if uri := p.Client().BackchannelLogoutURI; uri != "" {
			p.sendLogouts(ctx, uri, subject, sids)
		}
	}
	mux := http.NewServeMux()
	page, err := template.New("login").Parse(loginHTML)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("oidctest: login page: %w", err)
	}
	ui := &loginUI{page: page, storage: st, callback: op.AuthCallbackURL(provider)}
	interceptor := op.NewIssuerInterceptor(provider.IssuerFromRequest)
	mux.Handle(pathLogin, interceptor.HandlerFunc(ui.ServeHTTP))
	mux.HandleFunc(pathLoggedOut, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("signed out\n"))
	})
	mux.Handle("/", provider)
	p.server = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		defer close(p.served)
		_ = p.server.Serve(ln)
	}()
	return p, nil
}

func checkUser(u User) error {
	if u.Subject == "" || strings.ContainsAny(u.Subject, ":") {
		return fmt.Errorf("oidctest: user subject %q must be non-empty and free of ':'", u.Subject)
	}
	return nil
}

// Issuer returns the issuer URL, e.g. "http://127.0.0.1:41234".
func (p *Provider) Issuer() string { return p.issuer }

// ListenURL returns "http://" + the address the provider listens on; it
// differs from Issuer when Options.Issuer is set (a proxy in front).
func (p *Provider) ListenURL() string { return "http://" + p.listener.Addr().String() }

// Client returns the registered client, with its current redirect URIs.
func (p *Provider) Client() Client {
	p.storage.mu.Lock()
	defer p.storage.mu.Unlock()
	c := p.storage.client
	c.RedirectURIs = slices.Clone(c.RedirectURIs)
	c.PostLogoutRedirectURIs = slices.Clone(c.PostLogoutRedirectURIs)
	return c
}

// AddRedirectURI registers another redirect_uri for the client, typically
// the callback of a server started after the provider.
func (p *Provider) AddRedirectURI(uri string) {
	p.storage.mu.Lock()
	defer p.storage.mu.Unlock()
	p.storage.client.RedirectURIs = append(p.storage.client.RedirectURIs, uri)
}

// AddPostLogoutRedirectURI registers another post_logout_redirect_uri.
func (p *Provider) AddPostLogoutRedirectURI(uri string) {
	p.storage.mu.Lock()
	defer p.storage.mu.Unlock()
	p.storage.client.PostLogoutRedirectURIs = append(p.storage.client.PostLogoutRedirectURIs, uri)
}

// SetUser adds u, or replaces the user with the same Subject.
func (p *Provider) SetUser(u User) error {
	if err := checkUser(u); err != nil {
		return err
	}
	p.storage.mu.Lock()
	defer p.storage.mu.Unlock()
	p.storage.users[u.Subject] = u
	return nil
}

// SetClaimsInUserinfoOnly switches, for tokens issued from now on, between
// identity claims in the ID token (false) and only from userinfo (true).
func (p *Provider) SetClaimsInUserinfoOnly(on bool) { p.storage.userinfoOnly.Store(on) }

// EndedSessions returns the subjects whose sessions were ended through the
// end_session endpoint, oldest first.
func (p *Provider) EndedSessions() []string {
	p.storage.mu.Lock()
	defer p.storage.mu.Unlock()
	return slices.Clone(p.storage.ended)
}

// TokenRequests returns how many requests the token endpoint granted
// (code and refresh), a way for tests to see whether a client called it.
func (p *Provider) TokenRequests() int64 { return p.storage.granted.Load() }

// RefreshRequests returns how many refresh-token grants reached the
// provider, granted or refused.
func (p *Provider) RefreshRequests() int64 { return p.storage.refreshTried.Load() }

// Revoke drops every access and refresh token of the user with subject,
// as an administrator disabling the account would: refreshes then fail
// with invalid_grant. It sends no logout tokens.
func (p *Provider) Revoke(subject string) { p.storage.revoke(subject, "") }

// SetBackchannelLogoutURI sets (or, with "", clears) the client's
// back-channel logout URI; see Client.BackchannelLogoutURI.
func (p *Provider) SetBackchannelLogoutURI(uri string) {
	p.storage.mu.Lock()
	defer p.storage.mu.Unlock()
	p.storage.client.BackchannelLogoutURI = uri
}

// Close stops the server at once, dropping open connections.
func (p *Provider) Close() error {
	var err error
	p.closed.Do(func() {
		err = p.server.Close()
		<-p.served
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
	})
	return err
}
