// Package redisstore is the Redis session store (standalone, Sentinel or
// Cluster) that replicas share. Every change is announced on a pub/sub
// channel so that package cache can evict it on every replica.
package redisstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/record"
)

// Defaults for Options. They are short on purpose: a session lookup sits
// on every request's path, and callers bound each call with a ctx deadline.
const (
	DefaultDialTimeout  = 2 * time.Second
	DefaultReadTimeout  = time.Second
	DefaultWriteTimeout = time.Second
)

var (
	_ session.ReadManager = (*Store)(nil)
	_ session.Toucher     = (*Store)(nil)
)

// Options configure a Store. One address is a standalone server;
// several addresses with MasterName are Sentinels; several without (or any
// number with Cluster set) are the seed nodes of a Cluster.
type Options struct {
	Addrs      []string
	MasterName string // Sentinel master set name
	Cluster    bool   // force Cluster mode, e.g. for a single seed address
	Username   string
	Password   string // never logged nor put in errors
	DB         int    // must be 0 for Cluster
	KeyPrefix  string // prepended to every key, e.g. "gatehouse:"
	// RevocationChannel is the pub/sub channel on which every write and
	// delete announces the session's handle, so the caches on every
	// replica evict it; default "<KeyPrefix>revocations".
	RevocationChannel string
	TLSConfig         *tls.Config

	// Zero means the Default* value above.
	DialTimeout  time.Duration
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// PoolSize is the connection pool size per node; zero means go-redis's
	// default (10 per CPU).
	PoolSize int
	// RecordFormat is the format records are written in (every format is
	// read); the zero value is record.V3.
	RecordFormat record.Format
}

// Store is a session.Manager in Redis (standalone, Sentinel or Cluster), shared
// by every replica. Each session is one key, "<prefix>session:{<handle>}"
// (the handle is the SHA-256 of the ID), holding the encoded record with the
// tokens sealed; it expires in Redis when the session does. Its last-use
// time lives beside it in "<prefix>seen:{<handle>}"; the braces are a Cluster
// hash tag, so both share a slot.
//
// Sessions are indexed for List and DeleteMatching in sets of handles,
// "<prefix>user:{h}", "sid:{h}", "sub:{h}" and "email:{h}" (h hashes the
// issuer with the subject or sid, the subject, or the lower-cased email).
// The sets live in other slots than the session, so they are updated by
// separate commands after the session is written, and readers drop members
// whose session is gone. A set expires with the longest-lived of its sessions.
//
// Every Save and delete publishes the handle on the revocation channel.
type Store struct {
	client  redis.UniversalClient
	prefix  string
	channel string
	owned   bool
	format  record.Format
	now     func() time.Time
	touch   *redis.Script
	update  *redis.Script
	unlock  *redis.Script
}

