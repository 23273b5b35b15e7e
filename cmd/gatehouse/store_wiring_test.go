package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/check"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/oidctest"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/cookie"
)

// wiredApp builds the app serve would from env on top of baseEnv.
func wiredApp(t *testing.T, extra map[string]string) (*app, *config.Config) {
	t.Helper()
	prefix := fmt.Sprintf("gatehouse-test:%d:", time.Now().UnixNano())
	requireRedis(t, prefix)
	p := oidctest.Start(t, oidctest.Options{})
	env := baseEnv(t, p, prefix)
	env["GATEHOUSE_COOKIE_SECRETS"] = randomKey(t)
	env["GATEHOUSE_OIDC_REDIRECT_URL"] = "https://auth.example.com/oauth2/callback"
	for k, v := range extra {
		env[k] = v
	}
	a, cfg := appFromEnv(t, env)
	t.Cleanup(a.Close)
	return a, cfg
}

// TestIdleTimeoutHoldsForTokenPolicies: with session.idle_timeout set, a
// session unused for longer is refused on the check path whether or not
// the policy needs the session's tokens (headers.access_token), with the
// memory store and with Redis behind the cache.
func TestIdleTimeoutHoldsForTokenPolicies(t *testing.T) {
	for _, store := range []string{"memory", "redis"} {
		for _, tokens := range []string{"true", "false"} {
			t.Run(store+"/access_token="+tokens, func(t *testing.T) {
				a, cfg := wiredApp(t, map[string]string{
					"GATEHOUSE_SESSION_STORE":               store,
					"GATEHOUSE_SESSION_IDLE_TIMEOUT":        "30m",
					"GATEHOUSE_HEADERS_ACCESS_TOKEN":        tokens,
					"GATEHOUSE_ACCESS_EMAIL_DOMAINS":        "example.com",
					"GATEHOUSE_REDIRECT_ALLOWED_DOMAINS":    "app.example.com",
					"GATEHOUSE_SESSION_TIMEOUT":             "2s",
					"GATEHOUSE_OIDC_ALLOW_UNVERIFIED_EMAIL": "false",
				})
				codec, err := cookie.NewCodec(cfg.CookieKeys(), nil)
				if err != nil {
					t.Fatal(err)
				}
				ctx := context.Background()
				cookie := func(idleFor time.Duration) string {
					id, _ := session.NewID()
					now := time.Now()
					s := &session.Session{ID: id, Issuer: "https://idp.example.com", Subject: "s-alice", User: "alice",
						Email: "alice@example.com", EmailVerified: true, AccessToken: "at-alice",
						CreatedAt: now.Add(-idleFor), LastSeenAt: now.Add(-idleFor), ExpiresAt: now.Add(8 * time.Hour)}
					if err := a.stores.fresh.Save(ctx, s); err != nil {
						t.Fatal(err)
					}
					v, err := codec.SealID(a.checker.CookieName(), id, s.ExpiresAt)
					if err != nil {
						t.Fatal(err)
					}
					return a.checker.CookieName() + "=" + v
				}
				req := &authz.Request{Method: "GET", Scheme: "https", Host: "app.example.com", Path: "/", Accept: "text/html"}
				if d := a.checker.Check(ctx, req, check.Credentials{Cookie: cookie(time.Minute)}); d.Outcome != authz.Allow {
					t.Fatalf("session used a minute ago: %v/%s", d.Outcome, d.Reason)
				}
				d := a.checker.Check(ctx, req, check.Credentials{Cookie: cookie(31 * time.Minute)})
				if d.Outcome != authz.Unauthenticated || d.Reason != authz.ReasonInvalidSession {
					t.Fatalf("session idle for 31m with idle_timeout 30m: %v/%s, want an invalid session", d.Outcome, d.Reason)
				}
			})
		}
	}
}

