// Package check is the one place where a request's session is loaded before
// the decision core judges it. Every adapter (forward-auth, auth-request,
// Envoy ext_authz) calls Checker.Check, so they all reach the same verdict.
package check

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/session"
)

// Checker loads the session named by a request's cookie, with a deadline,
// and asks the decision core.
type Checker struct {
	store   session.Store
	codec   *session.Codec
	cookies session.CookieSettings
	timeout time.Duration
	log     *slog.Logger
	now     func() time.Time
	policy  atomic.Pointer[authz.Policy]
}

// Options are the optional settings of a Checker.
type Options struct {
	// Timeout bounds the store lookup; default 250ms.
	Timeout time.Duration
	Logger  *slog.Logger
	Now     func() time.Time
}

// New returns a Checker. policy is the first policy snapshot.
func New(store session.Store, codec *session.Codec, cookies session.CookieSettings, policy *authz.Policy, opts Options) *Checker {
	c := &Checker{store: store, codec: codec, cookies: cookies, timeout: opts.Timeout, log: opts.Logger, now: opts.Now}
	if c.timeout <= 0 {
		c.timeout = 250 * time.Millisecond
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.policy.Store(policy)
	return c
}

// SetPolicy swaps in a new policy snapshot; requests already running keep
// the one they started with.
func (c *Checker) SetPolicy(p *authz.Policy) { c.policy.Store(p) }

// Policy returns the current policy snapshot.
func (c *Checker) Policy() *authz.Policy { return c.policy.Load() }

// CookieName is the name of the session cookie.
func (c *Checker) CookieName() string { return c.cookies.Name }

// Check decides r. cookieHeader is the request's raw Cookie header.
func (c *Checker) Check(ctx context.Context, r *authz.Request, cookieHeader string) authz.Decision {
	p := c.policy.Load() // one snapshot for the whole request
	state, id := c.lookup(ctx, cookieHeader)
	d := authz.Decide(p, r, state, id)
	if state == authz.InvalidSession && d.Outcome == authz.Unauthenticated {
		// Drop the dead cookie so the browser stops sending it.
		d.ResponseHeaders = append(d.ResponseHeaders, authz.Header{Name: "Set-Cookie", Value: c.cookies.Clear(c.cookies.Name).String()})
	}
	return d
}

func (c *Checker) lookup(ctx context.Context, cookieHeader string) (authz.SessionState, *authz.Identity) {
	value := session.CookieValue(cookieHeader, c.cookies.Name)
	if value == "" {
		return authz.NoSession, nil
	}
	id, err := c.codec.OpenID(c.cookies.Name, value)
	if err != nil {
		return authz.InvalidSession, nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	s, err := c.store.Load(ctx, id)
	switch {
	case errors.Is(err, session.ErrNotFound):
		return authz.InvalidSession, nil
	case err != nil:
		c.log.LogAttrs(ctx, slog.LevelWarn, "session store failed", slog.String("reason", string(authz.ReasonStoreUnavailable)), slog.String("error", err.Error()))
		return authz.StoreFailed, nil
	}
	if !s.ExpiresAt.IsZero() && !c.now().Before(s.ExpiresAt) {
		return authz.InvalidSession, nil
	}
	return authz.ValidSession, &authz.Identity{
		Subject:           s.Subject,
		User:              s.User,
		Email:             s.Email,
		EmailVerified:     s.EmailVerified,
		PreferredUsername: s.PreferredUsername,
		Groups:            s.Groups,
	}
}
