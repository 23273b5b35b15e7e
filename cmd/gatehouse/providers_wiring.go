package main

import (
	"maps"
	"slices"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/login"
	"github.com/gatehouse/gatehouse/internal/providers/claimhooks"
	"github.com/gatehouse/gatehouse/internal/providers/github"
)

// loginProviders turns the configured providers (the oidc section, or the
// providers list with presets applied) into login's, each with its
// preset's claims hook.
func loginProviders(cfg *config.Config) []login.Provider {
	var out []login.Provider
	for _, p := range cfg.LoginProviders() {
		lp := login.Provider{
			ID: p.ID, Name: p.Name, IssuerURL: p.IssuerURL, ClientID: p.ClientID, ClientSecret: p.ClientSecret,
			RedirectURL: p.RedirectURL, Scopes: slices.Clone(p.Scopes), UserClaim: p.UserClaim, EmailClaim: p.EmailClaim,
			GroupsClaim: p.GroupsClaim, ExtraGroupsClaims: slices.Clone(p.ExtraGroupsClaims),
			AllowUnverifiedEmail: p.AllowUnverifiedEmail, AuthParams: maps.Clone(p.AuthParams),
		}
		switch {
		case p.OAuth2: // github
			lp.Connector = github.New(p.BaseURL)
		case p.Preset != "":
			lp.Claims = claimhooks.For(p.Preset, p.PresetParams(), p.EmailClaim, p.GraphURL)
		}
		out = append(out, lp)
	}
	return out
}