// New connects lazily to the Redis described by opts; it does no
// I/O, so call Ping to check the connection.
func New(opts Options) (*Store, error) {
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
		DialTimeout:   orDefault(opts.DialTimeout, DefaultDialTimeout),
		ReadTimeout:   orDefault(opts.ReadTimeout, DefaultReadTimeout),
		WriteTimeout:  orDefault(opts.WriteTimeout, DefaultWriteTimeout),
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
	client := redis.NewUniversalClient(uo)
	if cc, ok := client.(*redis.ClusterClient); ok {
		cc.AddHook(clusterReload{cc})
	}
	s := NewFromClient(client, opts.KeyPrefix)
	if opts.RevocationChannel != "" {
		s.channel = opts.RevocationChannel
	}
	s.owned = true
	s.format = opts.RecordFormat
	return s, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// NewFromClient returns a Store on an existing client. The
// caller keeps ownership: Close does not close client. The client should have
// ContextTimeoutEnabled set so ctx deadlines bound every call. Revocations
// go to "<keyPrefix>revocations".
func NewFromClient(client redis.UniversalClient, keyPrefix string) *Store {
	return &Store{
		client: client, prefix: keyPrefix, channel: keyPrefix + "revocations", now: time.Now,
		touch: redis.NewScript(touchScript), update: redis.NewScript(updateScript), unlock: redis.NewScript(unlockScript),
	}
}

// key is the Redis key for a session's storage key (the hash of its ID).
func (r *Store) key(storageKey string) string {
	return r.prefix + "session:{" + storageKey + "}"
}

// seenKey holds the session's last-use time in Unix milliseconds.
func (r *Store) seenKey(storageKey string) string {
	return r.prefix + "seen:{" + storageKey + "}"
}

// indexKey is the Redis set of an index.
func (r *Store) indexKey(ix record.Index) string {
	return r.prefix + string(ix.Kind) + ":{" + ix.Hash + "}"
}

// Save creates or replaces s; Redis drops it at s.ExpiresAt. It returns
// session.ErrInvalidID for a malformed ID and session.ErrExpired if s.ExpiresAt is not in
// the future.
func (r *Store) Save(ctx context.Context, s *session.Session) error {
	return r.write(ctx, "save", s, false)
}

// Update replaces s only while its session key exists, in one script, so
// a delete on any replica either happens after it (and wins) or makes it
// return session.ErrNotFound without writing.
func (r *Store) Update(ctx context.Context, s *session.Session) error {
	return r.write(ctx, "update", s, true)
}

// write stores s and its index entries and announces it; with mustExist,
// only over an existing session.
func (r *Store) write(ctx context.Context, op string, s *session.Session, mustExist bool) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("session: %s: %w", op, err)
	}
	key, data, ttl, err := record.EncodeAs(s, r.now(), r.format)
	if err != nil {
		return err
	}
	ttl = max(ttl, time.Millisecond)
	// A relative TTL (sent as PX) is immune to a skewed Redis clock. Both
	// keys share the hash tag, so one transaction or script writes them.
	if mustExist {
		keys := []string{r.key(key), r.seenKey(key)}
		n, err := r.update.Run(ctx, r.client, keys, data, ttl.Milliseconds()).Int()
		if err != nil {
			return fmt.Errorf("session: redis %s: %w", op, err)
		}
		if n == 0 {
			return fmt.Errorf("session: %s: %w", op, session.ErrNotFound)
		}
	} else {
		_, err = r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, r.key(key), data, ttl)
			p.PExpire(ctx, r.seenKey(key), ttl)
			return nil
		})
		if err != nil {
			return fmt.Errorf("session: redis %s: %w", op, err)
		}
	}
	// The session is written before its index entries: a reader that finds
	// a handle in an index and no session may drop it as stale. If this
	// fails, the caller reports the error and hands out no cookie for a new
	// session; a saved-again session keeps its earlier index entries.
	if err := r.addToIndexes(ctx, key, s, ttl); err != nil {
		return fmt.Errorf("session: redis %s: index: %w", op, err)
	}
	if err := r.publish(ctx, key); err != nil {
		return fmt.Errorf("session: redis %s: %w", op, err)
	}
	return nil
}

// Load returns the live session with this ID, session.ErrNotFound, or session.ErrInvalidID.
// Any other error means the store failed (the caller answers 5xx).
func (r *Store) Load(ctx context.Context, id string) (*session.Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("session: load: %w", err)
	}
	key, err := session.HandleOf(id)
	if err != nil {
		return nil, fmt.Errorf("session: load: %w", err)
	}
	data, seen, err := r.get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("session: redis load: %w", err)
	}
	if data == nil {
		return nil, session.ErrNotFound
	}
	s, err := record.Decode(id, data, r.now())
	if err != nil {
		return nil, err
	}
	s.Handle = key
	s.MarkSeen(seen)
	return s, nil
}

// LoadWithTokens is Load.
func (r *Store) LoadWithTokens(ctx context.Context, id string) (*session.Session, error) {
	return r.Load(ctx, id)
}

// LoadIdentity is Load without the tokens: the record is opened all the
// same, since that is what authenticates its identity.
func (r *Store) LoadIdentity(ctx context.Context, id string) (*session.Session, error) {
	s, err := r.Load(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.WithoutTokens(), nil
}

// Delete removes the session with this ID; a missing session is not an error.
func (r *Store) Delete(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("session: delete: %w", err)
	}
	key, err := session.HandleOf(id)
	if err != nil {
		return fmt.Errorf("session: delete: %w", err)
	}
	if _, err := r.deleteHandles(ctx, []string{key}); err != nil {
		return fmt.Errorf("session: redis delete: %w", err)
	}
	return nil
}

// Ping reports whether Redis answers.
func (r *Store) Ping(ctx context.Context) error {
	if err := r.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("session: redis ping: %w", err)
	}
	return nil
}

// Close closes the client if New made it.
func (r *Store) Close() error {
	if !r.owned {
		return nil
	}
	if err := r.client.Close(); err != nil {
		return fmt.Errorf("session: redis close: %w", err)
	}
	return nil
}
