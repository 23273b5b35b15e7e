package login_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/login"
	"github.com/gatehouse/gatehouse/internal/oidctest"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/cookie"
)

// signIn logs username in with a fresh browser and returns the session
// the callback stored and the browser.
func (e *env) signIn(t *testing.T, username, password string) (*session.Session, *http.Client) {
	t.Helper()
	c := newClient(t)
	resp, err := e.op.Login(context.Background(), c, e.startURL("/"), username, password)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("sign-in: status %d: %s", resp.StatusCode, body(resp))
	}
	id, err := e.codec.OpenID(cookieName, setCookie(resp, cookieName).Value)
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.store.Load(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func (e *env) stored(t *testing.T, id string) *session.Session {
	t.Helper()
	s, err := e.store.Load(context.Background(), id)
	if errors.Is(err, session.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// shutdown ends the Run of each Handler (made by newHandler) and waits for
// its refreshes to finish.
func shutdown(t *testing.T, hs ...*login.Handler) {
	t.Helper()
	for _, h := range hs {
		stop, ok := stops.Load(h)
		if !ok {
			t.Fatal("shutdown of a Handler that newHandler did not start")
		}
		if err := stop.(func() error)(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRefresh(t *testing.T) {
	e := newEnv(t, envOptions{})
	s, _ := e.signIn(t, "alice", "wonderland")
	before := e.op.RefreshRequests()

	ns, err := e.h.Refresh(context.Background(), s)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if n := e.op.RefreshRequests() - before; n != 1 {
		t.Fatalf("%d refresh grants at the provider, want 1", n)
	}
	if ns.ID != s.ID || !ns.ExpiresAt.Equal(s.ExpiresAt) || !ns.CreatedAt.Equal(s.CreatedAt) || ns.SID != s.SID {
		t.Fatal("refresh changed the session's ID, lifetime or sid")
	}
	if ns.RefreshToken == "" || ns.RefreshToken == s.RefreshToken || ns.AccessToken == s.AccessToken ||
		ns.IDToken == "" || ns.IDToken == s.IDToken {
		t.Fatal("refresh did not store the provider's new tokens")
	}
	if ns.TokenExpiry.Before(s.TokenExpiry) {
		t.Fatalf("token expiry went back from %v to %v", s.TokenExpiry, ns.TokenExpiry)
	}
	got := e.stored(t, s.ID)
	if got == nil || got.RefreshToken != ns.RefreshToken || got.AccessToken != ns.AccessToken {
		t.Fatal("the refreshed session was not saved")
	}
	if len(e.store.all()) != 1 {
		t.Fatal("refresh created another session")
	}

	// The old refresh token was rotated away at the provider; refreshing
	// with the stale copy s uses the stored token, not the dead one.
	again, err := e.h.Refresh(context.Background(), s)
	if err != nil || again.RefreshToken != ns.RefreshToken {
		t.Fatalf("refresh with a stale copy: %v (token reused: %v)", err, again != nil && again.RefreshToken == ns.RefreshToken)
	}
	if n := e.op.RefreshRequests() - before; n != 1 {
		t.Fatalf("a stale copy caused another refresh grant (%d in all)", n)
	}
	// With the latest copy it refreshes again.
	if _, err := e.h.Refresh(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	if n := e.op.RefreshRequests() - before; n != 2 {
		t.Fatalf("%d refresh grants, want 2", n)
	}

	logs := e.logs.String()
	for _, secret := range []string{s.RefreshToken, ns.RefreshToken, ns.AccessToken, ns.IDToken, s.ID} {
		if strings.Contains(logs, secret) {
			t.Fatal("a token or session ID reached the log")
		}
	}
}

func TestRefreshNoRefreshToken(t *testing.T) {
	e := newEnv(t, envOptions{config: func(c *login.Config) { c.Scopes = []string{"openid", "email", "profile", "groups"} }})
	s, _ := e.signIn(t, "alice", "wonderland")
	if s.RefreshToken != "" {
		t.Fatal("premise: without offline_access the provider issues no refresh token")
	}
	before := e.op.RefreshRequests()
	if _, err := e.h.Refresh(context.Background(), s); !errors.Is(err, login.ErrNoRefreshToken) {
		t.Fatalf("Refresh without a refresh token: %v", err)
	}
	e.clock.Advance(time.Hour)
	e.h.MaybeRefresh(s.ID, s)
	shutdown(t, e.h)
	if e.op.RefreshRequests() != before || e.stored(t, s.ID) == nil {
		t.Fatal("a session without a refresh token was refreshed or ended")
	}
}

func TestRefreshPicksUpGroupChanges(t *testing.T) {
	for _, userinfoOnly := range []bool{false, true} {
		t.Run(map[bool]string{false: "claims in ID token", true: "claims from userinfo"}[userinfoOnly], func(t *testing.T) {
			e := newEnv(t, envOptions{op: oidctest.Options{ClaimsInUserinfoOnly: userinfoOnly}})
			s, _ := e.signIn(t, "alice", "wonderland")
			if !slices.Equal(s.Groups, aliceUser.Groups) {
				t.Fatalf("groups at sign-in %q", s.Groups)
			}
			changed := aliceUser
			changed.Groups = []string{"ops"}
			changed.Email = "alice@new.example.com"
			if err := e.op.SetUser(changed); err != nil {
				t.Fatal(err)
			}
			ns, err := e.h.Refresh(context.Background(), s)
			if err != nil {
				t.Fatal(err)
			}
			got := e.stored(t, s.ID)
			if !slices.Equal(ns.Groups, []string{"ops"}) || !slices.Equal(got.Groups, []string{"ops"}) || got.Email != changed.Email {
				t.Fatalf("after refresh: groups %q, email %q; want [ops], %s", got.Groups, got.Email, changed.Email)
			}

			// An identity that may no longer sign in ends the session.
			changed.EmailVerified = false
			if err := e.op.SetUser(changed); err != nil {
				t.Fatal(err)
			}
			if _, err := e.h.Refresh(context.Background(), ns); !errors.Is(err, login.ErrRefreshRejected) {
				t.Fatalf("refresh to an unverified email: %v, want ErrRefreshRejected", err)
			}
			if e.stored(t, s.ID) != nil {
				t.Fatal("session kept although its email is no longer verified")
			}
		})
	}
}

func TestRefreshRevokedEndsSession(t *testing.T) {
	e := newEnv(t, envOptions{})
	s, _ := e.signIn(t, "alice", "wonderland")
	other, _ := e.signIn(t, "alice", "wonderland")
	e.op.Revoke("alice-1")
	before := e.op.RefreshRequests()
	_, err := e.h.Refresh(context.Background(), s)
	if !errors.Is(err, login.ErrRefreshRejected) {
		t.Fatalf("refresh with a revoked token: %v, want ErrRefreshRejected", err)
	}
	if e.op.RefreshRequests()-before != 1 {
		t.Fatal("the provider was not asked")
	}
	if e.stored(t, s.ID) != nil {
		t.Fatal("session kept after the provider refused its refresh token")
	}
	if e.stored(t, other.ID) == nil {
		t.Fatal("another session was ended (it has not been refreshed yet)")
	}
	if logs := e.logs.String(); !strings.Contains(logs, `"reason":"refresh_failed"`) || !strings.Contains(logs, "invalid_grant") {
		t.Fatalf("the ended session is not logged with reason refresh_failed:\n%s", logs)
	}

	// The same through MaybeRefresh, once due.
	e.h.MaybeRefresh(other.ID, other)
	shutdown(t, e.h)
	if e.stored(t, other.ID) == nil {
		t.Fatal("MaybeRefresh refreshed a session not yet due")
	}
	e.clock.Advance(time.Until(other.TokenExpiry))
	h := e.newHandler(t, login.Options{})
	h.MaybeRefresh(other.ID, other)
	shutdown(t, h)
	if e.stored(t, other.ID) != nil {
		t.Fatal("MaybeRefresh kept a session whose refresh token was revoked")
	}
}

// TestSignOutAtProviderEndsOtherSessions: signing out in one browser ends
// the user's provider session, so the other browser's session ends at its
// next refresh.
func TestSignOutAtProviderEndsOtherSessions(t *testing.T) {
	e := newEnv(t, envOptions{})
	_, a := e.signIn(t, "alice", "wonderland")
	sb, _ := e.signIn(t, "alice", "wonderland")
	resp := get(t, a, e.srv.URL+login.SignOutPath+"?rd=/bye")
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("sign_out: %d", resp.StatusCode)
	}
	if resp = get(t, a, resp.Header.Get("Location")); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != e.srv.URL+"/bye" {
		t.Fatalf("end_session: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := e.store.all(); len(got) != 1 || got[0].ID != sb.ID {
		t.Fatal("sign_out did not end exactly the browser's own session")
	}
	if _, err := e.h.Refresh(context.Background(), sb); !errors.Is(err, login.ErrRefreshRejected) {
		t.Fatalf("refresh after provider sign-out: %v", err)
	}
	e.assertNoSession(t)
}

func TestMaybeRefreshMargin(t *testing.T) {
	e := newEnv(t, envOptions{config: func(c *login.Config) { c.RefreshMargin = 30 * time.Second }})
	s, _ := e.signIn(t, "alice", "wonderland")
	before := e.op.RefreshRequests()

	// Tokens valid for minutes: nothing happens.
	e.h.MaybeRefresh(s.ID, s)
	e.clock.Advance(time.Until(s.TokenExpiry) - 31*time.Second)
	e.h.MaybeRefresh(s.ID, s)
	if e.h.RefreshDue(s) {
		t.Fatal("due 31s before expiry with a 30s margin")
	}
	noTok := *s
	noTok.RefreshToken = ""
	e.clock.Advance(time.Hour)
	e.h.MaybeRefresh(s.ID, &noTok) // due, but nothing to refresh with
	e.clock.Advance(-time.Hour)
	e.h.MaybeRefresh("", s) // no ID: nothing to save under
	h2 := e.newHandler(t, login.Options{})
	shutdown(t, e.h)
	if n := e.op.RefreshRequests() - before; n != 0 {
		t.Fatalf("%d refreshes before the margin", n)
	}

	// Within the margin: refreshed in the background.
	e.clock.Advance(2 * time.Second)
	if !h2.RefreshDue(s) {
		t.Fatal("not due 29s before expiry")
	}
	h2.MaybeRefresh(s.ID, s)
	shutdown(t, h2)
	if n := e.op.RefreshRequests() - before; n != 1 {
		t.Fatalf("%d refreshes within the margin, want 1", n)
	}
	if got := e.stored(t, s.ID); got == nil || got.RefreshToken == s.RefreshToken {
		t.Fatal("background refresh did not save new tokens")
	}

}

// TestMaybeRefreshRunsUnderRun: a background refresh starts only under
// Handler.Run (one queued before Run waits for it), and Run returns only
// once it has finished; a second Run is refused.
func TestMaybeRefreshRunsUnderRun(t *testing.T) {
	e := newEnv(t, envOptions{})
	s, _ := e.signIn(t, "alice", "wonderland")
	h, err := login.New(e.cfg, e.store, e.codec, cookie.Settings{Name: cookieName}, e.rv, login.Options{Logger: e.logger})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Until(s.TokenExpiry))
	before := e.op.RefreshRequests()
	h.MaybeRefresh(s.ID, s)
	time.Sleep(100 * time.Millisecond)
	if n := e.op.RefreshRequests() - before; n != 0 {
		t.Fatalf("%d refreshes before Run", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Run starts what is queued, then stops
	if err := h.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.op.RefreshRequests() - before; n != 1 {
		t.Fatalf("%d refreshes after Run returned, want the queued one", n)
	}
	if got := e.stored(t, s.ID); got == nil || got.RefreshToken == s.RefreshToken {
		t.Fatal("the queued refresh did not save new tokens")
	}
	if err := h.Run(context.Background()); err == nil {
		t.Fatal("a second Run was accepted")
	}
}

// TestMaybeRefreshDedupInProcess: many concurrent requests of one session
// cause one refresh; without deduplication they would race with the same
// rotating refresh token and the losers would end the session.
func TestMaybeRefreshDedupInProcess(t *testing.T) {
	e := newEnv(t, envOptions{})
	s, _ := e.signIn(t, "alice", "wonderland")
	e.clock.Advance(time.Until(s.TokenExpiry))
	before := e.op.RefreshRequests()
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() { e.h.MaybeRefresh(s.ID, s) })
	}
	wg.Wait()
	shutdown(t, e.h)
	if n := e.op.RefreshRequests() - before; n != 1 {
		t.Fatalf("%d refresh grants for 50 concurrent requests, want 1", n)
	}
	if got := e.stored(t, s.ID); got == nil || got.RefreshToken == s.RefreshToken {
		t.Fatal("session lost or not refreshed")
	}
}

// TestRefreshLockAcrossReplicas: two Handlers (replicas) sharing one lock
// refresh a session once between them.
func TestRefreshLockAcrossReplicas(t *testing.T) {
	locks := newFakeLocker()
	e := newEnv(t, envOptions{opts: login.Options{Locker: locks}})
	h2 := e.newHandler(t, login.Options{Locker: locks})
	s, _ := e.signIn(t, "alice", "wonderland")
	e.clock.Advance(time.Until(s.TokenExpiry))
	before := e.op.RefreshRequests()

	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { e.h.MaybeRefresh(s.ID, s) })
		wg.Go(func() { h2.MaybeRefresh(s.ID, s) })
	}
	wg.Wait()
	shutdown(t, e.h, h2)
	if n := e.op.RefreshRequests() - before; n != 1 {
		t.Fatalf("%d refresh grants from two replicas, want 1", n)
	}
	got := e.stored(t, s.ID)
	if got == nil || got.RefreshToken == s.RefreshToken {
		t.Fatal("session lost or not refreshed")
	}
	if locks.taken.Load() == 0 {
		t.Fatal("the lock was never taken")
	}
	if held := locks.names(); len(held) != 0 {
		t.Fatalf("locks still held after the refresh: %q", held)
	}

	// While another replica holds the lock, nobody here calls the provider.
	names := lockNamesFor(t, e, got, locks)
	if len(names) != 1 {
		t.Fatalf("one refresh took locks %q", names)
	}
	name := names[0]
	if !strings.HasPrefix(name, "refresh:") || strings.Contains(name, got.ID) {
		t.Fatalf("lock name %q must be refresh:<hash>, never the session ID", name)
	}
	rel, ok, _ := locks.TryLock(context.Background(), name, time.Minute)
	if !ok {
		t.Fatal("could not take the session's lock")
	}
	before = e.op.RefreshRequests()
	if _, err := h2.Refresh(context.Background(), got); !errors.Is(err, login.ErrRefreshInProgress) {
		t.Fatalf("Refresh while locked elsewhere: %v, want ErrRefreshInProgress", err)
	}
	if e.op.RefreshRequests() != before {
		t.Fatal("the provider was called while another replica held the lock")
	}
	rel()

	// A lock store that fails keeps the session and calls nobody.
	locks.fail.Store(true)
	if _, err := h2.Refresh(context.Background(), got); err == nil || errors.Is(err, login.ErrRefreshRejected) {
		t.Fatalf("Refresh with the lock store down: %v", err)
	}
	if e.op.RefreshRequests() != before || e.stored(t, s.ID) == nil {
		t.Fatal("refresh went ahead, or the session ended, without the lock")
	}
}

// lockNamesFor finds the lock name a Handler uses for s, by watching which
// name a refresh takes.
func lockNamesFor(t *testing.T, e *env, s *session.Session, locks *fakeLocker) []string {
	t.Helper()
	rec := &recordingLocker{inner: locks}
	h := e.newHandler(t, login.Options{Locker: rec})
	if _, err := h.Refresh(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return rec.names
}

type recordingLocker struct {
	inner login.Locker
	names []string
}

func (r *recordingLocker) TryLock(ctx context.Context, name string, ttl time.Duration) (func(), bool, error) {
	r.names = append(r.names, name)
	return r.inner.TryLock(ctx, name, ttl)
}

// TestRefreshTransientFailure: with the provider unreachable the session is
// kept while its tokens are valid, and ended once they have expired.
func TestRefreshTransientFailure(t *testing.T) {
	front := httptest.NewUnstartedServer(nil)
	flaky := &flakyIdP{}
	front.Config.Handler = flaky
	front.Start()
	t.Cleanup(front.Close)
	e := newEnv(t, envOptions{op: oidctest.Options{Issuer: front.URL}})
	flaky.proxy = reverseTo(t, e)

	s, _ := e.signIn(t, "alice", "wonderland")
	flaky.down.Store(true)
	before := e.op.RefreshRequests()
	_, err := e.h.Refresh(context.Background(), s)
	if err == nil || errors.Is(err, login.ErrRefreshRejected) {
		t.Fatalf("refresh with the provider down: %v, want a transient error", err)
	}
	if e.stored(t, s.ID) == nil {
		t.Fatal("a transient failure ended a session whose tokens are still valid")
	}
	// Background refreshes behave the same.
	e.clock.Advance(time.Until(s.TokenExpiry) - 10*time.Second)
	e.h.MaybeRefresh(s.ID, s)
	shutdown(t, e.h)
	if e.stored(t, s.ID) == nil {
		t.Fatal("a background transient failure ended the session")
	}

	// Tokens expired and the provider still down: the session ends.
	e.clock.Advance(20 * time.Second)
	if _, err := e.newHandler(t, login.Options{}).Refresh(context.Background(), s); !errors.Is(err, login.ErrRefreshRejected) {
		t.Fatalf("refresh of expired tokens with the provider down: %v, want ErrRefreshRejected", err)
	}
	if e.stored(t, s.ID) != nil {
		t.Fatal("session outlived its tokens")
	}
	if e.op.RefreshRequests() != before {
		t.Fatal("the provider saw a refresh although it was down")
	}
}

func TestRefreshDoesNotResurrect(t *testing.T) {
	e := newEnv(t, envOptions{})
	s, _ := e.signIn(t, "alice", "wonderland")
	if err := e.store.Delete(context.Background(), s.ID); err != nil {
		t.Fatal(err)
	}
	before := e.op.RefreshRequests()
	if _, err := e.h.Refresh(context.Background(), s); !errors.Is(err, login.ErrSessionGone) {
		t.Fatalf("refresh of a deleted session: %v, want ErrSessionGone", err)
	}
	e.assertNoSession(t)
	if e.op.RefreshRequests() != before {
		t.Fatal("a deleted session was refreshed at the provider")
	}

	// Store trouble: an error, the session untouched.
	s, _ = e.signIn(t, "alice", "wonderland")
	e.store.fail.Store(true)
	if _, err := e.h.Refresh(context.Background(), s); err == nil || errors.Is(err, login.ErrRefreshRejected) {
		t.Fatalf("refresh with the store down: %v", err)
	}
	e.store.fail.Store(false)
	if e.stored(t, s.ID) == nil {
		t.Fatal("store failure ended the session")
	}
}

// TestRefreshFromCachedCopy: the check path may hold a cached copy without
// tokens (HasRefreshToken set); a due refresh still happens, with the
// stored tokens, and a stale cached copy afterwards causes no second grant.
func TestRefreshFromCachedCopy(t *testing.T) {
	e := newEnv(t, envOptions{})
	s, _ := e.signIn(t, "alice", "wonderland")
	cached := *s
	cached.IDToken, cached.AccessToken, cached.RefreshToken, cached.HasRefreshToken = "", "", "", true
	// Within the refresh margin, before the ID token expires.
	e.clock.Advance(4*time.Minute + 30*time.Second)
	if !e.h.RefreshDue(&cached) {
		t.Fatal("a cached copy with HasRefreshToken is never due")
	}
	before := e.op.RefreshRequests()
	ns, err := e.h.Refresh(context.Background(), &cached)
	if err != nil {
		t.Fatalf("Refresh from a cached copy: %v", err)
	}
	if e.op.RefreshRequests()-before != 1 || ns.RefreshToken == s.RefreshToken {
		t.Fatal("the cached copy did not lead to a refresh with the stored tokens")
	}
	// Back to the provider's time: the new tokens are far from expiry.
	e.clock.Advance(-(4*time.Minute + 30*time.Second))
	if _, err := e.h.Refresh(context.Background(), &cached); err != nil {
		t.Fatal(err)
	}
	if n := e.op.RefreshRequests() - before; n != 1 {
		t.Fatalf("a stale cached copy caused %d grants, want 1", n)
	}
}
