package bearer

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// clock is a settable clock safe for concurrent use.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// forged returns a token of the issuer signed with a key it never
// published, under a fresh kid.
func forged(t testing.TB, is *testIssuer, key *ecdsa.PrivateKey) string {
	t.Helper()
	return sign(t, jose.ES256, key, "forged-"+rand.Text(), map[string]any{
		"iss": is.srv.URL, "sub": "x", "aud": "api", "exp": time.Now().Add(time.Hour).Unix(),
	})
}

// TestUnknownKidRefetchIsRateLimited: forged tokens with ever new key IDs
// make gatehouse fetch the issuer's keys at most once per interval, and
// concurrent misses share that one fetch; a key the issuer really rotated
// in is picked up once the interval has passed.
func TestUnknownKidRefetchIsRateLimited(t *testing.T) {
	is := newIssuer(t)
	clk := newClock()
	v, err := New([]Issuer{{URL: is.srv.URL, Audiences: []string{"api"}}}, Claims{}, Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := v.Verify(ctx, is.mint(t, claims("api", time.Now().Add(time.Hour)))); err != nil {
		t.Fatal(err)
	}
	if n := is.hits.Load(); n != 1 {
		t.Fatalf("first token: %d key fetches, want 1", n)
	}
	attacker, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	// A sequential burst right after the first fetch: no refetch at all.
	for range 30 {
		if _, err := v.Verify(ctx, forged(t, is, attacker)); !errors.Is(err, ErrInvalid) {
			t.Fatalf("forged token: %v, want ErrInvalid", err)
		}
	}
	if n := is.hits.Load(); n != 1 {
		t.Errorf("30 forged kids within the interval: %d key fetches, want 1", n)
	}

	// Past the interval, a concurrent burst shares one refetch.
	clk.advance(DefaultKeyRefetchInterval + time.Second)
	is.delay.Store(int64(50 * time.Millisecond)) // so the misses overlap
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if _, err := v.Verify(ctx, forged(t, is, attacker)); !errors.Is(err, ErrInvalid) {
				t.Errorf("forged token: %v, want ErrInvalid", err)
			}
		})
	}
	wg.Wait()
	if n := is.hits.Load(); n != 2 {
		t.Errorf("50 concurrent forged kids: %d key fetches in all, want 2", n)
	}
	is.delay.Store(0)

	// The issuer rotates in a key: once the interval passes, tokens signed
	// with it verify (one more fetch).
	rotated, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	is.publish(jose.JSONWebKey{Key: &rotated.PublicKey, KeyID: "k2", Algorithm: "ES256", Use: "sig"})
	tok := sign(t, jose.ES256, rotated, "k2", map[string]any{"iss": is.srv.URL, "sub": "x", "aud": "api", "exp": time.Now().Add(time.Hour).Unix()})
	clk.advance(DefaultKeyRefetchInterval + time.Second)
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	if n := is.hits.Load(); n != 3 {
		t.Errorf("rotation: %d key fetches in all, want 3", n)
	}
}

// TestFetchErrorsAreTyped: only a real failure to fetch the discovery
// document or the keys is ErrUnavailable, and it says what failed.
func TestFetchErrorsAreTyped(t *testing.T) {
	is := newIssuer(t)
	tok := is.mint(t, claims("api", time.Now().Add(time.Hour)))
	is.ready.Store(false)
	for name, iss := range map[string]Issuer{
		"discovery": {URL: is.srv.URL, Audiences: []string{"api"}},
		"keys":      {URL: is.srv.URL, Audiences: []string{"api"}, JWKSURL: is.srv.URL + "/keys"},
	} {
		t.Run(name, func(t *testing.T) {
			v, _ := New([]Issuer{iss}, Claims{}, Options{})
			_, err := v.Verify(context.Background(), tok)
			var fe *FetchError
			if !errors.Is(err, ErrUnavailable) || !errors.As(err, &fe) {
				t.Fatalf("got %v, want a *FetchError wrapping ErrUnavailable", err)
			}
			if fe.URL == "" || fe.Status != http.StatusServiceUnavailable {
				t.Errorf("FetchError = %+v, want the URL and status 503", fe)
			}
		})
	}
	// Keys that are no JSON web key set are a fetch failure too.
	garbage := newIssuer(t)
	garbage.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`{"keys": 42}`)) })
	v, _ := New([]Issuer{{URL: garbage.srv.URL, Audiences: []string{"api"}, JWKSURL: garbage.srv.URL + "/keys"}}, Claims{}, Options{})
	var fe *FetchError
	if _, err := v.Verify(context.Background(), garbage.mint(t, claims("api", time.Now().Add(time.Hour)))); !errors.As(err, &fe) || !errors.Is(err, ErrUnavailable) {
		t.Errorf("undecodable keys: %v", err)
	}
	// A bad token from a reachable issuer is never ErrUnavailable.
	is.ready.Store(true)
	v, _ = New([]Issuer{{URL: is.srv.URL, Audiences: []string{"api"}}}, Claims{}, Options{})
	if _, err := v.Verify(context.Background(), tamper(tok)); !errors.Is(err, ErrInvalid) || errors.Is(err, ErrUnavailable) || errors.As(err, &fe) {
		t.Errorf("tampered token: %v", err)
	}
}

