package login

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/background"
	"github.com/gatehouse/gatehouse/internal/session"
)

// Errors Refresh returns for expected outcomes; test with errors.Is.
var (
	// ErrRefreshRejected: the provider refused the refresh token
	// (invalid_grant), or what it returned was not acceptable (a bad ID
	// token, another subject, an identity that may no longer sign in). The
	// session has been ended.
	ErrRefreshRejected = errors.New("login: refresh rejected, session ended")
	// ErrNoRefreshToken: the session has no refresh token to use.
	ErrNoRefreshToken = errors.New("login: session has no refresh token")
	// ErrRefreshInProgress: another replica holds the session's refresh lock.
	ErrRefreshInProgress = errors.New("login: session is being refreshed elsewhere")
	// ErrSessionGone: the session ended before the refresh could save it.
	ErrSessionGone = errors.New("login: session ended during refresh")
)

// refresher is the in-process bookkeeping of background refreshes: they
// run in a pool that Handler.Run owns.
type refresher struct {
	jobs     *background.Pool
	mu       sync.Mutex
	inflight map[string]struct{} // lock names of sessions being refreshed here
}

func (r *refresher) init(workers int) {
	r.jobs = background.NewPool(workers)
	r.inflight = make(map[string]struct{})
}

// lockName names a session's refresh lock by a hash of its ID, so the ID
// (a bearer secret) never reaches the lock store.
func lockName(id string) string {
	sum := sha256.Sum256([]byte(id))
	return "refresh:" + hex.EncodeToString(sum[:])
}

// refreshBudget bounds one whole refresh: the provider calls and the store
// calls around them.
func (h *Handler) refreshBudget() time.Duration {
	return h.cfg.Timeout + 2*h.cfg.StoreTimeout
}

// RefreshDue reports whether s's provider tokens should be renewed now: it
// has a refresh token and its tokens expire within Config.RefreshMargin
// (or have expired).
func (h *Handler) RefreshDue(s *session.Session) bool {
	return s != nil && (s.RefreshToken != "" || s.HasRefreshToken) && !s.TokenExpiry.IsZero() &&
		!h.cfg.Now().Before(s.TokenExpiry.Add(-h.cfg.RefreshMargin))
}

// MaybeRefresh queues a background refresh of the session with this ID
// when RefreshDue(s), and returns at once. It is meant to be called on
// every allowed request with the session the check loaded. Refreshes run
// only while Run does (one queued before Run starts waits for it). At most
// one refresh per session is queued or running in this process, at most
// Config.RefreshWorkers in all (beyond that the call is skipped and a later
// request tries again), each bounded by a deadline; across replicas the
// Locker (if set) admits one at a time. Outcomes are logged.
func (h *Handler) MaybeRefresh(id string, s *session.Session) {
	if id == "" || !h.RefreshDue(s) {
		return
	}
	name := lockName(id)
	r := &h.refresh
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, busy := r.inflight[name]; busy {
		return
	}
	cp := *s
	cp.ID = id
	cp.Groups = slices.Clone(s.Groups)
	if !r.jobs.TryGo(func(ctx context.Context) { h.backgroundRefresh(ctx, name, &cp) }) {
		h.log.Debug("refresh skipped: all refresh workers busy or stopped")
		return
	}
	r.inflight[name] = struct{}{}
}

