package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/demo"
	"github.com/gatehouse/gatehouse/internal/oidctest"
)

// demoUsers are the accounts of the demo provider: one admitted, one not.
var demoUsers = []oidctest.User{
	{Subject: "alice", Email: "alice@example.com", EmailVerified: true, PreferredUsername: "alice", Groups: []string{"ml-team"}, Password: "alice"},
	{Subject: "bob", Email: "bob@example.org", EmailVerified: true, PreferredUsername: "bob", Password: "bob"},
}

// demoSetup is what a running demo tells its caller.
type demoSetup struct {
	URL      string // the front proxy, to open in a browser
	Provider *oidctest.Provider
}

func demoCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo [--addr HOST:PORT] [--provider-addr HOST:PORT]",
		"Starts, on loopback, everything needed to try gatehouse: a development OpenID\n"+
			"provider with demo users, gatehouse on the in-memory session store, a demo app\n"+
			"that shows the identity headers it receives, and a small front proxy that asks\n"+
			"gatehouse about every request the way Traefik's ForwardAuth does.\n"+
			"NOT FOR PRODUCTION: the provider accepts fixed passwords and cookies are not Secure.", stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "address of the front proxy (the URL to open)")
	providerAddr := fs.String("provider-addr", "127.0.0.1:9000", "address of the demo OpenID provider")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return runDemo(ctx, *addr, *providerAddr, stderr, func(s demoSetup) {
		fmt.Fprintf(stdout, `
  gatehouse demo — NOT FOR PRODUCTION

  Open:  %s/dashboard?tab=runs

  Demo logins (username / password):
    alice / alice   alice@example.com, admitted (access.email_domains: example.com)
    bob   / bob     bob@example.org, signed in but refused with 403

  Sign out: %s/oauth2/sign_out
  OpenID provider: %s
  Stop with Ctrl-C.

`, s.URL, s.URL, s.Provider.Issuer())
	})
}

// runDemo starts the demo and blocks until ctx ends. started is called once
// everything listens.
func runDemo(ctx context.Context, addr, providerAddr string, logw io.Writer, started func(demoSetup)) error {
	logger := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelInfo}))

	front, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	defer front.Close()
	frontURL := "http://" + front.Addr().String()
	frontHost, _, _ := net.SplitHostPort(front.Addr().String())

	provider, err := oidctest.New(oidctest.Options{
		Addr:  providerAddr,
		Users: demoUsers,
		Client: oidctest.Client{
			ID:                     "gatehouse-demo",
			Secret:                 randomToken(),
			RedirectURIs:           []string{frontURL + "/oauth2/callback"},
			PostLogoutRedirectURIs: []string{frontURL + "/"},
		},
	})
	if err != nil {
		return fmt.Errorf("--provider-addr: %w", err)
	}
	defer provider.Close()

	ghLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	env := map[string]string{
		"GATEHOUSE_HTTP_ADDR":                ghLn.Addr().String(),
		"GATEHOUSE_OIDC_ISSUER_URL":          provider.Issuer(),
		"GATEHOUSE_OIDC_CLIENT_ID":           provider.Client().ID,
		"GATEHOUSE_OIDC_CLIENT_SECRET":       provider.Client().Secret,
		"GATEHOUSE_OIDC_REDIRECT_URL":        frontURL + "/oauth2/callback",
		"GATEHOUSE_COOKIE_SECRETS":           randomToken(),
		"GATEHOUSE_COOKIE_SECURE":            "false",
		"GATEHOUSE_REDIRECT_ALLOWED_DOMAINS": frontHost,
		"GATEHOUSE_ACCESS_EMAIL_DOMAINS":     "example.com",
		"GATEHOUSE_HTTP_SHUTDOWN_TIMEOUT":    "2s",
	}
	cfg, err := config.Load("", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		return fmt.Errorf("demo configuration: %w", err)
	}
	a, err := newApp(cfg, logger.With("component", "gatehouse"))
	if err != nil {
		return err
	}
	defer a.Close()

	appLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	appSrv := &http.Server{Handler: demo.App(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = appSrv.Serve(appLn) }()
	defer appSrv.Close()

	proxy := demo.NewForwardAuthProxy(
		&url.URL{Scheme: "http", Host: ghLn.Addr().String()},
		&url.URL{Scheme: "http", Host: appLn.Addr().String()},
		[]string{cfg.Headers.User, cfg.Headers.Email, cfg.Headers.Groups, cfg.Headers.PreferredUsername},
	)
	frontSrv := &http.Server{Handler: proxy, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = frontSrv.Serve(front) }()
	defer frontSrv.Close()

	ghCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.Serve(ghCtx, Listeners{HTTP: ghLn}) }()
	started(demoSetup{URL: frontURL, Provider: provider})
	err = <-done
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.StdEncoding.EncodeToString(b)
}
