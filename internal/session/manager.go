package session

import (
	"context"
	"errors"
	"strings"
	"time"
)

// Filter selects sessions; empty fields match anything. Issuer with
// Subject names one user; Issuer with SID one provider session.
type Filter struct {
	Issuer  string
	Subject string
	SID     string
	Email   string
}

// Manager is what sign-out everywhere, back-channel logout, token refresh
// and the admin API need beyond Store. Sessions are named there by their
// Handle (the hash the store keys them by), never by their ID: the ID is a
// bearer secret that only the browser holds.
type Manager interface {
	Store
	// Update replaces s only while a live session with its ID is still
	// stored, atomically: a session ended meanwhile (signed out, revoked,
	// expired) stays ended and Update returns ErrNotFound, writing nothing.
	// Token refresh saves through it so that it never resurrects a session.
	Update(ctx context.Context, s *Session) error
	// List returns up to limit sessions matching f, without tokens, after
	// cursor ("" for the first page), and the cursor of the next page ("" at
	// the end).
	List(ctx context.Context, f Filter, cursor string, limit int) ([]*Session, string, error)
	// LoadByHandle returns a session without its tokens, or ErrNotFound.
	LoadByHandle(ctx context.Context, handle string) (*Session, error)
	// DeleteByHandle ends one session; a missing one is not an error.
	DeleteByHandle(ctx context.Context, handle string) error
	// DeleteMatching ends every session matching f (which must set SID or
	// Subject, with Issuer) and returns how many ended.
	DeleteMatching(ctx context.Context, f Filter) (int, error)
	// TryLock takes the named lock for at most ttl, across every replica
	// sharing the store. ok is false when another holder has it.
	TryLock(ctx context.Context, name string, ttl time.Duration) (release func(), ok bool, err error)
}

// ErrBadFilter: a Filter that List or DeleteMatching cannot serve. List
// needs Subject, Email, or Issuer with SID; DeleteMatching needs Issuer with
// Subject or SID, so one call never ends sessions of unrelated users.
var ErrBadFilter = errors.New("session filter selects no index")

// Limits of List pages.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// Matches reports whether s is selected by f. Emails compare without case.
func (f Filter) Matches(s *Session) bool {
	return (f.Issuer == "" || f.Issuer == s.Issuer) &&
		(f.Subject == "" || f.Subject == s.Subject) &&
		(f.SID == "" || f.SID == s.SID) &&
		(f.Email == "" || strings.EqualFold(f.Email, s.Email))
}

// PageLimit clamps a requested List page size: DefaultListLimit when limit
// is not positive, at most MaxListLimit.
func PageLimit(limit int) int {
	if limit <= 0 {
		return DefaultListLimit
	}
	return min(limit, MaxListLimit)
}