// backgroundRefresh runs one queued refresh within the refresh budget and
// logs a failure that Refresh has not.
func (h *Handler) backgroundRefresh(ctx context.Context, name string, s *session.Session) {
	defer func() {
		h.refresh.mu.Lock()
		delete(h.refresh.inflight, name)
		h.refresh.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(ctx, h.refreshBudget())
	defer cancel()
	_, err := h.Refresh(ctx, s)
	switch {
	case err == nil, errors.Is(err, ErrRefreshInProgress), errors.Is(err, ErrSessionGone):
	case errors.Is(err, ErrRefreshRejected):
		// Refresh logged the ended session.
	default:
		h.log.LogAttrs(ctx, slog.LevelWarn, "token refresh failed, will retry",
			slog.String("reason", string(ReasonRefreshFailed)),
			slog.String("subject", s.Subject), slog.String("error", err.Error()))
	}
}

// Run runs the background refreshes MaybeRefresh queues until ctx ends;
// then it queues no more and returns once those already queued or running
// have finished, each within its deadline (a refresh the provider has
// answered is saved rather than cut short, since its old refresh token may
// be spent). Run may be called once.
func (h *Handler) Run(ctx context.Context) error {
	if err := h.refresh.jobs.Run(ctx); err != nil {
		return fmt.Errorf("login: refreshes: %w", err)
	}
	return nil
}

// Refresh renews s's provider tokens with its refresh token and saves the
// session under the same ID and expiry, with the new tokens (the provider
// may rotate the refresh token) and the identity re-read from the new ID
// token and, if needed, userinfo, so group changes take effect. It returns
// the saved session.
//
// The latest stored version of the session is used; if it holds another
// refresh token than s, someone refreshed it since s was read and it is
// returned as is. With a Locker, only one replica refreshes a session at a
// time (ErrRefreshInProgress otherwise). The renewed session is saved only
// while the session is still stored, in one step (session.Manager.Update):
// one signed out or revoked at any moment of the refresh stays ended
// (ErrSessionGone).
//
// A refusal by the provider (invalid_grant) or unacceptable tokens end the
// session (ErrRefreshRejected). A transient failure (provider unreachable or
// answering 5xx, store trouble) keeps it, unless its tokens have already
// expired, in which case it ends too: a session never outlives its tokens
// by more than one failed refresh.
func (h *Handler) Refresh(ctx context.Context, s *session.Session) (*session.Session, error) {
	if s == nil || s.RefreshToken == "" && !s.HasRefreshToken {
		return nil, ErrNoRefreshToken
	}
	if h.locker != nil {
		lctx, cancel := context.WithTimeout(ctx, h.cfg.StoreTimeout)
		release, ok, err := h.locker.TryLock(lctx, lockName(s.ID), h.refreshBudget()+time.Second)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("login: refresh: take lock: %w", err)
		}
		if !ok {
			return nil, ErrRefreshInProgress
		}
		defer release()
	}
	cur, err := h.loadSession(ctx, s.ID)
	if err != nil {
		return nil, err
	}
	if s.RefreshToken != "" && cur.RefreshToken != s.RefreshToken && cur.RefreshToken != "" {
		return cur, nil // refreshed since s was read
	}
	if s.RefreshToken == "" && cur.RefreshToken != "" && !h.RefreshDue(cur) {
		return cur, nil // s was a cached copy; another replica refreshed since
	}
	if cur.RefreshToken == "" {
		return nil, ErrNoRefreshToken
	}

	next, f := h.renew(ctx, cur)
	h.observer.Refresh(f == nil)
	if f != nil {
		return nil, h.refreshFailed(ctx, cur, f)
	}
	// The session may have been signed out or revoked while the provider
	// answered, or may be a moment from it: never bring it back.
	if err := h.saveIfStored(ctx, next); err != nil {
		return nil, err
	}
	h.log.LogAttrs(ctx, slog.LevelInfo, "session refreshed",
		slog.String("user", next.User), slog.String("subject", next.Subject), slog.String("issuer", next.Issuer))
	return next, nil
}

// updater saves a session only while it is still stored, atomically;
// session.Manager is one.
type updater interface {
	Update(ctx context.Context, s *session.Session) error
}

// saveIfStored saves the refreshed session unless it has ended meanwhile
// (ErrSessionGone). A check followed by a save would let a revocation that
// lands between them be undone, so a store that cannot do both in one step
// is refused rather than used.
func (h *Handler) saveIfStored(ctx context.Context, next *session.Session) error {
	u, ok := h.store.(updater)
	if !ok {
		return fmt.Errorf("login: refresh: store %T cannot save only while the session exists", h.store)
	}
	sctx, cancel := context.WithTimeout(ctx, h.cfg.StoreTimeout)
	defer cancel()
	err := u.Update(sctx, next)
	switch {
	case errors.Is(err, session.ErrNotFound):
		return ErrSessionGone
	case err != nil:
		return fmt.Errorf("login: refresh: save session: %w", err)
	}
	return nil
}

// loadSession loads the session with this ID; a missing one is ErrSessionGone.
func (h *Handler) loadSession(ctx context.Context, id string) (*session.Session, error) {
	sctx, cancel := context.WithTimeout(ctx, h.cfg.StoreTimeout)
	defer cancel()
	cur, err := h.store.Load(sctx, id)
	switch {
	case errors.Is(err, session.ErrNotFound), errors.Is(err, session.ErrInvalidID):
		return nil, ErrSessionGone
	case err != nil:
		return nil, fmt.Errorf("login: refresh: load session: %w", err)
	}
	cur.ID = id
	return cur, nil
}

