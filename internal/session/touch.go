package session

import (
	"context"
	"time"
)

// Toucher records that a session was just used. memstore, redisstore and
// cache implement it; idle needs it.
type Toucher interface {
	// Touch moves the session's LastSeenAt forward to at (never backward).
	// A missing session is not an error and is not brought back.
	Touch(ctx context.Context, id string, at time.Time) error
}
