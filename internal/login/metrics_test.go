package login_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/gatehouse/gatehouse/internal/login"
	"github.com/gatehouse/gatehouse/internal/metrics"
	"github.com/gatehouse/gatehouse/internal/oidctest"
)

// counter is the value of the counter name{label=value} in m, 0 if absent.
func counter(t *testing.T, m *metrics.Metrics, name, label, value string) float64 {
	t.Helper()
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, s := range f.GetMetric() {
			if hasLabel(s, label, value) {
				return s.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func hasLabel(s *dto.Metric, name, value string) bool {
	for _, l := range s.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

// TestMetricsLogins: a completed callback counts one successful login, a
// refused one a failure; nothing is counted from status codes outside.
func TestMetricsLogins(t *testing.T) {
	m := metrics.New()
	e := newEnv(t, envOptions{opts: login.Options{Observer: m}})
	e.signIn(t, "alice", "wonderland")
	if got := counter(t, m, "gatehouse_logins_total", "result", "success"); got != 1 {
		t.Fatalf("logins{success} = %v after one sign-in, want 1", got)
	}
	resp := get(t, newClient(t), e.srv.URL+login.CallbackPath+"?state=forged&code=x")
	assertRefused(t, resp, http.StatusBadRequest, login.ReasonMissingLoginCookie)
	if got := counter(t, m, "gatehouse_logins_total", "result", "failure"); got != 1 {
		t.Fatalf("logins{failure} = %v after one refused callback, want 1", got)
	}
	if got := counter(t, m, "gatehouse_logins_total", "result", "success"); got != 1 {
		t.Fatalf("logins{success} = %v, want still 1", got)
	}
}

// TestMetricsLocalSignOut: a sign-out that ends the session counts one
// local logout; the confirmation page shown to a cross-site GET does not.
func TestMetricsLocalSignOut(t *testing.T) {
	m := metrics.New()
	e := newEnv(t, envOptions{
		config: func(c *login.Config) { c.SkipProviderLogout = true },
		opts:   login.Options{Observer: m},
	})
	_, c := e.signIn(t, "alice", "wonderland")
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+login.SignOutPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("cross-site sign-out GET: %d, want the confirmation page", resp.StatusCode)
	}
	if got := counter(t, m, "gatehouse_logouts_total", "kind", "local"); got != 0 {
		t.Fatalf("logouts{local} = %v after a confirmation page, want 0", got)
	}
	if resp := get(t, c, e.srv.URL+login.SignOutPath+"?rd=/bye"); resp.StatusCode != http.StatusFound {
		t.Fatalf("sign-out: %d", resp.StatusCode)
	}
	e.assertNoSession(t)
	if got := counter(t, m, "gatehouse_logouts_total", "kind", "local"); got != 1 {
		t.Fatalf("logouts{local} = %v after one sign-out, want 1", got)
	}
}

// TestMetricsBackchannelLogout: an accepted logout token counts one
// back-channel logout; a replayed or invalid one does not.
func TestMetricsBackchannelLogout(t *testing.T) {
	m := metrics.New()
	rv := &fakeRevoker{}
	e := newEnv(t, envOptions{
		op:   oidctest.Options{Users: []oidctest.User{aliceUser, bobUser}},
		opts: login.Options{Locker: newFakeLocker(), Revoker: rv, Observer: m},
	})
	rv.store = e.store
	s, _ := e.signIn(t, "alice", "wonderland")
	tok := mint(t, e.op, "alice-1", s.SID)
	assertLoggedOut(t, e.logoutWith(t, tok))
	if got := counter(t, m, "gatehouse_logouts_total", "kind", "backchannel"); got != 1 {
		t.Fatalf("logouts{backchannel} = %v after one logout token, want 1", got)
	}
	assertLogoutError(t, e.logoutWith(t, tok), http.StatusBadRequest, "invalid_request")
	assertLogoutError(t, e.logoutWith(t, "not.a.token"), http.StatusBadRequest, "invalid_request")
	if got := counter(t, m, "gatehouse_logouts_total", "kind", "backchannel"); got != 1 {
		t.Fatalf("logouts{backchannel} = %v after a replayed and an invalid token, want still 1", got)
	}
	if got := counter(t, m, "gatehouse_logouts_total", "kind", "local"); got != 0 {
		t.Fatalf("logouts{local} = %v, want 0", got)
	}
}

// TestMetricsTokenRefreshes: a refresh the provider grants counts a
// success, one it refuses a failure; a refresh that never asks the
// provider (no refresh token) counts nothing.
func TestMetricsTokenRefreshes(t *testing.T) {
	m := metrics.New()
	e := newEnv(t, envOptions{opts: login.Options{Observer: m}})
	s, _ := e.signIn(t, "alice", "wonderland")
	if _, err := e.h.Refresh(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if got := counter(t, m, "gatehouse_token_refreshes_total", "result", "success"); got != 1 {
		t.Fatalf("token_refreshes{success} = %v after one refresh, want 1", got)
	}
	noToken := *s
	noToken.RefreshToken, noToken.HasRefreshToken = "", false
	if _, err := e.h.Refresh(context.Background(), &noToken); !errors.Is(err, login.ErrNoRefreshToken) {
		t.Fatalf("refresh without a refresh token: %v", err)
	}
	e.op.Revoke("alice-1")
	if _, err := e.h.Refresh(context.Background(), e.stored(t, s.ID)); !errors.Is(err, login.ErrRefreshRejected) {
		t.Fatalf("refresh of a revoked token: %v, want ErrRefreshRejected", err)
	}
	if got := counter(t, m, "gatehouse_token_refreshes_total", "result", "failure"); got != 1 {
		t.Fatalf("token_refreshes{failure} = %v after one refused refresh, want 1", got)
	}
	if got := counter(t, m, "gatehouse_token_refreshes_total", "result", "success"); got != 1 {
		t.Fatalf("token_refreshes{success} = %v, want still 1", got)
	}
}
