package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Defaults for IdleOptions.
const (
	MinIdleWriteInterval = time.Minute
	DefaultTouchTimeout  = time.Second
	// maxTouchesInFlight bounds the background writes of one IdleStore.
	maxTouchesInFlight = 32
	// maxTouchMemo bounds how many sessions' last touch an IdleStore remembers.
	maxTouchMemo = 100000
)

// IdleOptions configure an IdleStore.
type IdleOptions struct {
	// Timeout ends a session unused for this long (required, > 0).
	Timeout time.Duration
	// WriteInterval is how stale a session's LastSeenAt may get before a
	// Load records the use; default Timeout/10 but at least a minute, and
	// never more than Timeout/2.
	WriteInterval time.Duration
	// TouchTimeout bounds each background write; default 1s.
	TouchTimeout time.Duration
	Logger       *slog.Logger
	Now          func() time.Time
}

// idleInner is what an IdleStore wraps.
type idleInner interface {
	ReadManager
	Toucher
}

// IdleStore enforces a sliding idle timeout on top of a store (MemoryStore,
// RedisStore or CachedStore): Load, LoadIdentity and LoadWithTokens each end
// a session whose last use (the later of LastSeenAt and CreatedAt) is
// Timeout ago or more, and record use in the background when it is
// WriteInterval old, at most once per interval per session on this replica,
// never on every request. The absolute lifetime stays ExpiresAt. Writes,
// deletes and the admin view (List, LoadByHandle) pass through.
type IdleStore struct {
	idleInner
	opts IdleOptions
	log  *slog.Logger

	sem chan struct{}
	wg  sync.WaitGroup

	mu sync.Mutex
	// touched throttles writes, it is not a cache of sessions: storage key
	// -> when this replica last touched it, the least recently touched
	// dropped past maxTouchMemo (at worst one more write for that
	// session). Whether a session is idle is decided from its LastSeenAt
	// alone, never from here.
	touched *simplelru.LRU[string, time.Time]
	closed  bool
}

// NewIdleStore wraps inner, which must also be a Toucher, with an idle
// timeout.
func NewIdleStore(inner ReadManager, opts IdleOptions) (*IdleStore, error) {
	in, ok := inner.(idleInner)
	if !ok {
		return nil, fmt.Errorf("session: idle: %T cannot record use (no Touch)", inner)
	}
	if opts.Timeout <= 0 {
		return nil, fmt.Errorf("session: idle: timeout %v is not positive", opts.Timeout)
	}
	if opts.WriteInterval < 0 || opts.TouchTimeout < 0 {
		return nil, errors.New("session: idle: negative write interval or touch timeout")
	}
	if opts.WriteInterval == 0 {
		opts.WriteInterval = max(opts.Timeout/10, MinIdleWriteInterval)
	}
	opts.WriteInterval = min(opts.WriteInterval, opts.Timeout/2)
	if opts.WriteInterval <= 0 {
		return nil, fmt.Errorf("session: idle: timeout %v too short", opts.Timeout)
	}
	opts.TouchTimeout = orDefault(opts.TouchTimeout, DefaultTouchTimeout)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	touched, err := simplelru.NewLRU[string, time.Time](maxTouchMemo, nil)
	if err != nil {
		return nil, fmt.Errorf("session: idle: %w", err)
	}
	return &IdleStore{
		idleInner: in, opts: opts, log: log,
		sem: make(chan struct{}, maxTouchesInFlight), touched: touched,
	}, nil
}

// lastUse is when s was last known to be used.
func lastUse(s *Session) time.Time { return laterOf(s.LastSeenAt, s.CreatedAt) }

// Load is LoadWithTokens.
func (s *IdleStore) Load(ctx context.Context, id string) (*Session, error) {
	return s.LoadWithTokens(ctx, id)
}

// LoadWithTokens returns the session with its tokens unless it has been
// idle for Timeout, in which case it is deleted and ErrNotFound returned.
func (s *IdleStore) LoadWithTokens(ctx context.Context, id string) (*Session, error) {
	sess, err := s.idleInner.LoadWithTokens(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.admit(ctx, id, sess, sess)
}

// LoadIdentity returns the session without its tokens (shared, from the
// cache when the inner store is a CachedStore) unless it has been idle for
// Timeout, in which case it is deleted and ErrNotFound returned.
func (s *IdleStore) LoadIdentity(ctx context.Context, id string) (*Session, error) {
	sess, err := s.idleInner.LoadIdentity(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.admit(ctx, id, sess, nil)
}

// admit returns sess unless the session has been idle for Timeout. fresh
// is sess when sess was read from the store itself, nil when it may be a
// cached copy that lags behind another replica's touch: then an idle
// verdict is checked against what the store holds now.
func (s *IdleStore) admit(ctx context.Context, id string, sess, fresh *Session) (*Session, error) {
	now := s.opts.Now()
	idle := now.Sub(lastUse(sess))
	if idle >= s.opts.Timeout && fresh == nil {
		f, err := s.idleInner.LoadWithTokens(ctx, id)
		if err != nil {
			return nil, err
		}
		idle = now.Sub(lastUse(f))
	}
	if idle >= s.opts.Timeout {
		if err := s.idleInner.Delete(ctx, id); err != nil {
			// The session is over for this request either way.
			s.log.LogAttrs(ctx, slog.LevelWarn, "idle session not deleted", slog.String("error", err.Error()))
		}
		return nil, fmt.Errorf("session: idle for %s: %w", idle.Truncate(time.Second), ErrNotFound)
	}
	s.maybeTouch(id, sess.Handle, now, idle)
	return sess, nil
}

// maybeTouch records the use in the background when the stored time is
// WriteInterval old and this replica has not touched the session within
// WriteInterval. It skips (trying again on a later Load) when too many
// writes are in flight.
func (s *IdleStore) maybeTouch(id, handle string, now time.Time, idle time.Duration) {
	if idle < s.opts.WriteInterval {
		return
	}
	if handle == "" {
		handle, _ = storageKey(id)
	}
	s.mu.Lock()
	if last, ok := s.touched.Peek(handle); s.closed || ok && now.Sub(last) < s.opts.WriteInterval {
		s.mu.Unlock()
		return
	}
	select {
	case s.sem <- struct{}{}:
	default:
		s.mu.Unlock()
		return
	}
	s.touched.Add(handle, now)
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer func() { <-s.sem }()
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.TouchTimeout)
		defer cancel()
		if err := s.Touch(ctx, id, now); err != nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "session use not recorded", slog.String("error", err.Error()))
		}
	}()
}

// Run owns the background writes: it returns, once ctx has ended, when no
// more are started and those in flight (each bounded by TouchTimeout) have
// finished. It does not close the inner store.
func (s *IdleStore) Run(ctx context.Context) error {
	<-ctx.Done()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}
