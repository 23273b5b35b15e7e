// Package idle ends sessions left unused: a sliding idle timeout on top of a
// session store, decided purely from the session's LastSeenAt, with the use
// recorded back to the store in the background, throttled, by the job pool
// that Run owns.
package idle

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/gatehouse/gatehouse/internal/background"
	"github.com/gatehouse/gatehouse/internal/session"
)

// Defaults for Options.
const (
	MinWriteInterval    = time.Minute
	DefaultTouchTimeout = time.Second
	// maxTouchJobs bounds the writes waiting or running; a use that finds
	// them full is recorded on a later request instead.
	maxTouchJobs = 32
	// maxTouchMemo bounds how many sessions' last touch a Store remembers.
	maxTouchMemo = 100000
)

// Options configure a Store.
type Options struct {
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

// Inner is what a Store wraps: a session store that can record use.
type Inner interface {
	session.ReadManager
	session.Toucher
}

var (
	_ session.ReadManager = (*Store)(nil)
	_ session.Toucher     = (*Store)(nil)
)

// Store enforces a sliding idle timeout on top of a session store
// (memstore, redisstore or cache). Load, LoadIdentity and LoadWithTokens
// each answer session.ErrNotFound for a session whose last use (the later
// of LastSeenAt and CreatedAt) is Timeout ago or more; that is a pure check,
// nothing is deleted, and the record stays unusable until its absolute
// ExpiresAt removes it. A use is recorded back (Touch) when the stored time
// is WriteInterval old, at most once per interval per session on this
// replica, never on every request, by the background jobs Run owns. Writes,
// deletes and the admin view (List, LoadByHandle) pass through.
type Store struct {
	Inner
	opts Options
	log  *slog.Logger

	jobs *background.Pool

	mu sync.Mutex
	// touched throttles writes, it is not a cache of sessions: handle ->
	// when this replica last queued a touch of it, the least recently
	// touched dropped past maxTouchMemo (at worst one more write for that
	// session). Whether a session is idle is decided from its LastSeenAt
	// alone, never from here.
	touched *simplelru.LRU[string, time.Time]
}

// New wraps inner with an idle timeout.
func New(inner Inner, opts Options) (*Store, error) {
	if opts.Timeout <= 0 {
		return nil, fmt.Errorf("session: idle: timeout %v is not positive", opts.Timeout)
	}
	if opts.WriteInterval < 0 || opts.TouchTimeout < 0 {
		return nil, errors.New("session: idle: negative write interval or touch timeout")
	}
	if opts.WriteInterval == 0 {
		opts.WriteInterval = max(opts.Timeout/10, MinWriteInterval)
	}
	opts.WriteInterval = min(opts.WriteInterval, opts.Timeout/2)
	if opts.WriteInterval <= 0 {
		return nil, fmt.Errorf("session: idle: timeout %v too short", opts.Timeout)
	}
	opts.TouchTimeout = cmp.Or(opts.TouchTimeout, DefaultTouchTimeout)
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
	return &Store{
		Inner: inner, opts: opts, log: log,
		jobs: background.NewPool(maxTouchJobs), touched: touched,
	}, nil
}

// Load is LoadWithTokens.
func (s *Store) Load(ctx context.Context, id string) (*session.Session, error) {
	return s.LoadWithTokens(ctx, id)
}

// LoadWithTokens returns the session with its tokens unless it has been
// idle for Timeout.
func (s *Store) LoadWithTokens(ctx context.Context, id string) (*session.Session, error) {
	sess, err := s.Inner.LoadWithTokens(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.admit(ctx, id, sess, true)
}

// LoadIdentity returns the session without its tokens (shared, from the
// cache when the inner store is one) unless it has been idle for Timeout.
func (s *Store) LoadIdentity(ctx context.Context, id string) (*session.Session, error) {
	sess, err := s.Inner.LoadIdentity(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.admit(ctx, id, sess, false)
}

// admit returns sess unless the session has been idle for Timeout. fresh
// tells whether sess was read from the store itself; otherwise it may be a
// cached copy that lags behind another replica's touch, so an idle verdict
// is checked against what the store holds now.
func (s *Store) admit(ctx context.Context, id string, sess *session.Session, fresh bool) (*session.Session, error) {
	now := s.opts.Now()
	idle := now.Sub(sess.LastUse())
	if idle >= s.opts.Timeout && !fresh {
		f, err := s.Inner.LoadWithTokens(ctx, id)
		if err != nil {
			return nil, err
		}
		idle = now.Sub(f.LastUse())
	}
	if idle >= s.opts.Timeout {
		return nil, fmt.Errorf("session: idle for %s: %w", idle.Truncate(time.Second), session.ErrNotFound)
	}
	s.maybeTouch(id, sess.Handle, now, idle)
	return sess, nil
}

// maybeTouch offers a write of the use when the stored time is
// WriteInterval old and this replica has not written it for the session
// within WriteInterval. The write is dropped (a later Load tries again) when
// maxTouchJobs are waiting or running, so a slow store never holds up a
// request.
func (s *Store) maybeTouch(id, handle string, now time.Time, idle time.Duration) {
	if idle < s.opts.WriteInterval {
		return
	}
	if handle == "" {
		handle, _ = session.HandleOf(id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if last, ok := s.touched.Peek(handle); ok && now.Sub(last) < s.opts.WriteInterval {
		return
	}
	taken := s.jobs.TryGo(func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, s.opts.TouchTimeout)
		defer cancel()
		if err := s.Touch(ctx, id, now); err != nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "session use not recorded", slog.String("error", err.Error()))
		}
	})
	if taken {
		s.touched.Add(handle, now)
	}
}

// Run writes the offered uses until ctx ends; then it writes those already
// offered (each bounded by TouchTimeout) and returns. It does not close the
// inner store. It may be called once.
func (s *Store) Run(ctx context.Context) error { return s.jobs.Run(ctx) }
