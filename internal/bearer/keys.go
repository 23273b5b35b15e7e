package bearer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// DefaultKeyRefetchInterval is the least time between two fetches of an
// issuer's discovery document or keys (Options.KeyRefetchInterval): a
// token with an unknown key ID triggers at most one fetch per interval, so
// forged tokens cannot make gatehouse hammer the provider.
const DefaultKeyRefetchInterval = 10 * time.Second

// DefaultKeyMaxAge is how long fetched keys are used before they are
// fetched again in the background (Options.KeyMaxAge), so that a key the
// provider withdrew stops verifying.
const DefaultKeyMaxAge = 15 * time.Minute

// maxFetchBytes bounds a discovery or JWKS answer.
const maxFetchBytes = 1 << 20

// FetchError is a failed fetch of an issuer's discovery document or keys.
// It matches ErrUnavailable with errors.Is.
type FetchError struct {
	// URL is what was fetched.
	URL string
	// Status is the HTTP status of the answer, 0 when there was none.
	Status int
	// Err is the cause.
	Err error
}

// Error says what failed, without any token.
func (e *FetchError) Error() string {
	msg := "bearer: issuer unavailable: fetch " + e.URL
	if e.Status != 0 {
		msg += ": HTTP " + strconv.Itoa(e.Status)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns ErrUnavailable and the cause.
func (e *FetchError) Unwrap() []error { return []error{ErrUnavailable, e.Err} }

// keySet holds one issuer's published keys. A fetch (discovery first when
// the JWKS URL is not configured) runs in the background, detached from
// the request that started it and bounded by its own timeout, so a slow
// provider is still learned when every request gives up before it answers;
// concurrent callers share it and wait only as long as their context lets
// them. Fetches start at most once per interval (a tenth of it after a
// failed fetch). Keys older than maxAge are fetched again in the
// background; a failed fetch keeps the keys there are.
type keySet struct {
	issuer   string
	client   *http.Client
	timeout  time.Duration // of one fetch
	interval time.Duration // between fetch starts
	maxAge   time.Duration // of fetched keys before a background refresh
	now      func() time.Time
	log      *slog.Logger

	mu       sync.Mutex
	jwksURL  string // from configuration or discovery
	keys     []jose.JSONWebKey
	lastErr  error     // of the last finished fetch; nil after a success
	started  time.Time // of the last fetch
	fetched  time.Time // of the last successful fetch
	inflight chan struct{}
}

// lookup returns the keys that may have signed a token with key ID kid
// (every key when kid is empty). A key ID not among the known keys
// triggers a fetch, unless one started less than an interval ago. The
// error wraps ErrUnavailable when the keys could not be had, ErrInvalid
// when they were and none matches.
func (k *keySet) lookup(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	k.mu.Lock()
	if m := matching(k.keys, kid); len(m) > 0 {
		if now := k.now(); k.inflight == nil && now.Sub(k.fetched) >= k.maxAge && now.Sub(k.started) >= k.wait() {
			k.start(ctx) // refresh old keys without holding up this request
		}
		k.mu.Unlock()
		return m, nil
	}
	done := k.inflight
	if done == nil {
		if !k.started.IsZero() && k.now().Sub(k.started) < k.wait() {
			err := k.lastErr
			k.mu.Unlock()
			if err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("%w: no key with ID %q", ErrInvalid, clip(kid))
		}
		done = k.start(ctx)
	}
	k.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: keys of %s not fetched in time: %w", ErrUnavailable, k.issuer, ctx.Err())
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if m := matching(k.keys, kid); len(m) > 0 {
		return m, nil
	}
	if k.lastErr != nil {
		return nil, k.lastErr
	}
	return nil, fmt.Errorf("%w: no key with ID %q", ErrInvalid, clip(kid))
}

// wait is how long after the last fetch started the next may start: the
// interval, or a tenth of it after a failure, so that service resumes soon
// after the provider does; k.mu must be held.
func (k *keySet) wait() time.Duration {
	if k.lastErr != nil {
		return k.interval / 10
	}
	return k.interval
}

// start begins a background fetch for the request whose context is ctx;
// k.mu must be held. The fetch is shared by every request that waits for
// it, so it keeps ctx's values (the trace) but not its cancellation: the
// first caller giving up must not fail the others. It is bounded by the
// fetch timeout, and at most one runs per issuer.
func (k *keySet) start(ctx context.Context) chan struct{} {
	done := make(chan struct{})
	k.inflight, k.started = done, k.now()
	jwksURL := k.jwksURL
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.timeout)
		defer cancel()
		keys, url, err := k.fetch(ctx, jwksURL)
		if err != nil {
			k.log.Warn("bearer issuer keys unavailable", "issuer", k.issuer, "error", err.Error())
		}
		k.mu.Lock()
		defer k.mu.Unlock()
		k.jwksURL, k.lastErr, k.inflight = url, err, nil
		if err == nil {
			k.keys, k.fetched = keys, k.now()
		}
		close(done)
	}()
	return done
}

