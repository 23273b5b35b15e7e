package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/record"
)

// touchScript moves a session's last-use time forward, only while the
// session key exists (so a touch never outlives a delete), expiring with it.
// KEYS: session, seen. ARGV: Unix milliseconds.
const touchScript = `
local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 then return 0 end
local cur = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
if tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[2], ARGV[1], 'PX', ttl) end
return 1`

// updateScript replaces a session's record only while it exists, and
// keeps its last-use time expiring with it. KEYS: session, seen. ARGV:
// record, TTL in milliseconds. It returns 0 when the session is gone.
const updateScript = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1`

// unlockScript deletes a lock only if it still holds the caller's token.
const unlockScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`

// releaseTimeout bounds the Redis call of a lock's release function, which
// takes no context.
const releaseTimeout = time.Second

// get reads a session's record and last-use time; a missing session is a nil
// record and no error. Both keys share a slot, so one MGET reads them.
func (r *Store) get(ctx context.Context, handle string) ([]byte, time.Time, error) {
	vals, err := r.client.MGet(ctx, r.key(handle), r.seenKey(handle)).Result()
	if err != nil {
		return nil, time.Time{}, err
	}
	data, ok := vals[0].(string)
	if !ok {
		return nil, time.Time{}, nil
	}
	return []byte(data), parseSeen(vals[1]), nil
}

// parseSeen turns a seen key's value (Unix ms) into a time; anything else is zero.
func parseSeen(v any) time.Time {
	s, ok := v.(string)
	if !ok {
		return time.Time{}
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// addToIndexes adds handle to every index of s and makes each index live at
// least as long as s (EXPIRE NX sets a new set's expiry, GT extends it).
func (r *Store) addToIndexes(ctx context.Context, handle string, s *session.Session, ttl time.Duration) error {
	d := ttl.Truncate(time.Second) + time.Second
	_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, ix := range record.IndexesOf(s) {
			k := r.indexKey(ix)
			p.SAdd(ctx, k, handle)
			p.ExpireNX(ctx, k, d)
			p.ExpireGT(ctx, k, d)
		}
		return nil
	})
	return err
}

// publish announces that the session with this handle changed or ended.
func (r *Store) publish(ctx context.Context, handle string) error {
	if err := r.client.Publish(ctx, r.channel, handle).Err(); err != nil {
		return fmt.Errorf("publish revocation: %w", err)
	}
	return nil
}

// Revocations subscribes to the revocation channel, on which every write
// and delete through any replica announces the session's handle (package
// cache evicts on it). The caller closes the subscription.
func (r *Store) Revocations(ctx context.Context) *redis.PubSub {
	return r.client.Subscribe(ctx, r.channel)
}

// deleteHandles deletes the sessions with these handles, removes them from
// their indexes and announces each on the revocation channel, even one
// already gone (a replica may have missed an earlier message). It returns how
// many sessions existed.
func (r *Store) deleteHandles(ctx context.Context, handles []string) (int, error) {
	if len(handles) == 0 {
		return 0, nil
	}
	gets := make([]*redis.StringCmd, len(handles))
	_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, h := range handles {
			gets[i] = p.GetDel(ctx, r.key(h))
			p.Del(ctx, r.seenKey(h))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, err
	}
	n := 0
	_, err = r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, h := range handles {
			if data, err := gets[i].Result(); err == nil {
				n++
				if s, err := record.Identity([]byte(data)); err == nil {
					for _, ix := range record.IndexesOf(s) {
						p.SRem(ctx, r.indexKey(ix), h)
					}
				}
			}
			p.Publish(ctx, r.channel, h)
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("unindex and publish revocation: %w", err)
	}
	return n, nil
}

// indexed is a member of an index with what its session holds.
type indexed struct {
	handle string
	data   *redis.StringCmd
	seen   *redis.StringCmd
}

// readIndexed reads the sessions of these handles in one pipeline.
func (r *Store) readIndexed(ctx context.Context, handles []string) ([]indexed, error) {
	out := make([]indexed, len(handles))
	_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, h := range handles {
			out[i] = indexed{handle: h, data: p.Get(ctx, r.key(h)), seen: p.Get(ctx, r.seenKey(h))}
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	return out, nil
}

// members returns an index's well-formed handles after cursor, sorted.
func (r *Store) members(ctx context.Context, ix record.Index, cursor string) ([]string, error) {
	all, err := r.client.SMembers(ctx, r.indexKey(ix)).Result()
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, h := range all {
		if h > cursor && session.ValidHandle(h) == nil {
			out = append(out, h)
		}
	}
	slices.Sort(out)
	return out, nil
}

// dropStale removes handles whose session is gone from an index. It is best
// effort: a stale member left behind is dropped by a later reader.
func (r *Store) dropStale(ctx context.Context, ix record.Index, stale []string) {
	if len(stale) > 0 {
		_ = r.client.SRem(ctx, r.indexKey(ix), stale).Err()
	}
}

// List returns up to limit live sessions matching f whose handle sorts after
// cursor, without tokens, and the cursor of the next page ("" at the end).
// f must set Subject, Email, or Issuer with SID (session.ErrBadFilter otherwise).
func (r *Store) List(ctx context.Context, f session.Filter, cursor string, limit int) ([]*session.Session, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", fmt.Errorf("session: list: %w", err)
	}
	ix, err := record.ListIndex(f)
	if err != nil {
		return nil, "", fmt.Errorf("session: list: %w", err)
	}
	limit = session.PageLimit(limit)
	handles, err := r.members(ctx, ix, cursor)
	if err != nil {
		return nil, "", fmt.Errorf("session: redis list: %w", err)
	}
	now := r.now()
	var out []*session.Session
	var stale []string
	defer func() { r.dropStale(ctx, ix, stale) }()
	for start := 0; start < len(handles); start += limit {
		batch, err := r.readIndexed(ctx, handles[start:min(start+limit, len(handles))])
		if err != nil {
			return nil, "", fmt.Errorf("session: redis list: %w", err)
		}
		for i, e := range batch {
			data, err := e.data.Bytes()
			if errors.Is(err, redis.Nil) {
				stale = append(stale, e.handle)
				continue
			}
			s, err := record.DecodeIdentity(e.handle, data, now)
			if err != nil || !f.Matches(s) {
				continue
			}
			s.MarkSeen(parseSeen(e.seen.Val()))
			out = append(out, s)
			if len(out) == limit {
				if start+i+1 < len(handles) {
					return out, e.handle, nil
				}
				return out, "", nil
			}
		}
	}
	return out, "", nil
}

