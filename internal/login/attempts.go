package login

import (
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
)

// Each sign-in attempt has a login cookie of its own, so that several tabs
// can sign in at once: its name is the login cookie prefix, "_" and a short
// hash of the attempt's state, and the callback finds it by the state the
// provider sends back. It is sealed for that name (cookie.Codec), holds
// the state itself (compared in full), and lives LoginCookieTTL. Attempts
// are bounded in number and in bytes, oldest evicted first, so that the
// Cookie header stays well within what proxies accept (nginx: one 8 KiB
// header line by default) and a start response within nginx's default 4
// KiB proxy_buffer_size.
const (
	// MaxLoginAttempts is how many sign-ins one browser may have under
	// way at once; starting another evicts the oldest.
	MaxLoginAttempts = 5
	// maxLoginCookiesBytes bounds the login cookies' share of the Cookie
	// header (name=value of every live attempt, separators included).
	maxLoginCookiesBytes = 4096
	// maxAttemptValue bounds one attempt's sealed value: a return URL
	// that would make it longer is dropped in favour of "/".
	maxAttemptValue = 1536
	// maxAttemptsRead bounds the login cookies one request makes
	// gatehouse open (and clear), however many it carries.
	maxAttemptsRead = 8
	// attemptHashLen is the length of the state hash in a cookie name.
	attemptHashLen = 11 // base64url of 8 bytes
)

// attemptCookie is the login cookie name of the attempt with this state.
func (h *Handler) attemptCookie(state string) string {
	sum := sha256.Sum256([]byte(state))
	return h.loginCookie + "_" + base64.RawURLEncoding.EncodeToString(sum[:8])
}

// isAttemptCookie reports whether name is an attempt's login cookie name.
func (h *Handler) isAttemptCookie(name string) bool {
	return len(name) == len(h.loginCookie)+1+attemptHashLen && strings.HasPrefix(name, h.loginCookie+"_")
}

// attempt is a login cookie the browser sent.
type attempt struct {
	name    string
	size    int   // len(name=value) plus the "; " that separates it
	started int64 // unix milliseconds; 0 for one that does not open
}

// attempts returns the login cookies of r (at most maxAttemptsRead),
// oldest first; those that do not open (expired, tampered, from an older
// version) have started 0 and so come first.
func (h *Handler) attempts(r *http.Request) []attempt {
	var out []attempt
	for _, c := range r.Cookies() {
		if len(out) == maxAttemptsRead {
			break
		}
		if !h.isAttemptCookie(c.Name) && c.Name != h.loginCookie {
			continue
		}
		if slices.ContainsFunc(out, func(a attempt) bool { return a.name == c.Name }) {
			continue
		}
		a := attempt{name: c.Name, size: len(c.Name) + 1 + len(c.Value) + 2}
		if c.Name != h.loginCookie { // the single cookie of older versions is only cleared
			if ls, err := h.openAttempt(c.Name, c.Value); err == nil {
				a.started = max(ls.Started, 1)
			}
		}
		out = append(out, a)
	}
	slices.SortStableFunc(out, func(a, b attempt) int { return cmp.Compare(a.started, b.started) })
	return out
}

// evict returns the attempts to clear so that one more, of size bytes,
// fits: every one that does not open, then the oldest, until fewer than
// MaxLoginAttempts remain and all fit in maxLoginCookiesBytes.
func evict(live []attempt, size int) []attempt {
	total := size
	for _, a := range live {
		total += a.size
	}
	n := 0
	for n < len(live) && (live[n].started == 0 || len(live)-n >= MaxLoginAttempts || total > maxLoginCookiesBytes) {
		total -= live[n].size
		n++
	}
	return live[:n]
}

// openAttempt opens the value of the login cookie name.
func (h *Handler) openAttempt(name, value string) (loginState, error) {
	var ls loginState
	payload, err := h.codec.Open(name, value)
	if err != nil {
		return ls, err
	}
	if err := json.Unmarshal(payload, &ls); err != nil {
		return ls, err
	}
	if ls.State == "" || ls.Nonce == "" || ls.Verifier == "" {
		return ls, errMalformedLoginState
	}
	return ls, nil
}

// clearAttempts clears every login cookie r carries (at most
// maxAttemptsRead of them), for sign-out.
func (h *Handler) clearAttempts(w http.ResponseWriter, r *http.Request) {
	for _, a := range h.attempts(r) {
		http.SetCookie(w, h.cookies.Clear(a.name))
	}
}
