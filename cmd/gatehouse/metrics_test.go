package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/oidctest"
)

// metricValue is the value of one series (name and labels exactly as
// exposed, e.g. `gatehouse_logins_total{result="success"}`) on an admin
// listener's /metrics, 0 when absent.
func metricValue(t *testing.T, admin, series string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", series, err)
			}
			return f
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return 0
}

// eventually waits up to within for series on admin to reach at least want.
func eventually(t *testing.T, admin, series string, want float64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := metricValue(t, admin, series)
		if got >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s = %v, want at least %v", series, got, want)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMetricsMoveWhereEventsHappen: two replicas on one Redis, each with
// an admin listener. A failed and a good sign-in, forward-auth checks
// (a cache miss, then a hit), a back-channel logout, the revocation it
// announces and a sign-out each move their metric on the replica where
// they happen.
func TestMetricsMoveWhereEventsHappen(t *testing.T) {
	prefix := fmt.Sprintf("gatehouse-test:%d:", time.Now().UnixNano())
	requireRedis(t, prefix)
	p := oidctest.Start(t, oidctest.Options{Users: []oidctest.User{
		{Subject: "u-alice", Email: "alice@example.com", EmailVerified: true, PreferredUsername: "alice", Password: "pw-alice"},
	}})
	key := randomKey(t)
	replica := func() *instance {
		env := baseEnv(t, p, prefix)
		env["GATEHOUSE_COOKIE_SECRETS"] = key
		withAdmin(t, env)
		return startInstance(t, env)
	}
	gh1, gh2 := replica(), replica()
	p.AddRedirectURI(gh1.url + "/oauth2/callback")
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}

	// A callback without a login cookie is a failed login.
	resp, err := browser.Get(gh1.url + "/oauth2/callback?state=x&code=y")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("forged callback: %d", resp.StatusCode)
	}
	if _, err := p.Login(context.Background(), browser, gh1.url+"/oauth2/start?rd=/", "alice", "pw-alice"); err != nil {
		t.Fatal(err)
	}
	for series, want := range map[string]float64{
		`gatehouse_logins_total{result="success"}`: 1,
		`gatehouse_logins_total{result="failure"}`: 1,
	} {
		if got := metricValue(t, gh1.admin, series); got != want {
			t.Errorf("replica 1: %s = %v, want %v", series, got, want)
		}
	}
	if got := metricValue(t, gh2.admin, `gatehouse_logins_total{result="success"}`); got != 0 {
		t.Errorf("replica 2 counted a login it did not see: %v", got)
	}

	// Replica 2 checks the session twice: looked up once, then cached.
	for range 2 {
		if resp := forwardAuth(t, browser, gh2.url, "/dash"); resp.StatusCode != http.StatusOK {
			t.Fatalf("check on replica 2: %d", resp.StatusCode)
		}
	}
	for series, want := range map[string]float64{
		`gatehouse_decisions_total{adapter="forward_auth",outcome="allow",reason="allowed"}`: 2,
		`gatehouse_session_cache_requests_total{result="miss"}`:                              1,
		`gatehouse_session_cache_requests_total{result="hit"}`:                               1,
	} {
		if got := metricValue(t, gh2.admin, series); got != want {
			t.Errorf("replica 2: %s = %v, want %v", series, got, want)
		}
	}

	// The provider's back-channel logout on replica 1 ends the session
	// (counted there), and replica 2 hears of the revocation.
	lt, err := p.LogoutToken("u-alice", "")
	if err != nil {
		t.Fatal(err)
	}
	bc, err := http.PostForm(gh1.url+"/oauth2/backchannel_logout", url.Values{"logout_token": {lt}})
	if err != nil {
		t.Fatal(err)
	}
	bc.Body.Close()
	if bc.StatusCode != http.StatusOK {
		t.Fatalf("back-channel logout: %d", bc.StatusCode)
	}
	if got := metricValue(t, gh1.admin, `gatehouse_logouts_total{kind="backchannel"}`); got != 1 {
		t.Errorf("replica 1: logouts{backchannel} = %v, want 1", got)
	}
	eventually(t, gh2.admin, "gatehouse_revocation_messages_total", 1, 5*time.Second)

	// Signing out on replica 1 is a local logout there.
	so, err := oidctest.Visit(context.Background(), browser, mustURL(t, gh1.url+"/oauth2/sign_out?rd="+url.QueryEscape("/")))
	if err != nil {
		t.Fatal(err)
	}
	if so.StatusCode != http.StatusFound {
		t.Fatalf("sign-out: %d", so.StatusCode)
	}
	if got := metricValue(t, gh1.admin, `gatehouse_logouts_total{kind="local"}`); got != 1 {
		t.Errorf("replica 1: logouts{local} = %v, want 1", got)
	}
	if resp := forwardAuth(t, browser, gh2.url, "/dash"); resp.StatusCode != http.StatusFound {
		t.Fatalf("check on replica 2 after sign-out: %d", resp.StatusCode)
	}
	if got := metricValue(t, gh2.admin, `gatehouse_decisions_total{adapter="forward_auth",outcome="unauthenticated",reason="no_session"}`); got != 1 {
		t.Errorf("replica 2: decisions{forward_auth,unauthenticated,no_session} = %v, want 1", got)
	}

	// nginx's auth_request endpoint counts under its own adapter.
	req, err := http.NewRequest(http.MethodGet, gh2.url+"/authz/auth-request", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Original-URL", "http://app.example.com/dash")
	req.Header.Set("X-Original-Method", "GET")
	ar, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	ar.Body.Close()
	if ar.StatusCode != http.StatusUnauthorized {
		t.Fatalf("auth_request without a session: %d", ar.StatusCode)
	}
	if got := metricValue(t, gh2.admin, `gatehouse_decisions_total{adapter="auth_request",outcome="unauthenticated",reason="no_session"}`); got != 1 {
		t.Errorf("replica 2: decisions{auth_request,unauthenticated,no_session} = %v, want 1", got)
	}
}

// TestPolicyReloadMetrics: a policy file that stops building counts a
// failed reload, a good one again a successful reload.
func TestPolicyReloadMetrics(t *testing.T) {
	p := oidctest.Start(t, oidctest.Options{})
	pf := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(pf, []byte("email_domains: [example.com]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := baseEnv(t, p, "")
	delete(env, "GATEHOUSE_ACCESS_EMAIL_DOMAINS")
	delete(env, "GATEHOUSE_ACCESS_ALLOW_ANY_AUTHENTICATED")
	env["GATEHOUSE_SESSION_STORE"] = "memory"
	env["GATEHOUSE_COOKIE_SECRETS"] = randomKey(t)
	env["GATEHOUSE_ACCESS_POLICY_FILE"] = pf
	withAdmin(t, env)
	gh := startInstance(t, env)
	// Serve starts the reloader (which takes the file as it is then) before
	// it serves: wait for an answer first.
	waitReady(t, http.DefaultClient, gh.url)

	// The reloader applies a change once two polls (2s apart) agree.
	if err := os.WriteFile(pf, []byte("rules:\n  - path_regex: \"^/(\"\n    action: deny\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	eventually(t, gh.admin, `gatehouse_policy_reloads_total{result="failure"}`, 1, 15*time.Second)
	ok := metricValue(t, gh.admin, `gatehouse_policy_reloads_total{result="success"}`)
	if err := os.WriteFile(pf, []byte("email_domains: [example.org]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	eventually(t, gh.admin, `gatehouse_policy_reloads_total{result="success"}`, ok+1, 15*time.Second)
}
