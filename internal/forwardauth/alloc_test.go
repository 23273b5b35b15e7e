package forwardauth

import (
	"context"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/check"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/cookie"
	"github.com/gatehouse/gatehouse/internal/session/memstore"
)

// headerWriter is a ResponseWriter that reuses one header map, so that
// what is counted is the handler's own allocations.
type headerWriter struct {
	h      http.Header
	status int
}

func (w *headerWriter) Header() http.Header         { return w.h }
func (w *headerWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *headerWriter) WriteHeader(code int)        { w.status = code }

// TestForwardAuthAllowAllocations counts the allocations of an allowed
// forward-auth answer, check included (8 of them, see check's
// TestAuthenticatedCheckAllocations): the handler adds the backing array of
// the response headers and nothing per header, and the parsed request stays
// on the stack. It counts, it does not time.
func TestForwardAuthAllowAllocations(t *testing.T) {
	if raceDetector {
		t.Skip("allocation counts are meaningless under the race detector; make test runs this test without it")
	}
	codec, err := cookie.NewCodec([][]byte{make([]byte, 32)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := memstore.New(memstore.Options{})
	defer st.Close()
	id, _ := session.NewID()
	exp := time.Now().Add(time.Hour)
	if err := st.Save(context.Background(), &session.Session{ID: id, User: "alice", Email: "alice@example.com", EmailVerified: true,
		Groups: []string{"dev", "ops"}, ExpiresAt: exp}); err != nil {
		t.Fatal(err)
	}
	v, _ := codec.SealID("_gatehouse", id, exp)
	p := &authz.Policy{LoginURL: "/oauth2/start", EmailDomains: []string{"example.com"}, Headers: authz.DefaultHeaderNames()}
	chk := check.New(st, codec, cookie.Settings{Name: "_gatehouse", Secure: true}, p, check.Options{})
	h := NewHandler(chk, Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})

	r, _ := http.NewRequest("GET", "http://gatehouse"+ForwardAuthPath, nil)
	r.RemoteAddr = "127.0.0.1:40000"
	for k, val := range map[string]string{"X-Forwarded-Method": "GET", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example.com",
		"X-Forwarded-Uri": "/dashboard?tab=runs", "X-Forwarded-For": "203.0.113.7", "Accept": "text/html", "Cookie": "theme=dark; _gatehouse=" + v} {
		r.Header.Set(k, val)
	}
	w := &headerWriter{h: http.Header{}}
	serve := func() {
		clear(w.h)
		h.ServeHTTP(w, r)
	}
	serve()
	if w.status != http.StatusOK || w.h.Get("X-Auth-Request-Email") != "alice@example.com" {
		t.Fatalf("not allowed: %d %v", w.status, w.h)
	}
	if n := testing.AllocsPerRun(200, serve); n > 10 {
		t.Errorf("an allowed forward-auth answer allocates %v times, want at most 10", n)
	}
}
