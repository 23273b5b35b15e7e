package session

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// DefaultSweepInterval is how often, at most, a MemoryStore drops expired
// entries while it is being written to.
const DefaultSweepInterval = time.Minute

// ErrClosed is returned by a store that has been closed.
var ErrClosed = errors.New("session store closed")

var (
	_ Manager = (*MemoryStore)(nil)
	_ Toucher = (*MemoryStore)(nil)
)

// MemoryStore is a Store held in the process: the embedded default for a
// single replica. It keeps each session as its encoded record (tokens sealed,
// keyed by the hash of the ID), so callers never share memory with it and a
// heap dump holds no usable cookie or token.
//
// Expired entries are invisible at once and are dropped by a sweep that runs
// on Save at most once per sweep interval; the store starts no goroutines.
type MemoryStore struct {
	now           func() time.Time
	sweepInterval time.Duration

	mu        sync.RWMutex
	entries   map[string]memEntry
	locks     map[string]memLock
	lastSweep time.Time
	closed    bool
}

// memEntry is one stored session: its sealed record, and in clear the
// attributes List and DeleteMatching select by.
type memEntry struct {
	data     []byte
	ident    *Session // decoded without tokens, for LoadIdentity; read-only
	expires  time.Time
	lastSeen time.Time // from Touch; Load reports the later of this and the record's
	issuer   string
	subject  string
	sid      string
	email    string
}

type memLock struct {
	token   uint64
	expires time.Time
}

// MemoryOption configures a MemoryStore.
type MemoryOption func(*MemoryStore)

// WithClock makes the store read the time from now (for tests).
func WithClock(now func() time.Time) MemoryOption {
	return func(m *MemoryStore) {
		if now != nil {
			m.now = now
		}
	}
}

// WithSweepInterval sets how often, at most, Save drops expired entries;
// d <= 0 means on every Save.
func WithSweepInterval(d time.Duration) MemoryOption {
	return func(m *MemoryStore) { m.sweepInterval = max(d, 0) }
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore(opts ...MemoryOption) *MemoryStore {
	m := &MemoryStore{
		now:           time.Now,
		sweepInterval: DefaultSweepInterval,
		entries:       make(map[string]memEntry),
		locks:         make(map[string]memLock),
	}
	for _, o := range opts {
		o(m)
	}
	m.lastSweep = m.now()
	return m
}

// Save creates or replaces s until s.ExpiresAt. It returns ErrInvalidID for a
// malformed ID and ErrExpired if s.ExpiresAt is not in the future.
func (m *MemoryStore) Save(ctx context.Context, s *Session) error {
	return m.write(ctx, "save", s, false)
}

// Update replaces s only while a live session with its ID is stored;
// otherwise it returns ErrNotFound and stores nothing.
func (m *MemoryStore) Update(ctx context.Context, s *Session) error {
	return m.write(ctx, "update", s, true)
}

// write stores s; with mustExist, only over a live session with its ID.
func (m *MemoryStore) write(ctx context.Context, op string, s *Session, mustExist bool) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("session: %s: %w", op, err)
	}
	now := m.now()
	key, data, _, err := prepareSave(s, now)
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
		return fmt.Errorf("session: %s: %w", op, ErrNotFound)
	}
	ident := withoutTokens(s)
	ident.ID, ident.Handle, ident.Groups = "", key, slices.Clone(s.Groups)
	e := memEntry{data: data, ident: ident, expires: s.ExpiresAt, issuer: s.Issuer, subject: s.Subject, sid: s.SID, email: s.Email}
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
func (m *MemoryStore) sweepLocked(now time.Time) {
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

// Load returns a fresh copy of the live session with this ID, ErrNotFound,
// or ErrInvalidID.
func (m *MemoryStore) Load(ctx context.Context, id string) (*Session, error) {
	key, e, now, err := m.liveByID(ctx, "load", id)
	if err != nil {
		return nil, err
	}
	// e.data is never modified after Save, so it is safe to read unlocked.
	s, err := decodeStored(id, e.data, now)
	if err != nil {
		return nil, err
	}
	s.Handle = key
	s.LastSeenAt = laterOf(s.LastSeenAt, e.lastSeen)
	return s, nil
}

// LoadWithTokens is Load.
func (m *MemoryStore) LoadWithTokens(ctx context.Context, id string) (*Session, error) {
	return m.Load(ctx, id)
}

// LoadIdentity returns the live session with this ID without its tokens
// (HasRefreshToken tells whether it has a refresh token), or ErrNotFound.
// It decodes nothing, so it is the check path's lookup; Groups is shared
// and must not be modified.
func (m *MemoryStore) LoadIdentity(ctx context.Context, id string) (*Session, error) {
	_, e, _, err := m.liveByID(ctx, "load", id)
	if err != nil {
		return nil, err
	}
	s := *e.ident
	s.LastSeenAt = laterOf(s.LastSeenAt, e.lastSeen)
	return &s, nil
}

// liveByID returns the live entry of session id and its storage key.
func (m *MemoryStore) liveByID(ctx context.Context, op, id string) (string, memEntry, time.Time, error) {
	if err := ctx.Err(); err != nil {
		return "", memEntry{}, time.Time{}, fmt.Errorf("session: %s: %w", op, err)
	}
	key, err := storageKey(id)
	if err != nil {
		return "", memEntry{}, time.Time{}, fmt.Errorf("session: %s: %w", op, err)
	}
	e, now, err := m.live(op, key)
	return key, e, now, err
}

// live returns the entry stored under key if it has not expired.
func (m *MemoryStore) live(op, key string) (memEntry, time.Time, error) {
	now := m.now()
	m.mu.RLock()
	e, ok := m.entries[key]
	closed := m.closed
	m.mu.RUnlock()
	switch {
	case closed:
		return memEntry{}, now, fmt.Errorf("session: %s: %w", op, ErrClosed)
	case !ok || !now.Before(e.expires):
		return memEntry{}, now, ErrNotFound
	}
	return e, now, nil
}

// Delete removes the session with this ID; a missing session is not an error.
func (m *MemoryStore) Delete(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("session: delete: %w", err)
	}
	key, err := storageKey(id)
	if err != nil {
		return fmt.Errorf("session: delete: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("session: delete: %w", ErrClosed)
	}
	delete(m.entries, key)
	return nil
}

// Ping reports ErrClosed after Close, and ctx's error if it is done.
func (m *MemoryStore) Ping(ctx context.Context) error {
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
func (m *MemoryStore) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.entries)
}

// Close drops every session; later calls fail with ErrClosed.
func (m *MemoryStore) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.entries = nil
	m.locks = nil
	return nil
}
