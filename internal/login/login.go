// Package login signs users in through an OpenID Connect provider: the
// authorization-code flow with PKCE (S256), state and nonce, via go-oidc and
// x/oauth2. It serves /oauth2/start, /oauth2/callback and /oauth2/sign_out,
// writes sessions to a session.Store and sets the session cookie.
//
// Several providers may be configured at once (Config.Providers), each
// with an ID: /oauth2/start?provider=ID starts a sign-in with one, each
// has its own callback path, which must be that of the provider the
// sign-in's login cookie names, and the session records its provider, so
// that refresh, sign-out and back-channel logout go to it. A provider that
// speaks OAuth 2 but not OpenID Connect (GitHub) plugs in as a Connector.
//
// Sign-out is a state change, so it is not left to any site that can make
// the browser send a request: /oauth2/sign_out ends the session only when
// the request comes from gatehouse's own pages, a typed URL or bookmark, or
// a page on an allowed return host (Fetch Metadata, Origin, Referer).
// Otherwise a GET gets a confirmation page whose button POSTs back, and a
// POST is refused with 403.
//
// It also keeps sessions in step with the provider: Refresh and
// MaybeRefresh renew the provider's tokens with the refresh grant before
// they expire (re-reading the user's claims, so group changes take effect),
// and /oauth2/backchannel_logout accepts OIDC Back-Channel Logout 1.0
// logout tokens, ending the sessions they name on every replica.
//
// Provider discovery is lazy: New does no I/O; the first request (or Ready)
// discovers the provider with a deadline, and failures are retried with
// backoff. While the provider is unreachable, start and callback answer 503
// (never a redirect loop) and sign_out still ends the local session.
package login

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/pages"
	"github.com/gatehouse/gatehouse/internal/redirect"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/cookie"
)

// The endpoints Handler serves. The callback is also served at the path of
// Config.RedirectURL.
const (
	StartPath    = "/oauth2/start"
	CallbackPath = "/oauth2/callback"
	SignOutPath  = "/oauth2/sign_out"
	// BackchannelLogoutPath accepts the provider's POSTed logout tokens.
	BackchannelLogoutPath = "/oauth2/backchannel_logout"
)

// LoginCookieTTL is how long a sign-in may take, from /oauth2/start to the
// callback.
const LoginCookieTTL = 10 * time.Minute

