package main

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/assertion"
	"github.com/gatehouse/gatehouse/internal/bearer"
	"github.com/gatehouse/gatehouse/internal/check"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/policyfile"
)

// accessWiring holds what the access policy adds to a running gatehouse:
// the bearer-token verifier and the assertion minter (both optional), and,
// once watch is called, the policy file reloader.
type accessWiring struct {
	bearer   *bearer.Verifier     // nil unless bearer tokens are trusted
	minter   *assertion.Minter    // nil unless assertion.enabled
	reloader *policyfile.Reloader // nil without access.policy_file, or before watch
	idToken  bool
}

// newAccessWiring builds the verifier and minter a configuration asks for.
// It reads the assertion key files and does no network I/O.
func newAccessWiring(cfg *config.Config, logger *slog.Logger) (*accessWiring, error) {
	w := &accessWiring{idToken: cfg.Headers.Token == "id"}
	if issuers := cfg.BearerIssuers(); len(issuers) > 0 {
		var list []bearer.Issuer
		for _, is := range issuers {
			list = append(list, bearer.Issuer{URL: is.IssuerURL, Audiences: is.Audiences, JWKSURL: is.JWKSURL, ClientID: is.ClientID, Provider: is.Provider})
		}
		def := cfg.LoginProviders()[0] // its claim names, as for sessions
		v, err := bearer.New(list,
			bearer.Claims{User: def.UserClaim, Email: def.EmailClaim, Groups: def.GroupsClaim},
			bearer.Options{CacheTTL: cfg.Access.Bearer.CacheTTL, CacheSize: cfg.Access.Bearer.CacheSize,
				Timeout: cfg.Access.Bearer.Timeout, FetchTimeout: cfg.OIDC.Timeout, Logger: logger})
		if err != nil {
			return nil, fmt.Errorf("access.bearer: %w", err)
		}
		w.bearer = v
	}
	if cfg.Assertion.Enabled {
		keys, err := assertion.LoadKeyFiles(cfg.Assertion.AssertionKeyFiles())
		if err != nil {
			return nil, fmt.Errorf("assertion.key_files: %w", err)
		}
		m, err := assertion.New(keys, assertion.Options{Issuer: cfg.AssertionIssuer(), Lifetime: cfg.Assertion.Lifetime})
		if err != nil {
			return nil, fmt.Errorf("assertion: %w", err)
		}
		w.minter = m
	}
	return w, nil
}

// checkOptions adds the verifier, minter and token choice to opts.
func (w *accessWiring) checkOptions(opts check.Options) check.Options {
	if w.bearer != nil {
		opts.Bearer = w.bearer
	}
	if w.minter != nil {
		opts.Assertion = w.minter
	}
	opts.SendIDToken = w.idToken
	return opts
}

// jwks returns the handler for assertion.JWKSPath, or nil when assertions
// are off.
func (w *accessWiring) jwks() http.Handler {
	if w.minter == nil {
		return nil
	}
	return w.minter
}

// watch makes the reloader of access.policy_file (nil without one), which
// swaps good policies into checker: Serve runs it, calls its Reload on
// SIGHUP, and /readyz shows its Status.
func (w *accessWiring) watch(cfg *config.Config, checker *check.Checker, logger *slog.Logger, onReload func(bool)) *policyfile.Reloader {
	if cfg.Access.PolicyFile == "" {
		return nil
	}
	w.reloader = policyfile.New(cfg.Access.PolicyFile, cfg.PolicyFromFile, checker.SetPolicy, policyfile.Options{Logger: logger, OnReload: onReload})
	return w.reloader
}
