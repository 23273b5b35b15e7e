// Package check is the one place where a request's identity is resolved
// before the decision core judges it: the session named by the cookie,
// loaded with a deadline, or else a bearer token verified against its
// issuer. Every adapter (forward-auth, auth-request, Envoy ext_authz) calls
// Checker.Check, so they all reach the same verdict. On an allow it also
// attaches the signed identity assertion.
package check

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/bearer"
	"github.com/gatehouse/gatehouse/internal/lazydeadline"
	"github.com/gatehouse/gatehouse/internal/render"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/cookie"
)

// TokenVerifier verifies bearer tokens; *bearer.Verifier is one. Its
// errors wrap bearer.ErrInvalid or bearer.ErrUnavailable.
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (*authz.Identity, error)
}

// Asserter signs identity assertions; *assertion.Minter is one. key names
// the credential (session or token) for caching; audience is the host.
type Asserter interface {
	Mint(key, audience string, id *authz.Identity) (string, error)
}

var _ TokenVerifier = (*bearer.Verifier)(nil)

// UpstreamCookieHeader is the upstream header an allow decision carries
// when the request had cookies: the client's Cookie header without
// gatehouse's own cookies (cookie.WithoutOwn). An empty value
// means: remove the header.
const UpstreamCookieHeader = "Cookie"

// Credentials are what a request carries to prove who sent it. Never log
// them.
type Credentials struct {
	// Cookie is the raw Cookie header.
	Cookie string
	// Authorization is the raw Authorization header.
	Authorization string
}

// Checker resolves identity and asks the decision core.
type Checker struct {
	sessions  session.Reader // the one view of the store: every lookup goes through every layer
	codec     *cookie.Codec
	cookies   cookie.Settings
	timeout   time.Duration
	log       *slog.Logger
	now       func() time.Time
	bearer    TokenVerifier
	asserter  Asserter
	idToken   bool
	refresher Refresher
	render    *render.Renderer
	policy    atomic.Pointer[authz.Policy]
}

// Options are the optional settings of a Checker.
type Options struct {
	// Timeout bounds the store lookup; default 250ms.
	Timeout time.Duration
	Logger  *slog.Logger
	Now     func() time.Time
	// Bearer, when set, verifies "Authorization: Bearer" tokens of requests
	// without a valid session. Without it the Authorization header is left
	// to the upstream.
	Bearer TokenVerifier
	// Assertion, when set, signs the assertion sent in the policy's
	// Headers.Assertion header on every allow with identity.
	Assertion Asserter
	// SendIDToken sends the session's ID token upstream instead of its
	// access token (headers.token: id).
	SendIDToken bool
	// Refresher, when set, is told about every allowed request made with a
	// session, so it can renew the provider's tokens before they expire. It
	// must not block.
	Refresher Refresher
	// Renderer says the decisions (the designed pages for browsers); nil
	// uses the built-in pages.
	Renderer *render.Renderer
}

// Refresher renews a session's provider tokens in the background.
type Refresher interface {
	MaybeRefresh(id string, s *session.Session)
}

