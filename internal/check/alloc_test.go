package check

import (
	"context"
	"testing"

	"github.com/gatehouse/gatehouse/internal/authz"
)

// TestAuthenticatedCheckAllocations guards issue 11's halving: an allowed
// check with a session cookie (cookie opened, session loaded from the memory
// store, decided, the upstream Cookie stripped of gatehouse's) allocated 16
// times before and 8 after. It counts, it does not time.
func TestAuthenticatedCheckAllocations(t *testing.T) {
	if raceDetector {
		t.Skip("allocation counts are meaningless under the race detector; make test runs this test without it")
	}
	p := &authz.Policy{LoginURL: "/oauth2/start", EmailDomains: []string{"example.com"}, Headers: authz.DefaultHeaderNames()}
	e := newEnv(t, p)
	req := browser("app.example.com", "/dashboard")
	cr := Credentials{Cookie: "theme=dark; " + e.cookie}
	ctx := context.Background()
	if v := e.c.Check(ctx, req, cr); v.Outcome != authz.Allow {
		t.Fatalf("not allowed: %s", v.Reason)
	}
	if n := testing.AllocsPerRun(200, func() { e.c.Check(ctx, req, cr) }); n > 8 {
		t.Errorf("an authenticated check allocates %v times, want at most 8", n)
	}
}
