// Package admintest has a map-based, in-memory admin.Manager for tests of the
// admin API and of its command-line client.
package admintest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/gatehouse/gatehouse/internal/session"
)

// Manager is a fake session manager keyed by handle. Its List pages through
// handles in sorted order, with the last handle of a page as the cursor.
type Manager struct {
	mu       sync.Mutex
	sessions map[string]*session.Session
	err      error
}

// NewManager returns an empty Manager.
func NewManager() *Manager {
	return &Manager{sessions: map[string]*session.Session{}}
}

// Add stores a copy of s under s.Handle.
func (m *Manager) Add(s *session.Session) {
	c := *s
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sessions[s.Handle] = &c
}

// Has reports whether a session with this handle is stored.
func (m *Manager) Has(handle string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.sessions[handle]
	return ok
}

// Len returns how many sessions are stored.
func (m *Manager) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sessions)
}

// FailWith makes every later call return err (nil restores service).
func (m *Manager) FailWith(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.err = err
}

func matches(f session.Filter, s *session.Session) bool {
	return (f.Issuer == "" || f.Issuer == s.Issuer) &&
		(f.Subject == "" || f.Subject == s.Subject) &&
		(f.SID == "" || f.SID == s.SID) &&
		(f.Email == "" || strings.EqualFold(f.Email, s.Email))
}

// List returns up to limit sessions matching f with handles after cursor.
func (m *Manager) List(ctx context.Context, f session.Filter, cursor string, limit int) ([]*session.Session, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return nil, "", m.err
	}
	if f.Subject == "" && f.Email == "" && f.SID == "" {
		return nil, "", fmt.Errorf("admintest: list: %w", session.ErrNotFound)
	}
	var handles []string
	for h, s := range m.sessions {
		if h > cursor && matches(f, s) {
			handles = append(handles, h)
		}
	}
	slices.Sort(handles)
	next := ""
	if len(handles) > limit {
		handles = handles[:limit]
		next = handles[limit-1]
	}
	out := make([]*session.Session, 0, len(handles))
	for _, h := range handles {
		c := *m.sessions[h]
		out = append(out, &c)
	}
	return out, next, nil
}

// LoadByHandle returns a copy of the session, or session.ErrNotFound.
func (m *Manager) LoadByHandle(ctx context.Context, handle string) (*session.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return nil, m.err
	}
	s, ok := m.sessions[handle]
	if !ok {
		return nil, session.ErrNotFound
	}
	c := *s
	return &c, nil
}

// DeleteByHandle removes the session; a missing one is not an error.
func (m *Manager) DeleteByHandle(ctx context.Context, handle string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	delete(m.sessions, handle)
	return nil
}

// DeleteMatching removes every session matching f, which must set Issuer
// with Subject or SID, like the real stores.
func (m *Manager) DeleteMatching(ctx context.Context, f session.Filter) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return 0, m.err
	}
	if f.Issuer == "" || (f.Subject == "" && f.SID == "") {
		return 0, fmt.Errorf("admintest: delete matching needs issuer with subject or sid")
	}
	n := 0
	for h, s := range m.sessions {
		if matches(f, s) {
			delete(m.sessions, h)
			n++
		}
	}
	return n, nil
}