// fetch discovers the JWKS URL if jwksURL is empty, then reads the keys.
func (k *keySet) fetch(ctx context.Context, jwksURL string) ([]jose.JSONWebKey, string, error) {
	if jwksURL == "" {
		var err error
		if jwksURL, err = k.discover(ctx); err != nil {
			return nil, "", err
		}
	}
	keys, err := k.fetchKeys(ctx, jwksURL)
	return keys, jwksURL, err
}

// discover reads the issuer's discovery document (OpenID Connect
// Discovery 1.0), checks that it names this very issuer, as go-oidc does,
// and returns its jwks_uri.
func (k *keySet) discover(ctx context.Context) (string, error) {
	url := strings.TrimSuffix(k.issuer, "/") + "/.well-known/openid-configuration"
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURL string `json:"jwks_uri"`
	}
	if err := k.getJSON(ctx, url, &doc); err != nil {
		return "", err
	}
	switch {
	case doc.Issuer != k.issuer:
		return "", &FetchError{URL: url, Status: http.StatusOK, Err: fmt.Errorf("document names issuer %q", doc.Issuer)}
	case !strings.HasPrefix(doc.JWKSURL, "https://") && !strings.HasPrefix(doc.JWKSURL, "http://"):
		return "", &FetchError{URL: url, Status: http.StatusOK, Err: errors.New("no http(s) jwks_uri")}
	}
	return doc.JWKSURL, nil
}

// fetchKeys reads a JSON web key set.
func (k *keySet) fetchKeys(ctx context.Context, url string) ([]jose.JSONWebKey, error) {
	var set jose.JSONWebKeySet
	if err := k.getJSON(ctx, url, &set); err != nil {
		return nil, err
	}
	return set.Keys, nil
}

// getJSON GETs url and decodes its 200 answer, at most 1 MiB, into v.
func (k *keySet) getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return &FetchError{URL: url, Err: err}
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return &FetchError{URL: url, Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxFetchBytes+1))
	switch {
	case err != nil:
		return &FetchError{URL: url, Status: resp.StatusCode, Err: err}
	case resp.StatusCode != http.StatusOK:
		return &FetchError{URL: url, Status: resp.StatusCode, Err: errors.New("unexpected status")}
	case len(body) > maxFetchBytes:
		return &FetchError{URL: url, Status: resp.StatusCode, Err: errors.New("answer larger than 1 MiB")}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &FetchError{URL: url, Status: resp.StatusCode, Err: fmt.Errorf("decode: %w", err)}
	}
	return nil
}

// matching returns the signing keys with ID kid, or all signing keys when
// kid is empty.
func matching(keys []jose.JSONWebKey, kid string) []jose.JSONWebKey {
	var out []jose.JSONWebKey
	for _, key := range keys {
		if key.Use == "enc" || !key.Valid() {
			continue
		}
		if kid == "" || key.KeyID == kid {
			out = append(out, key)
		}
	}
	return out
}