// Config configures a Handler. Zero fields take the documented defaults.
// The provider fields (IssuerURL to AllowUnverifiedEmail) describe the one
// provider, with ID DefaultProviderID, when Providers is empty; with
// Providers they are ignored.
type Config struct {
	// Providers are the providers users may sign in through; the first
	// is the default (of sessions that name none, and of CallbackPath).
	Providers []Provider
	// IssuerURL is the provider's issuer; discovery reads
	// IssuerURL/.well-known/openid-configuration.
	IssuerURL    string
	ClientID     string
	ClientSecret string
	// RedirectURL is the absolute URL of the callback, as registered at the
	// provider, e.g. https://auth.example.com/oauth2/callback.
	RedirectURL string
	// Scopes requested; default openid, email, profile. Must include openid.
	Scopes []string
	// UserClaim names the claim that becomes Session.User; default "sub".
	UserClaim string
	// EmailClaim names the email claim; default "email".
	EmailClaim string
	// GroupsClaim names the groups claim; default "groups".
	GroupsClaim string
	// AllowUnverifiedEmail admits users whose email is not verified (or
	// whose provider does not say). Off by default: such sign-ins fail.
	AllowUnverifiedEmail bool
	// SessionLifetime is how long a session lives; default 168h.
	SessionLifetime time.Duration
	// Timeout bounds each call to the provider; default 10s.
	Timeout time.Duration
	// StoreTimeout bounds each session store call; default 2s.
	StoreTimeout time.Duration
	// SkipProviderLogout makes sign_out end only the local session. By
	// default, when the provider advertises end_session_endpoint, sign_out
	// also sends the browser there with id_token_hint and the return URL
	// as post_logout_redirect_uri (which the provider must accept).
	SkipProviderLogout bool
	// RefreshMargin is how long before the provider's tokens expire
	// MaybeRefresh renews them; default 60s.
	RefreshMargin time.Duration
	// RefreshWorkers bounds the background refreshes running at once;
	// default 8. When all are busy, MaybeRefresh skips (a later request
	// tries again).
	RefreshWorkers int
	// LogoutTokenMaxAge is the oldest back-channel logout token (by iat)
	// accepted; default 5m. Seen token IDs are remembered this long.
	LogoutTokenMaxAge time.Duration
	// HTTPClient, if set, carries the calls to the provider (for a custom
	// CA, say). Its Timeout is replaced by Timeout.
	HTTPClient *http.Client
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// withDefaults returns c with defaults filled in and every problem found.
func (c Config) withDefaults() (Config, error) {
	if c.SessionLifetime <= 0 {
		c.SessionLifetime = 168 * time.Hour
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.StoreTimeout <= 0 {
		c.StoreTimeout = 2 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.RefreshMargin <= 0 {
		c.RefreshMargin = 60 * time.Second
	}
	if c.RefreshWorkers <= 0 {
		c.RefreshWorkers = 8
	}
	if c.LogoutTokenMaxAge <= 0 {
		c.LogoutTokenMaxAge = 5 * time.Minute
	}
	ps, err := c.providers()
	c.Providers = ps
	return c, err
}

func absoluteHTTP(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("%q is not an absolute http(s) URL", raw)
	}
	return u, nil
}

// Handler serves the sign-in and sign-out endpoints.
type Handler struct {
	cfg         Config
	store       session.Store
	codec       *cookie.Codec
	cookies     cookie.Settings
	loginCookie string
	redirects   *redirect.Validator
	log         *slog.Logger
	provs       []*prov // cfg.Providers, the default first

	// Optional dependencies, from Options.
	locker        Locker
	revoker       Revoker
	observer      Observer
	pages         *pages.Pages // see page()
	providerLabel string       // Options.ProviderName

	refresh refresher
}

// New returns a Handler for cfg that keeps sessions in store, seals its
// cookies with codec and checks return URLs with redirects; opts add the
// optional dependencies. It does no I/O: the provider is discovered on
// first use.
func New(cfg Config, store session.Store, codec *cookie.Codec, cookies cookie.Settings, redirects *redirect.Validator, opts Options) (*Handler, error) {
	cfg, err := cfg.withDefaults()
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	if store == nil || codec == nil || redirects == nil {
		errs = append(errs, errors.New("login: store, codec and redirect validator are required"))
	}
	if cookies.Name == "" {
		errs = append(errs, errors.New("login: cookie name is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var observer Observer = nopObserver{}
	if opts.Observer != nil {
		observer = opts.Observer
	}
	h := &Handler{
		cfg:           cfg,
		store:         store,
		codec:         codec,
		cookies:       cookies,
		loginCookie:   cookies.Name + "_login",
		redirects:     redirects,
		log:           logger,
		locker:        opts.Locker,
		revoker:       opts.Revoker,
		observer:      observer,
		pages:         opts.Pages,
		providerLabel: opts.ProviderName,
	}
	for _, pc := range cfg.Providers {
		ru, _ := url.Parse(pc.RedirectURL) // checked above
		h.provs = append(h.provs, &prov{
			cfg:          pc,
			disc:         newDiscovery(pc, cfg, logger),
			callbackPath: ru.EscapedPath(),
			origin:       ru.Scheme + "://" + ru.Host,
		})
	}
	h.refresh.init(cfg.RefreshWorkers)
	return h, nil
}

// LoginCookieName is the name prefix of the short-lived cookies that bind
// a sign-in to the browser that started it: each attempt's cookie is this
// name, "_" and a short hash of its state (see attempts.go).
func (h *Handler) LoginCookieName() string { return h.loginCookie }

// ServeHTTP routes StartPath, the callback, SignOutPath and
// BackchannelLogoutPath; anything else is 404.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case p == StartPath:
		h.serve(w, r, h.start)
	case strings.HasPrefix(p, CallbackPath):
		if _, ok := h.byCallback(p); !ok {
			http.NotFound(w, r)
			return
		}
		h.serve(w, r, h.callback)
	case p == SignOutPath:
		h.serve(w, r, h.signOut)
	case p == BackchannelLogoutPath:
		h.backchannelLogout(w, r)
	default:
		if _, ok := h.byCallback(p); ok {
			h.serve(w, r, h.callback)
			return
		}
		http.NotFound(w, r)
	}
}

// absolute turns a safe return URL into an absolute one: paths are taken
// relative to the origin of p's RedirectURL.
func (p *prov) absolute(rd string) string {
	if strings.HasPrefix(rd, "/") {
		return p.origin + rd
	}
	return rd
}
