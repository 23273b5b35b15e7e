package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/gatehouse/gatehouse/internal/oidctest"
)

// Users are the demo's accounts: alice is admitted, bob is signed in but
// refused.
var Users = []ProviderUser{
	{Name: "alice", Password: "alice", Email: "alice@example.com", Groups: []string{"ml-team"}},
	{Name: "bob", Password: "bob", Email: "bob@example.org"},
}

// IdentityHeaders are the headers the front proxy copies from gatehouse's
// answer to the app: gatehouse's default headers.* names, which the demo's
// settings (Demo.Env) leave as they are.
var IdentityHeaders = []string{"X-Auth-Request-User", "X-Auth-Request-Email", "X-Auth-Request-Groups", "X-Auth-Request-Preferred-Username"}

// Demo is a prepared demo: its front listener, the development provider
// (already serving), and the settings gatehouse needs to serve it.
type Demo struct {
	// URL is the front proxy's URL, the one to open in a browser.
	URL string
	// Provider is the development provider, with Users.
	Provider *oidctest.Provider
	// Env holds the GATEHOUSE_* settings of the gatehouse behind the demo,
	// except GATEHOUSE_HTTP_ADDR, which the caller chooses.
	Env map[string]string

	front net.Listener
}

// New listens on addr (the front proxy) and starts the development provider
// on providerAddr, both of which must be loopback addresses.
func New(addr, providerAddr string) (_ *Demo, err error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || !isLoopbackHost(host) {
		return nil, fmt.Errorf("--addr %q: the demo listens only on a loopback address (127.0.0.1:PORT)", addr)
	}
	front, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--addr: %w", err)
	}
	defer func() {
		if err != nil {
			front.Close()
		}
	}()
	frontURL := "http://" + front.Addr().String()
	frontHost, _, _ := net.SplitHostPort(front.Addr().String())

	provider, err := StartProvider(ProviderConfig{
		Listen:                 providerAddr,
		ClientID:               "gatehouse-demo",
		RedirectURIs:           []string{frontURL + "/oauth2/callback"},
		PostLogoutRedirectURIs: []string{frontURL + "/"},
		Users:                  Users,
	})
	if err != nil {
		return nil, fmt.Errorf("--provider-addr: %w", err)
	}
	cookieKey, err := RandomToken()
	if err != nil {
		provider.Close()
		return nil, err
	}
	return &Demo{
		URL:      frontURL,
		Provider: provider,
		front:    front,
		Env: map[string]string{
			"GATEHOUSE_OIDC_ISSUER_URL":          provider.Issuer(),
			"GATEHOUSE_OIDC_CLIENT_ID":           provider.Client().ID,
			"GATEHOUSE_OIDC_CLIENT_SECRET":       provider.Client().Secret,
			"GATEHOUSE_OIDC_REDIRECT_URL":        frontURL + "/oauth2/callback",
			"GATEHOUSE_COOKIE_SECRETS":           cookieKey,
			"GATEHOUSE_COOKIE_SECURE":            "false",
			"GATEHOUSE_REDIRECT_ALLOWED_DOMAINS": frontHost,
			"GATEHOUSE_ACCESS_EMAIL_DOMAINS":     "example.com",
			"GATEHOUSE_HTTP_SHUTDOWN_TIMEOUT":    "2s",
		},
	}, nil
}

// Serve runs the demo app and the front proxy, which asks the gatehouse at
// gatehouseURL about every request, until ctx ends.
func (d *Demo) Serve(ctx context.Context, gatehouseURL *url.URL) error {
	appLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo app: %w", err)
	}
	appSrv := &http.Server{Handler: App(), ReadHeaderTimeout: 5 * time.Second}
	proxy := NewForwardAuthProxy(gatehouseURL, &url.URL{Scheme: "http", Host: appLn.Addr().String()}, IdentityHeaders)
	frontSrv := &http.Server{Handler: proxy, ReadHeaderTimeout: 5 * time.Second}

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return served(appSrv.Serve(appLn)) })
	g.Go(func() error { return served(frontSrv.Serve(d.front)) })
	g.Go(func() error {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return errors.Join(frontSrv.Shutdown(sctx), appSrv.Shutdown(sctx))
	})
	return g.Wait()
}

func served(err error) error {
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops the provider and closes the front listener if Serve did not
// run.
func (d *Demo) Close() error {
	d.front.Close()
	return d.Provider.Close()
}
