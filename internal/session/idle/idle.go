// Package idle ends sessions left unused: a sliding idle timeout on top of a
// session store, decided purely from the session's LastSeenAt, with the use
// recorded back to the store in the background, throttled, by workers that
// Run owns.
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

	"github.com/gatehouse/gatehouse/internal/session"
)

// Defaults for Options.
const (
	MinWriteInterval    = time.Minute
	DefaultTouchTimeout = time.Second
	// touchQueue bounds the writes waiting for a worker; a use that finds
	// it full is recorded on a later request instead.
	touchQueue = 256
	// touchWorkers is how many writes run at once.
	touchWorkers = 4
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
// replica, never on every request, by the workers Run owns. Writes,
// deletes and the admin view (List, LoadByHandle) pass through.
type Store struct {
	Inner
	opts Options
	log  *slog.Logger

	touches chan touch

	mu sync.Mutex
	// touched throttles writes, it is not a cache of sessions: handle ->
	// when this replica last queued a touch of it, the least recently
	// touched dropped past maxTouchMemo (at worst one more write for that
	// session). Whether a session is idle is decided from its LastSeenAt
	// alone, never from here.
	touched *simplelru.LRU[string, time.Time]
}

// touch is one use to record.
type touch struct {
	id string
	at time.Time
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
		touches: make(chan touch, touchQueue), touched: touched,
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

// maybeTouch queues a write of the use when the stored time is
// WriteInterval old and this replica has not queued one for the session
// within WriteInterval. It drops the write (a later Load tries again) when
// the queue is full, so a slow store never holds up a request.
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
	select {
	case s.touches <- touch{id: id, at: now}:
		s.touched.Add(handle, now)
	default:
	}
}

// Run records the queued uses with touchWorkers workers until ctx ends;
// a write in flight then finishes (each bounded by TouchTimeout) and the
// rest of the queue is dropped. It does not close the inner store.
func (s *Store) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for range touchWorkers {
		wg.Go(func() { s.work(ctx) })
	}
	wg.Wait()
	return nil
}

// work records queued uses until ctx ends.
func (s *Store) work(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case t := <-s.touches:
			tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.TouchTimeout)
			if err := s.Touch(tctx, t.id, t.at); err != nil {
				s.log.LogAttrs(tctx, slog.LevelWarn, "session use not recorded", slog.String("error", err.Error()))
			}
			cancel()
		}
	}
}
