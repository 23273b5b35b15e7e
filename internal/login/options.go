package login

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/internal/session"
)

// Locker takes a named lock shared by every replica, for at most ttl.
// session.Manager implements it. Refresh uses it so that one replica at a
// time refreshes a session; back-channel logout uses it as a set-if-absent
// to refuse a logout token seen before.
type Locker interface {
	TryLock(ctx context.Context, name string, ttl time.Duration) (release func(), ok bool, err error)
}

// Revoker ends every session matching a filter. session.Manager implements it.
type Revoker interface {
	DeleteMatching(ctx context.Context, f session.Filter) (int, error)
}

// Option sets an optional dependency of a Handler.
type Option func(*Handler)

// WithLocker makes refreshes exclusive across replicas and enables replay
// protection for back-channel logout (which is refused without it).
func WithLocker(l Locker) Option { return func(h *Handler) { h.locker = l } }

// WithRevoker enables back-channel logout: the sessions a valid logout
// token names are ended through r. Without it the endpoint answers 501.
func WithRevoker(r Revoker) Option { return func(h *Handler) { h.revoker = r } }
