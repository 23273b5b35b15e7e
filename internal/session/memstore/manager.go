package memstore

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/record"
)

// List returns up to limit live sessions matching f whose handle sorts after
// cursor, without tokens, and the cursor of the next page ("" at the end).
// It scans every session: the memory store serves one replica.
func (m *Store) List(ctx context.Context, f session.Filter, cursor string, limit int) ([]*session.Session, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", fmt.Errorf("session: list: %w", err)
	}
	if _, err := record.ListIndex(f); err != nil {
		return nil, "", fmt.Errorf("session: list: %w", err)
	}
	limit = session.PageLimit(limit)
	now := m.now()
	type hit struct {
		handle string
		e      entry
	}
	var hits []hit
	m.mu.RLock()
	if m.closed {
		m.mu.RUnlock()
		return nil, "", fmt.Errorf("session: list: %w", ErrClosed)
	}
	for k, e := range m.entries {
		if k > cursor && now.Before(e.expires) && f.Matches(e.ident) {
			hits = append(hits, hit{k, e})
		}
	}
	m.mu.RUnlock()
	slices.SortFunc(hits, func(a, b hit) int { return cmp.Compare(a.handle, b.handle) })
	next := ""
	if len(hits) > limit {
		hits = hits[:limit]
		next = hits[limit-1].handle
	}
	out := make([]*session.Session, 0, len(hits))
	for _, h := range hits {
		s, err := record.DecodeIdentity(h.handle, h.e.data, now)
		if err != nil {
			continue // unreadable: Load treats it as gone too
		}
		s.MarkSeen(h.e.lastSeen)
		out = append(out, s)
	}
	return out, next, nil
}

// LoadByHandle returns the live session with this handle, without tokens.
func (m *Store) LoadByHandle(ctx context.Context, handle string) (*session.Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("session: load by handle: %w", err)
	}
	if err := session.ValidHandle(handle); err != nil {
		return nil, fmt.Errorf("session: load by handle: %w", err)
	}
	e, now, err := m.live("load by handle", handle)
	if err != nil {
		return nil, err
	}
	s, err := record.DecodeIdentity(handle, e.data, now)
	if err != nil {
		return nil, err
	}
	s.MarkSeen(e.lastSeen)
	return s, nil
}

// DeleteByHandle ends the session with this handle; a missing one is not an
// error.
func (m *Store) DeleteByHandle(ctx context.Context, handle string) error {
	if err := session.ValidHandle(handle); err != nil {
		return fmt.Errorf("session: delete by handle: %w", err)
	}
	return m.deleteKey(ctx, "delete by handle", handle)
}

// DeleteMatching ends every live session matching f (Issuer with Subject or
// SID) and returns how many ended.
func (m *Store) DeleteMatching(ctx context.Context, f session.Filter) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("session: delete matching: %w", err)
	}
	if _, err := record.DeleteIndex(f); err != nil {
		return 0, fmt.Errorf("session: delete matching: %w", err)
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, fmt.Errorf("session: delete matching: %w", ErrClosed)
	}
	n := 0
	for k, e := range m.entries {
		if f.Matches(e.ident) {
			if now.Before(e.expires) {
				n++
			}
			delete(m.entries, k)
		}
	}
	return n, nil
}

// Touch moves the session's LastSeenAt forward to at.
func (m *Store) Touch(ctx context.Context, id string, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("session: touch: %w", err)
	}
	key, err := session.HandleOf(id)
	if err != nil {
		return fmt.Errorf("session: touch: %w", err)
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("session: touch: %w", ErrClosed)
	}
	if e, ok := m.entries[key]; ok && now.Before(e.expires) && at.After(e.lastSeen) {
		e.lastSeen = at
		m.entries[key] = e
	}
	return nil
}

// TryLock takes the named lock for ttl unless someone holds it. release
// frees it only if it is still this holder's.
func (m *Store) TryLock(ctx context.Context, name string, ttl time.Duration) (func(), bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, fmt.Errorf("session: lock: %w", err)
	}
	if ttl <= 0 {
		return nil, false, fmt.Errorf("session: lock: ttl %v is not positive", ttl)
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, false, fmt.Errorf("session: lock: %w", ErrClosed)
	}
	if l, ok := m.locks[name]; ok && now.Before(l.expires) {
		return nil, false, nil
	}
	token := rand.Uint64()
	m.locks[name] = lock{token: token, expires: now.Add(ttl)}
	release := func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if l, ok := m.locks[name]; ok && l.token == token {
			delete(m.locks, name)
		}
	}
	return release, true, nil
}
