package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/redis/go-redis/v9"
)

// Defaults for CacheOptions.
const (
	DefaultCacheSize           = 10000
	DefaultCacheTTL            = 5 * time.Second
	DefaultCacheHealthInterval = time.Second
	DefaultResubscribeMin      = 100 * time.Millisecond
	DefaultResubscribeMax      = 5 * time.Second
)

// CacheOptions configure a CachedStore. Zero values take the defaults.
type CacheOptions struct {
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
	Observer CacheObserver
}

// CacheObserver is told what the cache does, for metrics.
type CacheObserver interface {
	CacheLookup(hit bool)
	RevocationMessage()
}

// revocationFeed is a store that announces every change on a pub/sub
// channel (RedisStore).
type revocationFeed interface {
	subscribeRevocations(ctx context.Context) *redis.PubSub
}

// CachedStore is a Manager that answers LoadIdentity from a bounded
// in-process cache of recent lookups, in front of a RedisStore shared by
// every replica.
//
// Every write and delete through any replica's RedisStore publishes the
// session's handle; each CachedStore subscribes and evicts it, so a
// revocation reaches every replica within a pub/sub hop. An entry is also
// served for at most TTL. While the subscription is down (Redis unreachable,
// connection killed) the cache is emptied and bypassed, and it is refilled
// only after subscribing again: staleness never exceeds TTL.
//
// LoadIdentity returns the cached Session without its tokens, shared by
// every caller of that session: callers must treat it as read-only (the
// check path only reads it). Load and LoadWithTokens read Redis and return
// a private copy with tokens, for login, refresh, sign-out and policies
// that need the tokens.
//
// A MemoryStore needs no cache (it is already in process and has no other
// replicas to hear from), so NewCachedStore refuses it.
type CachedStore struct {
	inner Manager
	feed  revocationFeed
	cache *lru.Cache[string, cacheEntry]
	opts  CacheOptions
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

type cacheEntry struct {
	s     *Session // without tokens; shared, read-only
	until time.Time
}

var (
	_ Manager = (*CachedStore)(nil)
	_ Toucher = (*CachedStore)(nil)
)

// NewCachedStore makes a cache in front of inner, which must be a
// *RedisStore (or wrap one the same way). It starts nothing: the cache
// stays bypassed (every lookup reads Redis) until Run has subscribed to the
// revocations.
func NewCachedStore(inner Manager, opts CacheOptions) (*CachedStore, error) {
	feed, ok := inner.(revocationFeed)
	if !ok {
		return nil, fmt.Errorf("session: cache: %T publishes no revocations; only a Redis store can be cached", inner)
	}
	if opts.Size < 0 || opts.TTL < 0 || opts.HealthInterval < 0 || opts.ResubscribeMin < 0 || opts.ResubscribeMax < 0 {
		return nil, errors.New("session: cache: negative size or duration")
	}
	opts.Size = cmpOr(opts.Size, DefaultCacheSize)
	opts.TTL = orDefault(opts.TTL, DefaultCacheTTL)
	opts.HealthInterval = orDefault(opts.HealthInterval, DefaultCacheHealthInterval)
	opts.ResubscribeMin = orDefault(opts.ResubscribeMin, DefaultResubscribeMin)
	opts.ResubscribeMax = max(orDefault(opts.ResubscribeMax, DefaultResubscribeMax), opts.ResubscribeMin)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cache, err := lru.New[string, cacheEntry](opts.Size)
	if err != nil {
		return nil, fmt.Errorf("session: cache: %w", err)
	}
	return &CachedStore{inner: inner, feed: feed, cache: cache, opts: opts, log: log}, nil
}

func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// Subscribed reports whether the revocation subscription is up, i.e.
// whether the cache is in use.
func (c *CachedStore) Subscribed() bool { return c.live.Load() }

// Len returns the number of cached sessions.
func (c *CachedStore) Len() int { return c.cache.Len() }

// LoadIdentity returns the live session with this ID, without tokens, from
// the cache when it holds a fresh entry and otherwise from Redis. The
// result is shared: do not modify it.
func (c *CachedStore) LoadIdentity(ctx context.Context, id string) (*Session, error) {
	key, err := storageKey(id)
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
	s = withoutTokens(s)
	s.Handle = key // share the key's bytes rather than hold a second copy
	if c.live.Load() && c.gen.Load() == gen {
		until := now.Add(c.opts.TTL)
		if s.ExpiresAt.Before(until) {
			until = s.ExpiresAt
		}
		c.cache.Add(key, cacheEntry{s: s, until: until})
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
func (c *CachedStore) Load(ctx context.Context, id string) (*Session, error) {
	return c.inner.Load(ctx, id)
}

// LoadWithTokens is Load.
func (c *CachedStore) LoadWithTokens(ctx context.Context, id string) (*Session, error) {
	return c.inner.Load(ctx, id)
}

func (c *CachedStore) observeLookup(hit bool) {
	if c.opts.Observer != nil {
		c.opts.Observer.CacheLookup(hit)
	}
}

// evict drops a handle from the cache, here and now.
func (c *CachedStore) evict(handle string) {
	c.gen.Add(1)
	c.cache.Remove(handle)
}

// evictID drops a session ID's entry.
func (c *CachedStore) evictID(id string) {
	if key, err := storageKey(id); err == nil {
		c.evict(key)
	}
}

// Save writes s through to Redis (which tells every replica) and drops the
// local entry at once.
func (c *CachedStore) Save(ctx context.Context, s *Session) error {
	err := c.inner.Save(ctx, s)
	if s != nil {
		c.evictID(s.ID)
	}
	return err
}

// Update writes s through to Redis only while the session exists there,
// and drops the local entry at once.
func (c *CachedStore) Update(ctx context.Context, s *Session) error {
	err := c.inner.Update(ctx, s)
	if s != nil {
		c.evictID(s.ID)
	}
	return err
}

// Delete ends the session in Redis (which tells every replica) and drops the
// local entry at once.
func (c *CachedStore) Delete(ctx context.Context, id string) error {
	err := c.inner.Delete(ctx, id)
	c.evictID(id)
	return err
}

// DeleteByHandle is Delete by handle.
func (c *CachedStore) DeleteByHandle(ctx context.Context, handle string) error {
	err := c.inner.DeleteByHandle(ctx, handle)
	c.evict(handle)
	return err
}

// DeleteMatching ends every matching session in Redis (which tells every
// replica) and drops matching local entries at once.
func (c *CachedStore) DeleteMatching(ctx context.Context, f Filter) (int, error) {
	n, err := c.inner.DeleteMatching(ctx, f)
	c.gen.Add(1)
	for _, k := range c.cache.Keys() {
		if e, ok := c.cache.Peek(k); ok && f.matches(e.s) {
			c.cache.Remove(k)
		}
	}
	return n, err
}

// List passes through to Redis.
func (c *CachedStore) List(ctx context.Context, f Filter, cursor string, limit int) ([]*Session, string, error) {
	return c.inner.List(ctx, f, cursor, limit)
}

// LoadByHandle passes through to Redis.
func (c *CachedStore) LoadByHandle(ctx context.Context, handle string) (*Session, error) {
	return c.inner.LoadByHandle(ctx, handle)
}

// TryLock passes through to Redis.
func (c *CachedStore) TryLock(ctx context.Context, name string, ttl time.Duration) (func(), bool, error) {
	return c.inner.TryLock(ctx, name, ttl)
}

// Ping passes through to Redis.
func (c *CachedStore) Ping(ctx context.Context) error { return c.inner.Ping(ctx) }

// Touch passes through to the inner store when it is a Toucher. It does not
// evict: a cached LastSeenAt may lag by up to TTL.
func (c *CachedStore) Touch(ctx context.Context, id string, at time.Time) error {
	t, ok := c.inner.(Toucher)
	if !ok {
		return fmt.Errorf("session: touch: %T cannot record use", c.inner)
	}
	return t.Touch(ctx, id, at)
}

// Run keeps the revocation subscription up (the cache is used only while
// it is) until ctx ends; then it empties the cache, which is bypassed from
// then on, and returns nil. The inner store stays open. Run may be called
// once.
func (c *CachedStore) Run(ctx context.Context) error {
	if c.started.Swap(true) {
		return errors.New("session: cache: Run called more than once")
	}
	c.subscribe(ctx)
	return nil
}

// setLive turns the cache on or off; either way it starts empty.
func (c *CachedStore) setLive(on bool) {
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
func (c *CachedStore) subscribe(ctx context.Context) {
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
func (c *CachedStore) subscribeOnce(ctx context.Context) (up bool, err error) {
	ps := c.feed.subscribeRevocations(ctx)
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
