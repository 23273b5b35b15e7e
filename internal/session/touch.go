package session

import (
	"context"
	"time"
)

// Toucher records that a session was just used. MemoryStore, RedisStore and
// CachedStore implement it; IdleStore needs it.
type Toucher interface {
	// Touch moves the session's LastSeenAt forward to at (never backward).
	// A missing session is not an error and is not brought back.
	Touch(ctx context.Context, id string, at time.Time) error
}

// laterOf returns the later of a and b.
func laterOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