// TestSlowProviderAnswersInTime: Verify, discovery and key fetch included,
// answers within Options.Timeout however slow the provider is, and the
// fetch goes on in the background so the provider is learned anyway.
func TestSlowProviderAnswersInTime(t *testing.T) {
	is := newIssuer(t)
	tok := is.mint(t, claims("api", time.Now().Add(time.Hour)))
	is.delay.Store(int64(250 * time.Millisecond)) // discovery 250ms, then keys 250ms
	const timeout = 300 * time.Millisecond
	v, _ := New([]Issuer{{URL: is.srv.URL, Audiences: []string{"api"}}}, Claims{}, Options{Timeout: timeout})

	start := time.Now()
	_, err := v.Verify(context.Background(), tok)
	if took := time.Since(start); took > timeout+100*time.Millisecond {
		t.Errorf("Verify took %v, want at most %v", took, timeout)
	}
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("got %v, want ErrUnavailable", err)
	}
	time.Sleep(400 * time.Millisecond) // the background fetch finishes
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("after the slow fetch: %v", err)
	}
	if d, k := is.disco.Load(), is.hits.Load(); d != 1 || k != 1 {
		t.Errorf("%d discovery and %d key fetches, want 1 and 1", d, k)
	}
}

// TestProviderSlowerThanTheProxy: when every request's own deadline (an
// Envoy ext_authz timeout) is shorter than the provider takes, requests get
// ErrUnavailable in time and the provider is still learned.
func TestProviderSlowerThanTheProxy(t *testing.T) {
	is := newIssuer(t)
	tok := is.mint(t, claims("api", time.Now().Add(time.Hour)))
	is.delay.Store(int64(150 * time.Millisecond))
	v, _ := New([]Issuer{{URL: is.srv.URL, Audiences: []string{"api"}}}, Claims{}, Options{})
	deadline := time.Now().Add(3 * time.Second)
	for tries := 1; ; tries++ {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		start := time.Now()
		_, err := v.Verify(ctx, tok)
		took := time.Since(start)
		cancel()
		if err == nil {
			t.Logf("verified on try %d", tries)
			break
		}
		if !errors.Is(err, ErrUnavailable) || took > 200*time.Millisecond {
			t.Fatalf("try %d: %v after %v, want ErrUnavailable within the deadline", tries, err, took)
		}
		if time.Now().After(deadline) {
			t.Fatal("the provider was never learned: every fetch died with its request")
		}
	}
}

// TestStalledProviderSharesOneFetch: many requests against a provider that
// never answers all get ErrUnavailable within the timeout, from one
// discovery attempt.
func TestStalledProviderSharesOneFetch(t *testing.T) {
	is := newIssuer(t)
	tok := is.mint(t, claims("api", time.Now().Add(time.Hour)))
	is.delay.Store(int64(time.Hour))
	const timeout = 200 * time.Millisecond
	v, _ := New([]Issuer{{URL: is.srv.URL, Audiences: []string{"api"}}}, Claims{}, Options{Timeout: timeout, FetchTimeout: time.Second})
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			start := time.Now()
			_, err := v.Verify(context.Background(), tok)
			if took := time.Since(start); !errors.Is(err, ErrUnavailable) || took > timeout+150*time.Millisecond {
				t.Errorf("%v after %v, want ErrUnavailable within %v", err, took, timeout)
			}
		})
	}
	wg.Wait()
	if n := is.disco.Load(); n != 1 {
		t.Errorf("%d discovery requests, want 1", n)
	}
}

// TestWithdrawnKeyIsDropped: keys older than the maximum age are fetched
// again in the background (the request that notices is not held up), so a
// key the provider withdrew stops verifying; a failed refresh keeps the
// keys there are.
func TestWithdrawnKeyIsDropped(t *testing.T) {
	is := newIssuer(t)
	clk := newClock()
	v, _ := New([]Issuer{{URL: is.srv.URL, Audiences: []string{"api"}}}, Claims{}, Options{Now: clk.now, CacheTTL: time.Nanosecond})
	ctx := context.Background()
	fresh := func() string {
		c := claims("api", time.Now().Add(time.Hour))
		c["jti"] = rand.Text()
		return is.mint(t, c)
	}
	if _, err := v.Verify(ctx, fresh()); err != nil {
		t.Fatal(err)
	}
	// The provider is down when the keys grow old: they stay in use.
	is.ready.Store(false)
	clk.advance(DefaultKeyMaxAge + time.Second)
	for range 3 {
		if _, err := v.Verify(ctx, fresh()); err != nil {
			t.Fatalf("old keys while the provider is down: %v", err)
		}
	}
	waitHits(t, is, 2)
	// Back up, with k1 withdrawn: the next refresh drops it.
	is.ready.Store(true)
	is.drop.Store(true)
	clk.advance(DefaultKeyRefetchInterval)
	_, _ = v.Verify(ctx, fresh()) // starts the refresh; may still pass
	waitHits(t, is, 3)
	deadline := time.Now().Add(2 * time.Second)
	for {
		_, err := v.Verify(ctx, fresh())
		if errors.Is(err, ErrInvalid) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("withdrawn key still verifies: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := is.hits.Load(); n != 3 {
		t.Errorf("%d key fetches, want 3", n)
	}
}

// waitHits waits until the issuer's keys were fetched n times.
func waitHits(t *testing.T, is *testIssuer, n int32) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for is.hits.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d key fetches, want %d", is.hits.Load(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
