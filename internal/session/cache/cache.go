// Package cache keeps recent session lookups in process, in front of the
// Redis store, and hears every replica's revocations over Redis pub/sub so
// that a sign-out or an admin revocation reaches it within a hop.
package cache

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/session"
)

// Defaults for Options.
const (
	DefaultSize           = 10000
	DefaultTTL            = 5 * time.Second
	DefaultHealthInterval = time.Second
	DefaultResubscribeMin = 100 * time.Millisecond
	DefaultResubscribeMax = 5 * time.Second
)

// Options configure a Store. Zero values take the defaults.
type Options struct {
	// Size bounds the number of cached sessions (least recently used go
	// first). About 0.5 KiB of heap each for a typical session.
	Size int
	// TTL is how long a cached lookup is served without asking Redis: the
	// most a revocation can be late if its message is lost.
	TTL time.Duration
	// HealthInterval is how long the subscription may stay silent before it
	// is pinged; a ping unanswered for another interval counts as a drop.
	HealthInterval time.Duration
	// ResubscribeMin and ResubscribeMax bound the backoff between attempts
	// to subscribe again after a drop.
	ResubscribeMin, ResubscribeMax time.Duration
	Logger                         *slog.Logger
	Now                            func() time.Time
	// Observer, if set, is told about lookups and revocation messages.
	Observer Observer
}

// Observer is told what the cache does, for metrics.
type Observer interface {
	CacheLookup(hit bool)
	RevocationMessage()
}

// Backend is the store a Store sits in front of: a session store that
// announces every change to every replica (redisstore.Store).
type Backend interface {
	session.ReadManager
	session.Toucher
	// Revocations subscribes to the handles of changed and ended sessions.
	Revocations(ctx context.Context) *redis.PubSub
}

// Store is a session.ReadManager that answers LoadIdentity from a bounded
// in-process cache of recent lookups, in front of a Redis store shared by
// every replica.
//
// Every write and delete through any replica's Redis store publishes the
// session's handle; each Store subscribes and evicts it, so a
// revocation reaches every replica within a pub/sub hop. An entry is also
// served for at most TTL. While the subscription is down (Redis unreachable,
// connection killed) the cache is emptied and bypassed, and it is refilled
// only after subscribing again: staleness never exceeds TTL.
//
// LoadIdentity returns the cached session.Session without its tokens, shared by
// every caller of that session: callers must treat it as read-only (the
// check path only reads it). Load and LoadWithTokens read Redis and return
// a private copy with tokens, for login, refresh, sign-out and policies
// that need the tokens.
//
// The memory store needs no cache (it is already in process and has no
// other replicas to hear from) and is no Backend.
type Store struct {
	inner Backend
	cache *lru.Cache[string, entry]
	opts  Options
	log   *slog.Logger

	// live is true while subscribed; only then is the cache used.
	live atomic.Bool
	// gen changes on every eviction message and purge; a lookup caches its
	// result only if gen did not change while it read Redis.
	gen atomic.Uint64
	// heard counts revocation messages received (for tests and metrics).
	heard atomic.Uint64

	// started is set by the first Run.
	started atomic.Bool
}

type entry struct {
	s     *session.Session // without tokens; shared, read-only
	until time.Time
}

var (
	_ session.ReadManager = (*Store)(nil)
	_ session.Toucher     = (*Store)(nil)
)

// New makes a cache in front of inner. It starts nothing: the cache stays
// bypassed (every lookup reads inner) until Run has subscribed to the
// revocations.
func New(inner Backend, opts Options) (*Store, error) {
	if opts.Size < 0 || opts.TTL < 0 || opts.HealthInterval < 0 || opts.ResubscribeMin < 0 || opts.ResubscribeMax < 0 {
		return nil, errors.New("session: cache: negative size or duration")
	}
	opts.Size = cmp.Or(opts.Size, DefaultSize)
	opts.TTL = cmp.Or(opts.TTL, DefaultTTL)
	opts.HealthInterval = cmp.Or(opts.HealthInterval, DefaultHealthInterval)
	opts.ResubscribeMin = cmp.Or(opts.ResubscribeMin, DefaultResubscribeMin)
	opts.ResubscribeMax = max(cmp.Or(opts.ResubscribeMax, DefaultResubscribeMax), opts.ResubscribeMin)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cache, err := lru.New[string, entry](opts.Size)
	if err != nil {
		return nil, fmt.Errorf("session: cache: %w", err)
	}
	return &Store{inner: inner, cache: cache, opts: opts, log: log}, nil
}