// LoadByHandle returns the live session with this handle, without tokens.
func (r *Store) LoadByHandle(ctx context.Context, handle string) (*session.Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("session: load by handle: %w", err)
	}
	if err := session.ValidHandle(handle); err != nil {
		return nil, fmt.Errorf("session: load by handle: %w", err)
	}
	data, seen, err := r.get(ctx, handle)
	if err != nil {
		return nil, fmt.Errorf("session: redis load by handle: %w", err)
	}
	if data == nil {
		return nil, session.ErrNotFound
	}
	s, err := record.DecodeIdentity(handle, data, r.now())
	if err != nil {
		return nil, err
	}
	s.MarkSeen(seen)
	return s, nil
}

// DeleteByHandle ends the session with this handle; a missing one is not an
// error.
func (r *Store) DeleteByHandle(ctx context.Context, handle string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("session: delete by handle: %w", err)
	}
	if err := session.ValidHandle(handle); err != nil {
		return fmt.Errorf("session: delete by handle: %w", err)
	}
	if _, err := r.deleteHandles(ctx, []string{handle}); err != nil {
		return fmt.Errorf("session: redis delete by handle: %w", err)
	}
	return nil
}

// DeleteMatching ends every session matching f (Issuer with Subject or SID)
// and returns how many ended.
func (r *Store) DeleteMatching(ctx context.Context, f session.Filter) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("session: delete matching: %w", err)
	}
	ix, err := record.DeleteIndex(f)
	if err != nil {
		return 0, fmt.Errorf("session: delete matching: %w", err)
	}
	handles, err := r.members(ctx, ix, "")
	if err != nil {
		return 0, fmt.Errorf("session: redis delete matching: %w", err)
	}
	read, err := r.readIndexed(ctx, handles)
	if err != nil {
		return 0, fmt.Errorf("session: redis delete matching: %w", err)
	}
	var doomed, stale []string
	for _, e := range read {
		data, err := e.data.Result()
		if errors.Is(err, redis.Nil) {
			stale = append(stale, e.handle)
			continue
		}
		if s, err := record.Identity([]byte(data)); err != nil || f.Matches(s) {
			doomed = append(doomed, e.handle) // unreadable records go too
		}
	}
	r.dropStale(ctx, ix, stale)
	n, err := r.deleteHandles(ctx, doomed)
	if err != nil {
		return n, fmt.Errorf("session: redis delete matching: %w", err)
	}
	return n, nil
}

// Touch moves the session's LastSeenAt forward to at (millisecond
// precision). A missing session stays missing.
func (r *Store) Touch(ctx context.Context, id string, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("session: touch: %w", err)
	}
	key, err := session.HandleOf(id)
	if err != nil {
		return fmt.Errorf("session: touch: %w", err)
	}
	keys := []string{r.key(key), r.seenKey(key)}
	if err := r.touch.Run(ctx, r.client, keys, at.UnixMilli()).Err(); err != nil {
		return fmt.Errorf("session: redis touch: %w", err)
	}
	return nil
}

// TryLock takes the named lock for ttl (SET NX PX with a random token)
// unless another holder has it. release deletes the lock only while it still
// holds this token, so a holder whose lock expired cannot free the next one.
func (r *Store) TryLock(ctx context.Context, name string, ttl time.Duration) (func(), bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, fmt.Errorf("session: lock: %w", err)
	}
	if ttl <= 0 {
		return nil, false, fmt.Errorf("session: lock: ttl %v is not positive", ttl)
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, false, fmt.Errorf("session: lock: read random: %w", err)
	}
	token := hex.EncodeToString(b)
	key := r.prefix + "lock:{" + record.Hash("lock", name) + "}"
	ok, err := r.client.SetNX(ctx, key, token, ttl).Result()
	if err != nil {
		return nil, false, fmt.Errorf("session: redis lock: %w", err)
	}
	if !ok {
		return nil, false, nil
	}
	release := func() {
		ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
		defer cancel()
		// A failed release leaves the lock to expire after ttl.
		_ = r.unlock.Run(ctx, r.client, []string{key}, token).Err()
	}
	return release, true, nil
}
