package envoy_test

import (
	"context"
	"testing"

	"github.com/gatehouse/gatehouse/internal/envoy"
)

// BenchmarkCheck measures one authenticated, allowed Check without the
// network: request mapping, session lookup (fake store), decision and the
// CheckResponse.
func BenchmarkCheck(b *testing.B) {
	e := newEnv(b, 0)
	svc := envoy.NewService(e.checker, envoy.ServiceOptions{})
	req := checkReq("GET", "app.example.com", "/dashboard/projects?filter=mine", map[string]string{
		"accept": browserAccept, "cookie": e.login(b, "alice@example.com", true, "eng"),
	})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		resp, _ := svc.Check(ctx, req)
		if resp.GetOkResponse() == nil {
			b.Fatal("not allowed")
		}
	}
}