// Subscribed reports whether the revocation subscription is up, i.e.
// whether the cache is in use.
func (c *Store) Subscribed() bool { return c.live.Load() }

// Len returns the number of cached sessions.
func (c *Store) Len() int { return c.cache.Len() }

// LoadIdentity returns the live session with this ID, without tokens, from
// the cache when it holds a fresh entry and otherwise from Redis. The
// result is shared: do not modify it.
func (c *Store) LoadIdentity(ctx context.Context, id string) (*session.Session, error) {
	key, err := session.HandleOf(id)
	if err != nil {
		return nil, fmt.Errorf("session: load: %w", err)
	}
	now := c.opts.Now()
	if c.live.Load() {
		if e, ok := c.cache.Get(key); ok {
			if now.Before(e.until) {
				c.observeLookup(true)
				return e.s, nil
			}
			c.cache.Remove(key)
		}
	}
	c.observeLookup(false)
	gen := c.gen.Load()
	s, err := c.inner.Load(ctx, id)
	if err != nil {
		return nil, err
	}
	s = s.WithoutTokens()
	s.Handle = key // share the key's bytes rather than hold a second copy
	if c.live.Load() && c.gen.Load() == gen {
		until := now.Add(c.opts.TTL)
		if s.ExpiresAt.Before(until) {
			until = s.ExpiresAt
		}
		c.cache.Add(key, entry{s: s, until: until})
		// An eviction that arrived after the check above must still win.
		if c.gen.Load() != gen {
			c.cache.Remove(key)
		}
	}
	return s, nil
}

// Load reads the session from Redis, with its tokens, bypassing the cache
// (as every Store's Load returns the tokens). The result is the caller's
// own.
func (c *Store) Load(ctx context.Context, id string) (*session.Session, error) {
	return c.inner.Load(ctx, id)
}

// LoadWithTokens is Load.
func (c *Store) LoadWithTokens(ctx context.Context, id string) (*session.Session, error) {
	return c.inner.Load(ctx, id)
}

func (c *Store) observeLookup(hit bool) {
	if c.opts.Observer != nil {
		c.opts.Observer.CacheLookup(hit)
	}
}

// evict drops a handle from the cache, here and now.
func (c *Store) evict(handle string) {
	c.gen.Add(1)
	c.cache.Remove(handle)
}

// evictID drops a session ID's entry.
func (c *Store) evictID(id string) {
	if key, err := session.HandleOf(id); err == nil {
		c.evict(key)
	}
}

// Save writes s through to Redis (which tells every replica) and drops the
// local entry at once.
func (c *Store) Save(ctx context.Context, s *session.Session) error {
	err := c.inner.Save(ctx, s)
	if s != nil {
		c.evictID(s.ID)
	}
	return err
}

// Update writes s through to Redis only while the session exists there,
// and drops the local entry at once.
func (c *Store) Update(ctx context.Context, s *session.Session) error {
	err := c.inner.Update(ctx, s)
	if s != nil {
		c.evictID(s.ID)
	}
	return err
}

// Delete ends the session in Redis (which tells every replica) and drops the
// local entry at once.
func (c *Store) Delete(ctx context.Context, id string) error {
	err := c.inner.Delete(ctx, id)
	c.evictID(id)
	return err
}

// DeleteByHandle is Delete by handle.
func (c *Store) DeleteByHandle(ctx context.Context, handle string) error {
	err := c.inner.DeleteByHandle(ctx, handle)
	c.evict(handle)
	return err
}