// TestCheckStoreEveryReadThroughEveryLayer: the check path's one view of
// the store, as wired, refuses an idle session through each of its reads
// and records each in the metrics.
func TestCheckStoreEveryReadThroughEveryLayer(t *testing.T) {
	for _, store := range []string{"memory", "redis"} {
		t.Run(store, func(t *testing.T) {
			a, _ := wiredApp(t, map[string]string{"GATEHOUSE_SESSION_STORE": store, "GATEHOUSE_SESSION_IDLE_TIMEOUT": "30m"})
			ctx := context.Background()
			reads := map[string]func(id string) (*session.Session, error){
				"LoadIdentity":   func(id string) (*session.Session, error) { return a.stores.check.LoadIdentity(ctx, id) },
				"LoadWithTokens": func(id string) (*session.Session, error) { return a.stores.check.LoadWithTokens(ctx, id) },
				"Load":           func(id string) (*session.Session, error) { return a.stores.check.Load(ctx, id) },
			}
			for name, read := range reads {
				id, _ := session.NewID()
				now := time.Now()
				s := &session.Session{ID: id, Subject: "s", Email: "a@example.com",
					CreatedAt: now.Add(-time.Hour), LastSeenAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Hour)}
				if err := a.stores.fresh.Save(ctx, s); err != nil {
					t.Fatal(err)
				}
				before := storeLoads(t, a)
				if _, err := read(id); err == nil {
					t.Errorf("%s served a session idle for an hour", name)
				}
				if storeLoads(t, a) == before {
					t.Errorf("%s was not recorded in the metrics", name)
				}
			}
		})
	}
}

// storeLoads is the count of the session store's recorded load operations.
func storeLoads(t *testing.T, a *app) float64 {
	t.Helper()
	mfs, err := a.metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "gatehouse_session_store_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "op" && l.GetValue() == "load" {
					return float64(m.GetHistogram().GetSampleCount())
				}
			}
		}
	}
	return 0
}

// TestHostOnlySecureCookieUsesHostPrefix: without cookie.domain and with
// secure cookies, the session cookie is __Host-<cookie.name> for the check
// path and login alike; with a domain it keeps its name.
func TestHostOnlySecureCookieUsesHostPrefix(t *testing.T) {
	for _, tc := range []struct{ secure, domain, want string }{
		{"true", "", "__Host-_gatehouse"},
		{"true", "example.com", "_gatehouse"},
		{"false", "", "_gatehouse"},
	} {
		a, _ := wiredApp(t, map[string]string{"GATEHOUSE_SESSION_STORE": "memory", "GATEHOUSE_COOKIE_SECURE": tc.secure, "GATEHOUSE_COOKIE_DOMAIN": tc.domain})
		if got := a.checker.CookieName(); got != tc.want {
			t.Errorf("secure=%s domain=%q: session cookie %q, want %q", tc.secure, tc.domain, got, tc.want)
		}
		// Login sets its state cookie under the same (prefixed) name.
		rec := httptest.NewRecorder()
		a.login.ServeHTTP(rec, httptest.NewRequest("GET", "https://auth.example.com/oauth2/start?rd=/", nil))
		set := rec.Result().Header.Values("Set-Cookie")
		if len(set) == 0 || !strings.HasPrefix(set[0], tc.want+"_login_") {
			var names []string
			for _, c := range set {
				name, _, _ := strings.Cut(c, "=")
				names = append(names, name)
			}
			t.Errorf("secure=%s domain=%q: login start (%d) set cookies %q, want %s_login_<hash>", tc.secure, tc.domain, rec.Code, names, tc.want)
		}
	}
}

// TestRedisRecordFormatWired: redis.record_format reaches the Redis store:
// with "v2" a saved session is stored in the JSON format of releases
// before v3 (which they can read), by default in v3.
func TestRedisRecordFormatWired(t *testing.T) {
	for format, first := range map[string]byte{"v2": '{', "v3": 0x03} {
		t.Run(format, func(t *testing.T) {
			a, cfg := wiredApp(t, map[string]string{"GATEHOUSE_SESSION_STORE": "redis", "GATEHOUSE_REDIS_RECORD_FORMAT": format})
			ctx := context.Background()
			id, _ := session.NewID()
			now := time.Now()
			if err := a.stores.fresh.Save(ctx, &session.Session{ID: id, Subject: "s", Email: "a@example.com", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			h, _ := session.HandleOf(id)
			rc := redis.NewClient(&redis.Options{Addr: testRedisAddr()})
			defer rc.Close()
			data, err := rc.Get(ctx, cfg.Redis.KeyPrefix+"session:{"+h+"}").Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if data[0] != first {
				t.Errorf("record_format %s: stored record starts with %#x, want %#x", format, data[0], first)
			}
		})
	}
}
