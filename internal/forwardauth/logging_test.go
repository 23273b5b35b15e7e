package forwardauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/check"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/cookie"
)

// lockedBuffer is a log sink the server's goroutines may write to.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// take returns the log lines written so far, decoded, and forgets them.
func (l *lockedBuffer) take(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	dec := json.NewDecoder(&l.b)
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	l.b.Reset()
	return out
}

// loggedFixture is a handler whose checker and handler log JSON into the
// returned buffer, with obs (nil for none) told about every decision.
func loggedFixture(t *testing.T, obs Observer) (*fixture, *lockedBuffer) {
	t.Helper()
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	codec, err := cookie.NewCodec([][]byte{make([]byte, 32)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := &fakeStore{m: map[string]session.Session{}}
	p := &authz.Policy{LoginURL: "https://auth.example.com/oauth2/start", EmailDomains: []string{"example.com"}, Headers: authz.DefaultHeaderNames()}
	chk := check.New(st, codec, cookie.Settings{Name: "_gatehouse", Secure: true}, p, check.Options{Timeout: 50 * time.Millisecond, Logger: logger})
	srv := httptest.NewServer(NewHandler(chk, Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Logger: logger, Observer: obs}))
	t.Cleanup(srv.Close)
	return &fixture{store: st, srv: srv, codec: codec}, logs
}

// TestDenialLogNamesTheStatusTheProxyGot: the "denied" line of an
// auth-request check gives the status nginx was told (401 for a sign-in,
// 403 for a store outage), while forward-auth's gives the reply's own
// (302, 503), which Traefik and Caddy pass on as it is.
func TestDenialLogNamesTheStatusTheProxyGot(t *testing.T) {
	f, logs := loggedFixture(t, nil)
	st, codec := f.store, f.codec
	id, _ := session.NewID()
	st.m[id] = session.Session{ID: id, User: "alice", Email: "alice@example.com", EmailVerified: true, ExpiresAt: time.Now().Add(time.Hour)}
	v, err := codec.SealID("_gatehouse", id, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	cookie := "_gatehouse=" + v

	browser := map[string]string{"Accept": "text/html"}
	for _, c := range []struct {
		name       string
		storeDown  bool
		hdr        map[string]string
		authReq    bool
		status     int // what the proxy got
		logged     int
		wantReason string
	}{
		{"forward-auth, browser", false, browser, false, 302, 302, "no_session"},
		{"auth-request, browser", false, browser, true, 401, 401, "no_session"},
		{"auth-request, API client", false, map[string]string{"Accept": "application/json"}, true, 401, 401, "no_session"},
		{"forward-auth, store down", true, map[string]string{"Accept": "text/html", "Cookie": cookie}, false, 503, 503, "store_unavailable"},
		{"auth-request, store down", true, map[string]string{"Accept": "text/html", "Cookie": cookie}, true, 403, 403, "store_unavailable"},
	} {
		t.Run(c.name, func(t *testing.T) {
			st.fail = nil
			if c.storeDown {
				st.fail = errors.New("connection refused")
			}
			defer func() { st.fail = nil }()
			logs.take(t)
			var resp *http.Response
			if c.authReq {
				resp = f.authRequest(t, "https://app.example.com/x", c.hdr)
			} else {
				resp = f.forwardAuth(t, "/x", c.hdr)
			}
			if resp.StatusCode != c.status {
				t.Fatalf("proxy got %d, want %d", resp.StatusCode, c.status)
			}
			var denied []map[string]any
			for _, l := range logs.take(t) {
				if l["msg"] == "denied" {
					denied = append(denied, l)
				}
			}
			if len(denied) != 1 {
				t.Fatalf("%d denied lines, want 1", len(denied))
			}
			if got := denied[0]["status"]; got != float64(c.logged) || denied[0]["reason"] != c.wantReason {
				t.Errorf("logged status %v reason %v, want %d %s: %v", got, denied[0]["reason"], c.logged, c.wantReason, denied[0])
			}
		})
	}
}

// recordingObserver keeps the adapters decisions were observed under.
type recordingObserver struct {
	mu       sync.Mutex
	adapters []string
}

func (o *recordingObserver) ObserveDecision(adapter string, _ authz.Decision, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.adapters = append(o.adapters, adapter)
}

// TestDeniedPageCountedApart: behind the shipped nginx config one refused
// browser request is checked twice (auth_request, then the denied page).
// It is logged once, by the first check, and counted once under
// auth_request; the second look is counted under denied_page.
func TestDeniedPageCountedApart(t *testing.T) {
	obs := &recordingObserver{}
	f, logs := loggedFixture(t, obs)

	browser := map[string]string{"Accept": "text/html"}
	if resp := f.authRequest(t, "https://app.example.com/x", browser); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("auth_request: %d, want 401", resp.StatusCode)
	}
	req := f.forwardAuthRequest("/x", browser)
	req.URL.Path = DeniedPagePath
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("denied page: %d, want 302 to sign in", resp.StatusCode)
	}
	var denied int
	for _, l := range logs.take(t) {
		if l["msg"] == "denied" {
			denied++
		}
	}
	if denied != 1 {
		t.Errorf("%d denied lines for one browser request, want 1", denied)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if want := []string{"auth_request", DeniedPageAdapter}; !slices.Equal(obs.adapters, want) {
		t.Errorf("observed as %v, want %v", obs.adapters, want)
	}
}
