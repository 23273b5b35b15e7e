package envoy_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/envoy"
	"github.com/gatehouse/gatehouse/internal/metrics"
)

// TestAllowedCheckAllocations keeps an authenticated, allowed Check, with
// the caller's deadline gRPC hands every call and the metrics observer of
// gatehouse serve, at 15 allocations or fewer: 43 before issue 11's
// changes to this package (the headroom deadline's timer, a message per
// header and per metadata value, a lower-case copy of every header name).
// About half of the 15 are the session lookup (the test's fake store
// included) and the decision.
func TestAllowedCheckAllocations(t *testing.T) {
	const max = 15
	e := newEnv(t, 0)
	svc := envoy.NewService(e.checker, envoy.ServiceOptions{Observer: metrics.New()})
	req := checkReq("GET", "app.example.com", "/dashboard/projects?filter=mine", map[string]string{
		"accept": browserAccept, "cookie": e.login(t, "alice@example.com", true, "eng"),
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	var allowed bool
	got := testing.AllocsPerRun(200, func() {
		resp, _ := svc.Check(ctx, req)
		allowed = resp.GetOkResponse() != nil && len(resp.GetOkResponse().GetHeaders()) > 0
	})
	if !allowed {
		t.Fatal("the check was not an allow with identity headers")
	}
	if got > max {
		t.Errorf("an allowed Check made %v allocations, want at most %d", got, max)
	}
}
