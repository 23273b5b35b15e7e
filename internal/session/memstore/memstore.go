// Package memstore is the in-memory session store: the embedded default
// for a single replica. It implements session.ReadManager and
// session.Toucher.
package memstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/record"
)

// DefaultSweepInterval is how often, at most, a Store drops expired
// entries while it is being written to.
const DefaultSweepInterval = time.Minute

// ErrClosed is returned by a store that has been closed.
var ErrClosed = errors.New("session store closed")

var (
	_ session.ReadManager = (*Store)(nil)
	_ session.Toucher     = (*Store)(nil)
)

// Store is a Store held in the process: the embedded default for a
// single replica. It keeps each session as its encoded record (tokens sealed,
// keyed by the hash of the ID), so callers never share memory with it and a
// heap dump holds no usable cookie or token.
//
// Expired entries are invisible at once and are dropped by a sweep that runs
// on Save at most once per sweep interval; the store starts no goroutines.
type Store struct {
	now           func() time.Time
	sweepInterval time.Duration

	mu        sync.RWMutex
	entries   map[string]entry
	locks     map[string]lock
	lastSweep time.Time
	closed    bool
}

// entry is one stored session: its sealed record, and in clear its
// identity, which LoadIdentity returns and List and DeleteMatching select by.
type entry struct {
	data     []byte
	ident    *session.Session // decoded without tokens, for LoadIdentity; read-only
	expires  time.Time
	lastSeen time.Time // from Touch; Load reports the later of this and the record's
}

type lock struct {
	token   uint64
	expires time.Time
}

// Options configure a Store; the zero value is the default.
type Options struct {
	// Now reads the time (for tests); default time.Now.
	Now func() time.Time
	// SweepInterval is how often, at most, Save drops expired entries;
	// default DefaultSweepInterval, negative means on every Save.
	SweepInterval time.Duration
}

// New returns an empty Store.
func New(opts Options) *Store {
	m := &Store{
		now:           opts.Now,
		sweepInterval: cmp.Or(opts.SweepInterval, DefaultSweepInterval),
		entries:       make(map[string]entry),
		locks:         make(map[string]lock),
	}
	if m.now == nil {
		m.now = time.Now
	}
	m.sweepInterval = max(m.sweepInterval, 0)
	m.lastSweep = m.now()
	return m
}

// Save creates or replaces s until s.ExpiresAt. It returns session.ErrInvalidID for a
// malformed ID and session.ErrExpired if s.ExpiresAt is not in the future.
func (m *Store) Save(ctx context.Context, s *session.Session) error {
	return m.write(ctx, "save", s, false)
}

// Update replaces s only while a live session with its ID is stored;
// otherwise it returns session.ErrNotFound and stores nothing.
func (m *Store) Update(ctx context.Context, s *session.Session) error {
	return m.write(ctx, "update", s, true)
}

// write stores s; with mustExist, only over a live session with its ID.
func (m *Store) write(ctx context.Context, op string, s *session.Session, mustExist bool) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("session: %s: %w", op, err)
	}
	now := m.now()
	key, data, _, err := record.Encode(s, now)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("session: %s: %w", op, ErrClosed)
	}
	old, ok := m.entries[key]
	live := ok && now.Before(old.expires)
	if mustExist && !live {
		return fmt.Errorf("session: %s: %w", op, session.ErrNotFound)
	}
	ident := s.WithoutTokens()
	ident.ID, ident.Handle, ident.Groups = "", key, slices.Clone(s.Groups)
	e := entry{data: data, ident: ident, expires: s.ExpiresAt}
	if live {
		e.lastSeen = old.lastSeen
	}
	m.entries[key] = e
	if now.Sub(m.lastSweep) >= m.sweepInterval {
		m.sweepLocked(now)
	}
	return nil
}

// sweepLocked drops every entry expired at now. m.mu must be held for writing.
func (m *Store) sweepLocked(now time.Time) {
	for k, e := range m.entries {
		if !now.Before(e.expires) {
			delete(m.entries, k)
		}
	}
	for k, l := range m.locks {
		if !now.Before(l.expires) {
			delete(m.locks, k)
		}
	}
	m.lastSweep = now
}

// Load returns a fresh copy of the live session with this ID, session.ErrNotFound,
// or session.ErrInvalidID.
func (m *Store) Load(ctx context.Context, id string) (*session.Session, error) {
	key, e, now, err := m.liveByID(ctx, "load", id)
	if err != nil {
		return nil, err
	}
	// e.data is never modified after Save, so it is safe to read unlocked.
	s, err := record.Decode(id, e.data, now)
	if err != nil {
		return nil, err
	}
	s.Handle = key
	s.MarkSeen(e.lastSeen)
	return s, nil
}

// LoadWithTokens is Load.
func (m *Store) LoadWithTokens(ctx context.Context, id string) (*session.Session, error) {
	return m.Load(ctx, id)
}

// LoadIdentity returns the live session with this ID without its tokens
// (HasRefreshToken tells whether it has a refresh token), or session.ErrNotFound.
// It decodes nothing, so it is the check path's lookup; Groups is shared
// and must not be modified.
func (m *Store) LoadIdentity(ctx context.Context, id string) (*session.Session, error) {
	_, e, _, err := m.liveByID(ctx, "load", id)
	if err != nil {
		return nil, err
	}
	s := *e.ident
	s.MarkSeen(e.lastSeen)
	return &s, nil
}

// liveByID returns the live entry of session id and its storage key.
func (m *Store) liveByID(ctx context.Context, op, id string) (string, entry, time.Time, error) {
	if err := ctx.Err(); err != nil {
		return "", entry{}, time.Time{}, fmt.Errorf("session: %s: %w", op, err)
	}
	key, err := session.HandleOf(id)
	if err != nil {
		return "", entry{}, time.Time{}, fmt.Errorf("session: %s: %w", op, err)
	}
	e, now, err := m.live(op, key)
	return key, e, now, err
}

// live returns the entry stored under key if it has not expired.
func (m *Store) live(op, key string) (entry, time.Time, error) {
	now := m.now()
	m.mu.RLock()
	e, ok := m.entries[key]
	closed := m.closed
	m.mu.RUnlock()
	switch {
	case closed:
		return entry{}, now, fmt.Errorf("session: %s: %w", op, ErrClosed)
	case !ok || !now.Before(e.expires):
		return entry{}, now, session.ErrNotFound
	}
	return e, now, nil
}

// Delete removes the session with this ID; a missing session is not an error.
func (m *Store) Delete(ctx context.Context, id string) error {
	key, err := session.HandleOf(id)
	if err != nil {
		return fmt.Errorf("session: delete: %w", err)
	}
	return m.deleteKey(ctx, "delete", key)
}

// deleteKey removes the session stored under key; op names the operation
// in errors.
func (m *Store) deleteKey(ctx context.Context, op, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("session: %s: %w", op, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("session: %s: %w", op, ErrClosed)
	}
	delete(m.entries, key)
	return nil
}

// Ping reports ErrClosed after Close, and ctx's error if it is done.
func (m *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("session: ping: %w", err)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return fmt.Errorf("session: ping: %w", ErrClosed)
	}
	return nil
}

// Len returns the number of entries held, live or expired but not yet swept.
func (m *Store) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.entries)
}

// Close drops every session; later calls fail with ErrClosed.
func (m *Store) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.entries = nil
	m.locks = nil
	return nil
}
