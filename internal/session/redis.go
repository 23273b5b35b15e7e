package session

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Defaults for RedisOptions. They are short on purpose: a session lookup sits
// on every request's path, and callers bound each call with a ctx deadline.
const (
	DefaultRedisDialTimeout  = 2 * time.Second
	DefaultRedisReadTimeout  = time.Second
	DefaultRedisWriteTimeout = time.Second
)

var _ Store = (*RedisStore)(nil)

// RedisOptions configure a RedisStore. One address is a standalone server;
// several addresses with MasterName are Sentinels; several without (or any
// number with Cluster set) are the seed nodes of a Cluster.
type RedisOptions struct {
	Addrs      []string
	MasterName string // Sentinel master set name
	Cluster    bool   // force Cluster mode, e.g. for a single seed address
	Username   string
	Password   string // never logged nor put in errors
	DB         int    // must be 0 for Cluster
	KeyPrefix  string // prepended to every key, e.g. "gatehouse:"
	TLSConfig  *tls.Config

	// Zero means the Default* value above.
	DialTimeout  time.Duration
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// PoolSize is the connection pool size per node; zero means go-redis's
	// default (10 per CPU).
	PoolSize int
}

// RedisStore is a Store in Redis (standalone, Sentinel or Cluster), shared by
// every replica. Each session is one key, "<prefix>session:{<sha256 of ID>}",
// holding the encoded record with the tokens sealed; it expires in Redis when
// the session does. The braces are a Cluster hash tag, so further keys of one
// session land on the same slot.
type RedisStore struct {
	client redis.UniversalClient
	prefix string
	owned  bool
	now    func() time.Time
}

// NewRedisStore connects lazily to the Redis described by opts; it does no
// I/O, so call Ping to check the connection.
func NewRedisStore(opts RedisOptions) (*RedisStore, error) {
	if len(opts.Addrs) == 0 {
		return nil, errors.New("session: redis: no addresses")
	}
	for i, a := range opts.Addrs {
		if strings.TrimSpace(a) == "" {
			return nil, fmt.Errorf("session: redis: address %d is empty", i)
		}
	}
	if opts.DB < 0 {
		return nil, fmt.Errorf("session: redis: db %d is negative", opts.DB)
	}
	if opts.MasterName != "" && opts.Cluster {
		return nil, errors.New("session: redis: master name (Sentinel) and Cluster are exclusive")
	}
	if opts.DB != 0 && opts.MasterName == "" && (len(opts.Addrs) > 1 || opts.Cluster) {
		return nil, errors.New("session: redis: db must be 0 for Cluster")
	}
	if opts.PoolSize < 0 {
		return nil, fmt.Errorf("session: redis: pool size %d is negative", opts.PoolSize)
	}
	uo := &redis.UniversalOptions{
		Addrs:         opts.Addrs,
		MasterName:    opts.MasterName,
		IsClusterMode: opts.Cluster,
		Username:      opts.Username,
		Password:      opts.Password,
		DB:            opts.DB,
		TLSConfig:     opts.TLSConfig,
		DialTimeout:   orDefault(opts.DialTimeout, DefaultRedisDialTimeout),
		ReadTimeout:   orDefault(opts.ReadTimeout, DefaultRedisReadTimeout),
		WriteTimeout:  orDefault(opts.WriteTimeout, DefaultRedisWriteTimeout),
		PoolSize:      opts.PoolSize,
		// Without this go-redis ignores ctx deadlines on reads and writes.
		ContextTimeoutEnabled: true,
		// Sentinels usually share the data nodes' credentials.
		SentinelUsername: opts.Username,
		SentinelPassword: opts.Password,
		// Skip the handshake for a feature sessions do not use; it only
		// costs a round trip and log noise on servers that lack it.
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
	s := NewRedisStoreFromClient(redis.NewUniversalClient(uo), opts.KeyPrefix)
	s.owned = true
	return s, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// NewRedisStoreFromClient returns a RedisStore on an existing client. The
// caller keeps ownership: Close does not close client. The client should have
// ContextTimeoutEnabled set so ctx deadlines bound every call.
func NewRedisStoreFromClient(client redis.UniversalClient, keyPrefix string) *RedisStore {
	return &RedisStore{client: client, prefix: keyPrefix, now: time.Now}
}

// key is the Redis key for a session's storage key (the hash of its ID).
func (r *RedisStore) key(storageKey string) string {
	return r.prefix + "session:{" + storageKey + "}"
}

// Save creates or replaces s; Redis drops it at s.ExpiresAt. It returns
// ErrInvalidID for a malformed ID and ErrExpired if s.ExpiresAt is not in
// the future.
func (r *RedisStore) Save(ctx context.Context, s *Session) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("session: save: %w", err)
	}
	key, data, ttl, err := prepareSave(s, r.now())
	if err != nil {
		return err
	}
	// A relative TTL (sent as PX) is immune to a skewed Redis clock.
	if err := r.client.Set(ctx, r.key(key), data, max(ttl, time.Millisecond)).Err(); err != nil {
		return fmt.Errorf("session: redis save: %w", err)
	}
	return nil
}

// Load returns the live session with this ID, ErrNotFound, or ErrInvalidID.
// Any other error means the store failed (the caller answers 5xx).
func (r *RedisStore) Load(ctx context.Context, id string) (*Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("session: load: %w", err)
	}
	key, err := storageKey(id)
	if err != nil {
		return nil, fmt.Errorf("session: load: %w", err)
	}
	data, err := r.client.Get(ctx, r.key(key)).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, ErrNotFound
	case err != nil:
		return nil, fmt.Errorf("session: redis load: %w", err)
	}
	return decodeStored(id, data, r.now())
}

// Delete removes the session with this ID; a missing session is not an error.
func (r *RedisStore) Delete(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("session: delete: %w", err)
	}
	key, err := storageKey(id)
	if err != nil {
		return fmt.Errorf("session: delete: %w", err)
	}
	if err := r.client.Del(ctx, r.key(key)).Err(); err != nil {
		return fmt.Errorf("session: redis delete: %w", err)
	}
	return nil
}

// Ping reports whether Redis answers.
func (r *RedisStore) Ping(ctx context.Context) error {
	if err := r.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("session: redis ping: %w", err)
	}
	return nil
}

// Close closes the client if NewRedisStore made it.
func (r *RedisStore) Close() error {
	if !r.owned {
		return nil
	}
	if err := r.client.Close(); err != nil {
		return fmt.Errorf("session: redis close: %w", err)
	}
	return nil
}
