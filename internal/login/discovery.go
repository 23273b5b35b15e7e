package login

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Backoff between failed discovery attempts: it doubles from min to max.
const (
	minBackoff = time.Second
	maxBackoff = 30 * time.Second
)

// provider is what discovery learned; it never changes once published.
type provider struct {
	oidc       *oidc.Provider
	verifier   *oidc.IDTokenVerifier
	oauth      *oauth2.Config
	endSession string // empty if the provider has no end_session_endpoint
}

// discovery finds the provider once, lazily, with a deadline per attempt
// and backoff between failed attempts, so an unreachable provider costs
// one bounded attempt per backoff period rather than one per request.
type discovery struct {
	cfg    Config
	p      Provider
	client *http.Client
	log    *slog.Logger
	ready  atomic.Pointer[provider]
	// sem admits one attempt at a time; the fields below belong to its holder.
	sem     chan struct{}
	lastErr error
	nextTry time.Time
	backoff time.Duration
}

func newDiscovery(p Provider, cfg Config, log *slog.Logger) *discovery {
	client := &http.Client{Timeout: cfg.Timeout}
	if cfg.HTTPClient != nil {
		c := *cfg.HTTPClient
		c.Timeout = cfg.Timeout
		client = &c
	}
	return &discovery{cfg: cfg, p: p, client: client, log: log, sem: make(chan struct{}, 1)}
}

// withClient returns ctx carrying the HTTP client that go-oidc and oauth2 use.
func (d *discovery) withClient(ctx context.Context) context.Context {
	return oidc.ClientContext(context.WithValue(ctx, oauth2.HTTPClient, d.client), d.client)
}

// get returns the provider, discovering it if needed.
func (d *discovery) get(ctx context.Context) (*provider, error) {
	if p := d.ready.Load(); p != nil {
		return p, nil
	}
	select {
	case d.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("provider discovery: %w", ctx.Err())
	}
	defer func() { <-d.sem }()
	if p := d.ready.Load(); p != nil {
		return p, nil
	}
	now := d.cfg.Now()
	if now.Before(d.nextTry) {
		return nil, d.lastErr
	}
	// One impatient client must not cut the attempt short for everyone.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.Timeout)
	defer cancel()
	p, err := d.discover(d.withClient(actx))
	if err != nil {
		d.backoff = min(max(2*d.backoff, minBackoff), maxBackoff)
		d.nextTry = now.Add(d.backoff)
		d.lastErr = fmt.Errorf("provider discovery: %w", err)
		d.log.LogAttrs(ctx, slog.LevelWarn, "OIDC discovery failed",
			slog.String("reason", string(ReasonProviderUnavailable)),
			slog.String("provider", d.p.ID),
			slog.String("issuer", d.p.IssuerURL),
			slog.Duration("retry_in", d.backoff),
			slog.String("error", err.Error()))
		return nil, d.lastErr
	}
	d.backoff, d.lastErr = 0, nil
	d.ready.Store(p)
	d.log.LogAttrs(ctx, slog.LevelInfo, "OIDC provider discovered", slog.String("provider", d.p.ID), slog.String("issuer", d.p.IssuerURL))
	return p, nil
}

func (d *discovery) discover(ctx context.Context) (*provider, error) {
	if d.p.Connector != nil {
		return d.connectorProvider(), nil
	}
	op, err := oidc.NewProvider(ctx, d.p.IssuerURL)
	if err != nil {
		return nil, err
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := op.Claims(&meta); err != nil {
		return nil, fmt.Errorf("read discovery document: %w", err)
	}
	if meta.EndSession != "" {
		if _, err := absoluteHTTP(meta.EndSession); err != nil {
			meta.EndSession = "" // unusable: sign out locally only
		}
	}
	return &provider{
		oidc:     op,
		verifier: op.Verifier(&oidc.Config{ClientID: d.p.ClientID, Now: d.cfg.Now}),
		oauth: &oauth2.Config{
			ClientID:     d.p.ClientID,
			ClientSecret: d.p.ClientSecret,
			Endpoint:     op.Endpoint(),
			RedirectURL:  d.p.RedirectURL,
			Scopes:       d.p.Scopes,
		},
		endSession: meta.EndSession,
	}, nil
}

// Ready reports whether every provider has been discovered, trying once
// (subject to backoff) each that has not. It is meant for /readyz.
func (h *Handler) Ready(ctx context.Context) error {
	var errs []error
	for _, p := range h.provs {
		if _, err := p.disc.get(ctx); err != nil {
			if len(h.provs) > 1 {
				err = fmt.Errorf("provider %q: %w", p.cfg.ID, err)
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
