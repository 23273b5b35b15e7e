package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/gatehouse/gatehouse/internal/demo"
	"github.com/gatehouse/gatehouse/internal/oidctest"
)

// devProviderConfig turns the dev-provider flags (and the file they name)
// into a provider configuration: the file first, then flags, which replace
// the file's single values and add to its lists.
//
// The error is a usage error, an unreadable file, or every problem of the
// configuration at once (the file's unknown keys and wrong types among them).
func devProviderConfig(args []string, stderr io.Writer) (demo.ProviderConfig, error) {
	fs := newFlagSet("dev-provider [flags]",
		"Runs a development OpenID provider (authorization code + PKCE, refresh tokens,\n"+
			"userinfo, end_session) with the users and redirect URIs you give, on loopback,\n"+
			"and prints its issuer, client ID and client secret and a gatehouse oidc: section.\n"+
			"NOT FOR PRODUCTION: passwords are fixed and kept in memory.\n\n"+
			"The file (--config) is YAML with the keys listen, issuer, client_id, client_secret,\n"+
			"redirect_uris, post_logout_redirect_uris and users (each: name, password, email,\n"+
			"groups). Example:\n\n"+
			"  gatehouse-dev dev-provider --user alice:secret:alice@example.com:admins \\\n"+
			"    --redirect-uri http://127.0.0.1:4180/oauth2/callback", stderr)
	file := fs.String("config", "", "YAML `file` with users, redirect URIs and client settings")
	listen := fs.String("listen", "", "`address` to listen on (default "+demo.DefaultProviderListen+"; loopback only without --allow-public)")
	issuer := fs.String("issuer", "", "issuer `URL` (default http:// + the listen address)")
	clientID := fs.String("client-id", "", "the client's `ID` (default "+demo.DefaultClientID+")")
	clientSecret := fs.String("client-secret", "", "the client's `secret` (default: generated and printed)")
	allowPublic := fs.Bool("allow-public", false, "allow a listen address that is not loopback (the provider's passwords are fixed: think twice)")
	var users, redirects, postLogout listFlag
	fs.Var(&users, "user", "a user, as `NAME:PASSWORD[:EMAIL[:GROUP,GROUP...]]` (repeatable); the name is also the sub claim")
	fs.Var(&redirects, "redirect-uri", "an accepted redirect `URI`, gatehouse's oidc.redirect_url (repeatable)")
	fs.Var(&postLogout, "post-logout-redirect-uri", "an accepted post-logout redirect `URI` (repeatable; default: the root URL of each redirect URI's site)")
	if err := parseFlags(fs, args); err != nil {
		return demo.ProviderConfig{}, err
	}
	var c demo.ProviderConfig
	var fileProblems error
	if *file != "" {
		var err error
		if c, fileProblems, err = demo.LoadProviderFile(*file); err != nil {
			return c, err
		}
		if fileProblems != nil {
			fileProblems = fmt.Errorf("%s: %w", *file, fileProblems)
		}
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "listen":
			c.Listen = *listen
		case "issuer":
			c.Issuer = *issuer
		case "client-id":
			c.ClientID = *clientID
		case "client-secret":
			c.ClientSecret = *clientSecret
		}
	})
	c.AllowPublic = *allowPublic
	for _, s := range users {
		u, err := demo.ParseUser(s)
		if err != nil {
			return c, err
		}
		c.Users = append(c.Users, u)
	}
	c.RedirectURIs = append(c.RedirectURIs, redirects...)
	c.PostLogoutRedirectURIs = append(c.PostLogoutRedirectURIs, postLogout...)
	return c, errors.Join(fileProblems, c.Validate())
}

func devProviderCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := devProviderConfig(args, stderr)
	if err != nil {
		return err
	}
	p, err := demo.StartProvider(c)
	if err != nil {
		return err
	}
	defer p.Close()
	if c.AllowPublic {
		fmt.Fprintf(stderr, "gatehouse-dev: warning: --allow-public: the development provider listens on %s, beyond loopback\n", p.ListenURL())
	}
	if err := printProvider(stdout, p, c.Users); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// printProvider tells the user what the provider is and how gatehouse uses it.
func printProvider(w io.Writer, p *oidctest.Provider, users []demo.ProviderUser) error {
	cl := p.Client()
	snippet, err := demo.OIDCSnippet(p, cl.RedirectURIs[0])
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n  gatehouse development OpenID provider: NOT FOR PRODUCTION\n\n")
	fmt.Fprintf(&b, "  issuer:         %s\n", p.Issuer())
	fmt.Fprintf(&b, "  client ID:      %s\n", cl.ID)
	fmt.Fprintf(&b, "  client secret:  %s\n", cl.Secret)
	fmt.Fprintf(&b, "  redirect URIs:  %s\n", strings.Join(cl.RedirectURIs, ", "))
	if len(cl.PostLogoutRedirectURIs) > 0 {
		fmt.Fprintf(&b, "  after sign-out: %s\n", strings.Join(cl.PostLogoutRedirectURIs, ", "))
	}
	fmt.Fprintf(&b, "  users:\n")
	for _, u := range users {
		fmt.Fprintf(&b, "    %-12s email %q, groups [%s]\n", u.Name, u.Email, strings.Join(u.Groups, ", "))
	}
	fmt.Fprintf(&b, "\n  gatehouse settings for this provider (add cookie.secrets and access rules):\n\n")
	b.WriteString(snippet)
	fmt.Fprintf(&b, "\n  Stop with Ctrl-C.\n\n")
	_, err = io.WriteString(w, b.String())
	return err
}
