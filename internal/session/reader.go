package session

import "context"

// Reader is how the check path reads sessions. Every store and every
// decorator (memstore, redisstore, cache, idle, and the metrics wrapper) implements both methods itself, each through every
// layer below it, rather than inheriting one from what it wraps; so a
// request whose policy needs the tokens goes through the idle timeout, the
// cache's revocations and the metrics exactly like one that does not.
type Reader interface {
	// LoadIdentity returns the live session without its tokens
	// (HasRefreshToken tells whether it has a refresh token), or
	// ErrNotFound. The result may be shared between callers (a cached
	// copy): treat it as read-only.
	LoadIdentity(ctx context.Context, id string) (*Session, error)
	// LoadWithTokens returns the live session with its tokens, or
	// ErrNotFound. The result is the caller's own.
	LoadWithTokens(ctx context.Context, id string) (*Session, error)
}

// ReadManager is a Manager that is also a Reader, as every store and
// decorator is, so that layers stack without losing either.
type ReadManager interface {
	Manager
	Reader
}

// ReaderOf returns st as a Reader: st itself when it is one; otherwise (a
// plain Store such as a test fake, whose Load returns the session with its
// tokens) a Reader whose both methods are st.Load, so nothing is skipped.
func ReaderOf(st Store) Reader {
	if r, ok := st.(Reader); ok {
		return r
	}
	return loadReader{st}
}

// loadReader reads a plain Store through its Load.
type loadReader struct{ st Store }

func (r loadReader) LoadIdentity(ctx context.Context, id string) (*Session, error) {
	return r.st.Load(ctx, id)
}

func (r loadReader) LoadWithTokens(ctx context.Context, id string) (*Session, error) {
	return r.st.Load(ctx, id)
}
