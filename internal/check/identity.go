package check

import (
	"context"

	"github.com/gatehouse/gatehouse/internal/authz"
)

// SessionIdentity returns the identity of the session cookieHeader names,
// read through every layer of the store as Check reads it (expiry, idle
// timeout, cache), from the session cookie only: never a bearer token.
// The identity is nil unless the state is authz.ValidSession.
func (c *Checker) SessionIdentity(ctx context.Context, cookieHeader string) (authz.SessionState, *authz.Identity) {
	w := c.lookup(ctx, c.policy.Load(), cookieHeader)
	return w.state, w.identity()
}