// DeleteMatching ends every matching session in Redis (which tells every
// replica) and drops matching local entries at once.
func (c *Store) DeleteMatching(ctx context.Context, f session.Filter) (int, error) {
	n, err := c.inner.DeleteMatching(ctx, f)
	c.gen.Add(1)
	for _, k := range c.cache.Keys() {
		if e, ok := c.cache.Peek(k); ok && f.Matches(e.s) {
			c.cache.Remove(k)
		}
	}
	return n, err
}

// List passes through to Redis.
func (c *Store) List(ctx context.Context, f session.Filter, cursor string, limit int) ([]*session.Session, string, error) {
	return c.inner.List(ctx, f, cursor, limit)
}

// LoadByHandle passes through to Redis.
func (c *Store) LoadByHandle(ctx context.Context, handle string) (*session.Session, error) {
	return c.inner.LoadByHandle(ctx, handle)
}

// TryLock passes through to Redis.
func (c *Store) TryLock(ctx context.Context, name string, ttl time.Duration) (func(), bool, error) {
	return c.inner.TryLock(ctx, name, ttl)
}

// Ping passes through to Redis.
func (c *Store) Ping(ctx context.Context) error { return c.inner.Ping(ctx) }

// Touch passes through to the inner store when it is a session.Toucher. It does not
// evict: a cached LastSeenAt may lag by up to TTL.
func (c *Store) Touch(ctx context.Context, id string, at time.Time) error {
	t, ok := c.inner.(session.Toucher)
	if !ok {
		return fmt.Errorf("session: touch: %T cannot record use", c.inner)
	}
	return t.Touch(ctx, id, at)
}

// Run keeps the revocation subscription up (the cache is used only while
// it is) until ctx ends; then it empties the cache, which is bypassed from
// then on, and returns nil. The inner store stays open. Run may be called
// once.
func (c *Store) Run(ctx context.Context) error {
	if c.started.Swap(true) {
		return errors.New("session: cache: Run called more than once")
	}
	c.subscribe(ctx)
	return nil
}

// setLive turns the cache on or off; either way it starts empty.
func (c *Store) setLive(on bool) {
	if !on {
		c.live.Store(false)
	}
	c.gen.Add(1)
	c.cache.Purge()
	if on {
		c.live.Store(true)
	}
}

// subscribe keeps the revocation subscription up until ctx ends, with
// exponential backoff between attempts.
func (c *Store) subscribe(ctx context.Context) {
	defer c.setLive(false)
	backoff := c.opts.ResubscribeMin
	for {
		up, err := c.subscribeOnce(ctx)
		c.setLive(false)
		if ctx.Err() != nil {
			return
		}
		if up {
			backoff = c.opts.ResubscribeMin
		}
		c.log.LogAttrs(ctx, slog.LevelWarn, "session cache bypassed: revocation subscription lost",
			slog.String("error", err.Error()), slog.Duration("retry_in", backoff))
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		if !up {
			backoff = min(2*backoff, c.opts.ResubscribeMax)
		}
	}
}

// subscribeOnce subscribes, turns the cache on once Redis confirms, and
// evicts every announced handle until the subscription fails. up reports
// whether the subscription was ever confirmed.
func (c *Store) subscribeOnce(ctx context.Context) (up bool, err error) {
	ps := c.inner.Revocations(ctx)
	defer ps.Close()
	// A blocked receive does not watch ctx: closing unblocks it.
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer stop()
	wait := c.opts.HealthInterval
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, wait)
		if err != nil {
			var ne net.Error
			if up && !pinged && errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil {
				// Silent for a while: make sure the connection is alive.
				if err := ps.Ping(ctx); err != nil {
					return up, fmt.Errorf("ping: %w", err)
				}
				pinged = true
				continue
			}
			return up, err
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind != "subscribe" {
				return up, fmt.Errorf("unexpected %s", m.Kind)
			}
			if !up {
				up = true
				c.setLive(true)
				c.log.LogAttrs(ctx, slog.LevelInfo, "session cache on: revocation subscription up")
			}
		case *redis.Message:
			c.evict(m.Payload)
			if c.opts.Observer != nil {
				c.opts.Observer.RevocationMessage()
			}
			c.heard.Add(1)
		case *redis.Pong:
		}
	}
}