// renew redeems cur's refresh token and returns the session as it should
// be saved. A failure with status 503 is transient; any other is a refusal.
func (h *Handler) renew(ctx context.Context, cur *session.Session) (*session.Session, *failure) {
	pv, ok := h.byID(cur.Provider)
	if !ok {
		return nil, fail(http.StatusBadRequest, ReasonUnknownProvider, errors.New("the session's provider "+sanitize(cur.Provider)+" is no longer configured"))
	}
	p, err := pv.disc.get(ctx)
	if err != nil {
		return nil, fail(http.StatusServiceUnavailable, ReasonProviderUnavailable, err)
	}
	if pv.cfg.Connector != nil {
		return h.renewConnector(ctx, pv, p, cur)
	}
	cctx, cancel := context.WithTimeout(pv.disc.withClient(ctx), h.cfg.Timeout)
	defer cancel()
	// An expired token makes the source use the refresh grant at once.
	old := &oauth2.Token{RefreshToken: cur.RefreshToken, Expiry: time.Unix(1, 0)}
	tok, err := p.oauth.TokenSource(cctx, old).Token()
	if err != nil {
		f := providerFailure(ReasonRefreshFailed, err)
		// Only invalid_grant says this refresh token is dead. Anything else
		// (unreachable, 5xx, invalid_client, a garbled answer) is not the
		// session's fault: keep it and try again later.
		if re, ok := errors.AsType[*oauth2.RetrieveError](err); !ok || re.ErrorCode != "invalid_grant" {
			f.status = http.StatusServiceUnavailable
		}
		return nil, f
	}

	claims := map[string]any{"sub": cur.Subject}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID != "" {
		vctx, cancel := context.WithTimeout(pv.disc.withClient(ctx), h.cfg.Timeout)
		defer cancel()
		idt, err := p.verifier.Verify(vctx, rawID)
		if err != nil {
			if unreachable(err) {
				return nil, fail(http.StatusServiceUnavailable, ReasonProviderUnavailable, err)
			}
			return nil, fail(http.StatusBadRequest, ReasonInvalidIDToken, err)
		}
		// OIDC Core 12.2: same issuer and subject as the original ID token.
		if idt.Issuer != cur.Issuer || idt.Subject != cur.Subject {
			return nil, fail(http.StatusBadRequest, ReasonInvalidIDToken, errors.New("refreshed ID token names another issuer or subject"))
		}
		if idt.AccessTokenHash != "" {
			if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
				return nil, fail(http.StatusBadRequest, ReasonInvalidIDToken, err)
			}
		}
		claims = map[string]any{}
		if err := idt.Claims(&claims); err != nil {
			return nil, fail(http.StatusBadRequest, ReasonInvalidIDToken, err)
		}
	}
	id, f := h.identityFrom(ctx, pv, p, tok, claims, cur.Subject)
	if f != nil {
		if f.status >= 500 {
			f.status = http.StatusServiceUnavailable
		}
		return nil, f
	}

	next := *cur
	next.User = id.user
	next.Email = id.email
	next.EmailVerified = id.emailVerified
	next.PreferredUsername = id.preferredUsername
	next.Groups = id.groups
	if next.SID == "" {
		next.SID = id.sid
	}
	if rawID != "" {
		next.IDToken = rawID
	}
	next.AccessToken = tok.AccessToken
	next.RefreshToken = tok.RefreshToken // the old one if none was returned
	next.TokenExpiry = tok.Expiry
	return &next, nil
}

// refreshFailed decides the fate of cur after a failed refresh: a refusal,
// or a transient failure once the tokens have expired, ends the session.
func (h *Handler) refreshFailed(ctx context.Context, cur *session.Session, f *failure) error {
	transient := f.status == http.StatusServiceUnavailable
	if transient && (cur.TokenExpiry.IsZero() || h.cfg.Now().Before(cur.TokenExpiry)) {
		return fmt.Errorf("login: refresh: %w", f)
	}
	// The request may have run out of time: ending the session must not.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.cfg.StoreTimeout)
	defer cancel()
	// A refresh elsewhere (without a shared Locker) may have rotated the
	// token we used: then the refusal says nothing about the session.
	if now, err := h.store.Load(dctx, cur.ID); err == nil && now.RefreshToken != cur.RefreshToken {
		return fmt.Errorf("login: refresh: %w (the session was refreshed elsewhere meanwhile)", f)
	}
	if err := h.store.Delete(dctx, cur.ID); err != nil {
		return fmt.Errorf("login: refresh failed (%v) and the session could not be ended: %w", f, err)
	}
	why := "provider refused the refresh"
	if transient {
		why = "tokens expired and the provider could not refresh them"
	}
	h.log.LogAttrs(ctx, slog.LevelWarn, "session ended: "+why,
		slog.String("reason", string(ReasonRefreshFailed)),
		slog.String("detail", f.Error()),
		slog.String("user", cur.User), slog.String("subject", cur.Subject), slog.String("issuer", cur.Issuer))
	return fmt.Errorf("%w: %v", ErrRefreshRejected, f)
}
