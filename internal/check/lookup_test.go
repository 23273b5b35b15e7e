package check

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/cache"
	"github.com/gatehouse/gatehouse/internal/session/cookie"
	"github.com/gatehouse/gatehouse/internal/session/idle"
	"github.com/gatehouse/gatehouse/internal/session/redisstore"
)

// seal saves a session for user and returns its cookie value.
func (e *env) seal(t *testing.T, st session.Store, user, email string, mod func(*session.Session)) (string, string) {
	t.Helper()
	id, err := session.NewID()
	if err != nil {
		t.Fatal(err)
	}
	s := &session.Session{ID: id, Subject: "s-" + user, User: user, Email: email, EmailVerified: true, Groups: []string{"dev"},
		CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour), AccessToken: "at-" + user, IDToken: idToken(`{"sub":"s-` + user + `"}`)}
	if mod != nil {
		mod(s)
	}
	if err := st.Save(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	v, err := e.codec.SealID("_gh", id, s.ExpiresAt)
	if err != nil {
		t.Fatal(err)
	}
	return id, v
}

// TestPlantedCookieNeverSignsIn: a second session cookie of the same name
// in one Cookie header (planted by a sibling subdomain, say) never signs
// the browser in as either session: it is an invalid session, answered
// with a login redirect that clears the cookie.
func TestPlantedCookieNeverSignsIn(t *testing.T) {
	e := newEnv(t, policy())
	_, mallory := e.seal(t, e.store, "mallory", "mallory@example.com", nil)
	victim := strings.TrimPrefix(e.cookie, "_gh=")
	ctx := context.Background()
	for name, header := range map[string]string{
		"planted first":         "_gh=" + mallory + "; _gh=" + victim,
		"planted last":          "_gh=" + victim + "; _gh=" + mallory,
		"among other cookies":   "theme=dark; _gh=" + mallory + "; lang=en; _gh=" + victim,
		"garbage second copy":   "_gh=" + victim + "; _gh=garbage",
		"planted quoted":        `_gh="` + mallory + `"; _gh=` + victim,
		"many copies of victim": strings.Repeat("_gh="+victim+"; ", 9),
	} {
		d := e.c.Check(ctx, browser("app.example.com", "/"), Credentials{Cookie: header})
		if d.Outcome != authz.Unauthenticated || d.Reason != authz.ReasonInvalidSession {
			user, _ := hdr(d.UpstreamHeaders, "X-User")
			t.Errorf("%s: %v/%s (user %q), want an invalid session", name, d.Outcome, d.Reason, user)
			continue
		}
		if v, _ := hdr(d.Reply.Headers, "Set-Cookie"); !strings.HasPrefix(v, "_gh=;") || !strings.Contains(v, "Max-Age=0") {
			t.Errorf("%s: the cookie is not cleared: Set-Cookie %q", name, v)
		}
	}
	// The same session twice (two paths, say) is still that session.
	d := e.c.Check(ctx, browser("app.example.com", "/"), Credentials{Cookie: e.cookie + "; a=1; " + e.cookie})
	if user, _ := hdr(d.UpstreamHeaders, "X-User"); d.Outcome != authz.Allow || user != "alice" {
		t.Fatalf("one session in two copies: %v/%s as %q", d.Outcome, d.Reason, user)
	}
}

// newRedis returns a Redis store with a key prefix of its own on the test
// Redis (failing t if it is unreachable), its keys deleted when t ends.
func newRedis(t *testing.T) *redisstore.Store {
	t.Helper()
	addr := os.Getenv("GATEHOUSE_TEST_REDIS")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "gatehouse-test:" + hex.EncodeToString(b) + ":"
	rc := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rc.Ping(ctx).Err(); err != nil {
		t.Fatalf("Redis at %s unreachable (set GATEHOUSE_TEST_REDIS): %v", addr, err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		if keys, _ := rc.Keys(ctx, prefix+"*").Result(); len(keys) > 0 {
			rc.Del(ctx, keys...)
		}
		_ = rc.Close()
	})
	st := redisstore.NewFromClient(rc, prefix)
	return st
}

// TestTokenPoliciesReadThroughEveryLayer: over Redis, the cache (which
// keeps no tokens) and the idle timeout, a policy that sends the access
// token upstream gets the stored token, and a session idle past the
// timeout is refused whether the policy needs the tokens or not.
func TestTokenPoliciesReadThroughEveryLayer(t *testing.T) {
	e := newEnv(t, policy())
	rs := newRedis(t)
	cached, err := cache.New(rs, cache.Options{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	cacheCtx, stopCache := context.WithCancel(context.Background())
	cacheDone := make(chan error, 1)
	go func() { cacheDone <- cached.Run(cacheCtx) }()
	t.Cleanup(func() { stopCache(); <-cacheDone })
	idle, err := idle.New(cached, idle.Options{Timeout: 30 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	idleCtx, stopIdle := context.WithCancel(context.Background())
	idleDone := make(chan error, 1)
	go func() { idleDone <- idle.Run(idleCtx) }()
	t.Cleanup(func() { stopIdle(); <-idleDone })
	cs := cookie.Settings{Name: "_gh", Secure: true}
	withTokens := policy()
	identityOnly := policy()
	identityOnly.Headers.AccessToken, identityOnly.Headers.Authorization = "", ""
	identityOnly.Rules = nil
	ctx := context.Background()

	_, live := e.seal(t, idle, "bob", "bob@example.com", nil)
	for name, p := range map[string]*authz.Policy{"token policy": withTokens, "identity policy": identityOnly} {
		c := New(idle, e.codec, cs, p, Options{})
		d := c.Check(ctx, browser("app.example.com", "/"), Credentials{Cookie: "_gh=" + live})
		if d.Outcome != authz.Allow {
			t.Fatalf("%s: live session: %v/%s", name, d.Outcome, d.Reason)
		}
		if tok, _ := hdr(d.UpstreamHeaders, "X-Auth-Request-Access-Token"); p == withTokens && tok != "at-bob" {
			t.Errorf("%s: access token header = %q, want the stored token", name, tok)
		}
	}
	for name, p := range map[string]*authz.Policy{"token policy": withTokens, "identity policy": identityOnly} {
		_, stale := e.seal(t, idle, "bob", "bob@example.com", func(s *session.Session) {
			s.CreatedAt, s.LastSeenAt = time.Now().Add(-2*time.Hour), time.Now().Add(-31*time.Minute)
		})
		c := New(idle, e.codec, cs, p, Options{})
		d := c.Check(ctx, browser("app.example.com", "/"), Credentials{Cookie: "_gh=" + stale})
		if d.Outcome != authz.Unauthenticated || d.Reason != authz.ReasonInvalidSession {
			t.Errorf("%s: a session idle for 31m: %v/%s, want an invalid session", name, d.Outcome, d.Reason)
		}
	}
}