// New returns a Checker. policy is the first policy snapshot. store is read
// through session.ReaderOf: a session.Reader (every store and decorator in
// package session) serves requests that need the tokens and those that do
// not through the same layers; a plain Store serves both from Load.
func New(store session.Store, codec *cookie.Codec, cookies cookie.Settings, policy *authz.Policy, opts Options) *Checker {
	c := &Checker{sessions: session.ReaderOf(store), codec: codec, cookies: cookies, timeout: opts.Timeout, log: opts.Logger, now: opts.Now,
		bearer: opts.Bearer, asserter: opts.Assertion, idToken: opts.SendIDToken, refresher: opts.Refresher, render: opts.Renderer}
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

// Verdict is a checked request's decision and the reply that tells it to
// the client. Adapters put both in their proxy's terms and decide nothing.
type Verdict struct {
	authz.Decision
	Reply render.Reply
}

// Refused is the verdict for a request refused before it is judged (an
// untrusted peer, a malformed request): never an allow.
func Refused(reason authz.Reason) Verdict {
	d := authz.Reject(reason)
	return Verdict{Decision: d, Reply: render.For(nil, nil, &d)}
}

// Failed is the verdict for a check that could not be carried out (an
// internal error): 500, never an allow.
func Failed(reason authz.Reason) Verdict {
	d := authz.Decision{Outcome: authz.Unavailable, Reason: reason, RuleIndex: -1}
	return Verdict{Decision: d, Reply: render.For(nil, nil, &d)}
}

// Check decides r. The identity comes from the session cookie when it
// names a live session (the Authorization header then belongs to the
// app), else from a bearer token when bearer verification is configured.
// A token that fails verification yields 401 invalid_token; an issuer
// whose keys cannot be fetched yields 503.
func (c *Checker) Check(ctx context.Context, r *authz.Request, cr Credentials) Verdict {
	return c.CheckFor(ctx, r, cr, nil)
}

// CheckFor is Check for an adapter that answers its proxy with another
// status than the reply's (nginx auth_request understands only 200, 401
// and 403): told maps the verdict to the status the proxy is told, which
// the denial's log line then gives as status. A nil told is Check.
func (c *Checker) CheckFor(ctx context.Context, r *authz.Request, cr Credentials, told func(Verdict) int) Verdict {
	return c.check(ctx, r, cr, told, true)
}

// Recheck is Check for a second look at a request that an adapter has
// already refused and logged (the shipped nginx config asks for the
// denied page after auth_request said no): the same verdict, with no
// second log line for the same browser request.
func (c *Checker) Recheck(ctx context.Context, r *authz.Request, cr Credentials) Verdict {
	return c.check(ctx, r, cr, nil, false)
}

func (c *Checker) check(ctx context.Context, r *authz.Request, cr Credentials, told func(Verdict) int, logDenial bool) Verdict {
	p := c.policy.Load() // one snapshot for the whole request
	w := c.identify(ctx, p, cr)
	id := w.identity() // w stays on the stack: Decide keeps no pointer to it
	d := authz.Decide(p, r, w.state, id)
	if w.issuerDown && d.Outcome == authz.Unavailable {
		d.Reason = authz.ReasonIssuerUnavailable
	}
	if d.Outcome == authz.Allow && d.Reason == authz.ReasonAllowed && c.asserter != nil && p.Headers.Assertion != "" {
		minted := *id // the asserter may keep it; w stays on the stack
		tok, err := c.asserter.Mint(w.key, authz.CanonicalHost(r.Host), &minted)
		if err != nil {
			c.log.LogAttrs(ctx, slog.LevelError, "identity assertion failed", slog.String("reason", string(authz.ReasonAssertionFailed)), slog.String("error", err.Error()))
			return Failed(authz.ReasonAssertionFailed)
		}
		d.SetUpstream(p.Headers.Assertion, tok)
	}
	v := Verdict{Decision: d, Reply: c.render.For(p, r, &d)}
	if w.state == authz.InvalidSession && d.Outcome == authz.Unauthenticated {
		// Drop the dead cookie so the browser stops sending it.
		v.Reply.Headers = append(v.Reply.Headers, authz.Header{Name: "Set-Cookie", Value: c.cookies.Clear(c.cookies.Name).String()})
	}
	if d.Outcome == authz.Allow {
		if cr.Cookie != "" {
			// The app gets its own cookies, never gatehouse's: an empty
			// value tells the adapter to remove the Cookie header.
			v.UpstreamHeaders = append(v.UpstreamHeaders, authz.Header{Name: UpstreamCookieHeader, Value: cookie.WithoutOwn(cr.Cookie, c.cookies.Name)})
		}
		if w.sess != nil && c.refresher != nil {
			c.refresher.MaybeRefresh(w.key, w.sess)
		}
		return v
	}
	if !logDenial {
		return v
	}
	status := v.Reply.Status
	if told != nil {
		status = told(v)
	}
	attrs := []slog.Attr{
		slog.String("reason", string(d.Reason)),
		slog.String("outcome", d.Outcome.String()),
		slog.Int("status", status),
		slog.String("method", r.Method),
		slog.String("host", r.Host),
		slog.String("path", r.Path),
		slog.String("client_ip", r.ClientIP.String()),
		slog.String("user", d.User),
		slog.String("rule", d.Rule),
	}
	if d.View.Method != "" && d.View != r.CanonicalView() {
		// Another reading of the request than the request line's decided.
		attrs = append(attrs, slog.String("judged_as", d.View.String()))
	}
	c.log.LogAttrs(ctx, slog.LevelInfo, "denied", attrs...)
	return v
}

// who is a request's resolved identity: a session's, held by value so that
// a check allocates no Identity (fromSession), or a bearer token's (id).
type who struct {
	state       authz.SessionState
	id          *authz.Identity
	session     authz.Identity
	fromSession bool
	key         string // the credential, for the assertion cache; never logged
	issuerDown  bool
	sess        *session.Session // the session behind id, when there is one
}

// identity is the resolved identity, nil when there is none.
func (w *who) identity() *authz.Identity {
	if w.fromSession {
		return &w.session
	}
	return w.id
}

func (c *Checker) identify(ctx context.Context, p *authz.Policy, cr Credentials) who {
	w := c.lookup(ctx, p, cr.Cookie)
	if w.state == authz.ValidSession || w.state == authz.StoreFailed || c.bearer == nil {
		return w
	}
	tok, ok := bearer.Token(cr.Authorization)
	if !ok {
		return w
	}
	id, err := c.bearer.Verify(ctx, tok)
	switch {
	case err == nil:
		return who{state: authz.ValidSession, id: id, key: tok}
	case errors.Is(err, bearer.ErrUnavailable):
		c.log.LogAttrs(ctx, slog.LevelWarn, "bearer token issuer unavailable", slog.String("reason", string(authz.ReasonIssuerUnavailable)), slog.String("error", err.Error()))
		return who{state: authz.StoreFailed, issuerDown: true}
	default:
		c.log.LogAttrs(ctx, slog.LevelInfo, "bearer token refused", slog.String("reason", string(authz.ReasonInvalidToken)), slog.String("error", err.Error()))
		return who{state: authz.InvalidToken}
	}
}

func (c *Checker) lookup(ctx context.Context, p *authz.Policy, cookieHeader string) who {
	// Every copy of the cookie must name the same session: a second one
	// (planted by a sibling subdomain, say) makes the session invalid.
	sid, present, err := c.codec.OpenSessionCookie(cookieHeader, c.cookies.Name)
	switch {
	case !present:
		return who{state: authz.NoSession}
	case err != nil:
		return who{state: authz.InvalidSession}
	}
	lctx := lazydeadline.WithTimeout(ctx, c.timeout)
	defer lctx.Release()
	ctx = lctx
	// Both reads go through every layer (idle timeout, cache, metrics); the
	// identity alone skips opening the tokens where a layer can.
	var s *session.Session
	if p.UsesClaims() || p.Headers.AccessToken != "" || p.Headers.Authorization != "" {
		s, err = c.sessions.LoadWithTokens(ctx, sid)
	} else {
		s, err = c.sessions.LoadIdentity(ctx, sid)
	}
	switch {
	case errors.Is(err, session.ErrNotFound):
		return who{state: authz.InvalidSession}
	case err != nil:
		c.log.LogAttrs(ctx, slog.LevelWarn, "session store failed", slog.String("reason", string(authz.ReasonStoreUnavailable)), slog.String("error", err.Error()))
		return who{state: authz.StoreFailed}
	}
	if !s.ExpiresAt.IsZero() && !c.now().Before(s.ExpiresAt) {
		return who{state: authz.InvalidSession}
	}
	w := who{state: authz.ValidSession, fromSession: true, key: sid, sess: s, session: authz.Identity{
		Subject:           s.Subject,
		User:              s.User,
		Email:             s.Email,
		EmailVerified:     s.EmailVerified,
		PreferredUsername: s.PreferredUsername,
		Groups:            s.Groups,
		Provider:          s.Provider,
	}}
	if p.Headers.AccessToken != "" || p.Headers.Authorization != "" {
		w.session.Token = s.AccessToken
		if c.idToken {
			w.session.Token = s.IDToken
		}
	}
	if p.UsesClaims() {
		w.session.Claims = idTokenClaims(s.IDToken)
	}
	return w
}

// idTokenClaims reads the claims of the session's ID token, which the
// login flow verified before storing it server-side. A token that cannot
// be read yields no claims, so claim rules fail closed.
func idTokenClaims(idToken string) map[string][]string {
	parts := strings.Split(idToken, ".")
	if len(parts) != 3 {
		return nil
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		return nil
	}
	return bearer.Flatten(m)
}
