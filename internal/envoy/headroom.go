package envoy

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/internal/lazydeadline"
)

// withHeadroom shortens the caller's deadline (Envoy sends its ext_authz
// timeout as the gRPC deadline) by a tenth, at most 20ms, so that a slow
// session store yields gatehouse's own 503 before Envoy gives up on the
// call and answers with its generic error status. The shorter deadline is
// a lazydeadline.Context: Envoy always sends a deadline, and
// context.WithDeadline would cost every call a timer and a registration
// with gRPC's context of the call, though a lookup answered from memory
// never waits. It returns ctx itself and a nil *lazydeadline.Context when
// there is no deadline to shorten; call Release on the second result (nil
// is fine) when done, as with a CancelFunc.
func withHeadroom(ctx context.Context) (context.Context, *lazydeadline.Context) {
	dl, ok := ctx.Deadline()
	if !ok {
		return ctx, nil
	}
	margin := min(time.Until(dl)/10, 20*time.Millisecond)
	if margin <= 0 {
		return ctx, nil
	}
	h := lazydeadline.New(ctx, dl.Add(-margin))
	return h, h
}
