package session

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrBadFilter: a Filter that List or DeleteMatching cannot serve. List
// needs Subject, Email, or Issuer with SID; DeleteMatching needs Issuer with
// Subject or SID, so one call never ends sessions of unrelated users.
var ErrBadFilter = errors.New("session filter selects no index")

// Limits of List pages.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// Toucher records that a session was just used. MemoryStore, RedisStore and
// CachedStore implement it; IdleStore needs it.
type Toucher interface {
	// Touch moves the session's LastSeenAt forward to at (never backward).
	// A missing session is not an error and is not brought back.
	Touch(ctx context.Context, id string, at time.Time) error
}

// matches reports whether s is selected by f. Emails compare without case.
func (f Filter) matches(s *Session) bool {
	return (f.Issuer == "" || f.Issuer == s.Issuer) &&
		(f.Subject == "" || f.Subject == s.Subject) &&
		(f.SID == "" || f.SID == s.SID) &&
		(f.Email == "" || strings.EqualFold(f.Email, s.Email))
}

// indexKind names the attribute an index groups sessions by.
type indexKind string

const (
	indexUser  indexKind = "user"  // issuer + subject
	indexSID   indexKind = "sid"   // issuer + provider session ID
	indexSub   indexKind = "sub"   // subject alone (admin lookups without issuer)
	indexEmail indexKind = "email" // lower-cased email
)

// indexName is an index's kind and the hash of the values it groups by.
type indexName struct {
	kind indexKind
	hash string
}

// indexHash hashes length-prefixed parts, so ("ab","c") and ("a","bc")
// differ; 128 bits name an index without collisions in practice.
func indexHash(kind indexKind, parts ...string) string {
	h := sha256.New()
	var n [8]byte
	for _, p := range append([]string{string(kind)}, parts...) {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// indexesOf returns every index s belongs to.
func indexesOf(s *Session) []indexName {
	out := make([]indexName, 0, 4)
	if s.Subject != "" {
		out = append(out, indexName{indexUser, indexHash(indexUser, s.Issuer, s.Subject)},
			indexName{indexSub, indexHash(indexSub, s.Subject)})
	}
	if s.SID != "" {
		out = append(out, indexName{indexSID, indexHash(indexSID, s.Issuer, s.SID)})
	}
	if s.Email != "" {
		out = append(out, indexName{indexEmail, indexHash(indexEmail, strings.ToLower(s.Email))})
	}
	return out
}

// listIndex picks the narrowest index that serves f for List.
func listIndex(f Filter) (indexName, error) {
	switch {
	case f.Issuer != "" && f.SID != "":
		return indexName{indexSID, indexHash(indexSID, f.Issuer, f.SID)}, nil
	case f.Issuer != "" && f.Subject != "":
		return indexName{indexUser, indexHash(indexUser, f.Issuer, f.Subject)}, nil
	case f.Subject != "":
		return indexName{indexSub, indexHash(indexSub, f.Subject)}, nil
	case f.Email != "":
		return indexName{indexEmail, indexHash(indexEmail, strings.ToLower(f.Email))}, nil
	}
	return indexName{}, ErrBadFilter
}

// deleteIndex picks the index for DeleteMatching, which needs Issuer with
// SID or Subject.
func deleteIndex(f Filter) (indexName, error) {
	if f.Issuer == "" || (f.SID == "" && f.Subject == "") {
		return indexName{}, ErrBadFilter
	}
	return listIndex(f)
}

// listLimit clamps a requested page size.
func listLimit(limit int) int {
	if limit <= 0 {
		return DefaultListLimit
	}
	return min(limit, MaxListLimit)
}

// checkHandle accepts only the canonical form of a handle (64 lower-case
// hex digits), so a handle can never address another key.
func checkHandle(h string) error {
	if len(h) != 2*sha256.Size {
		return ErrInvalidID
	}
	for i := range len(h) {
		c := h[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return ErrInvalidID
		}
	}
	return nil
}

// decodeIdentity decodes a stored record without its tokens (which only the
// ID can open), for List and LoadByHandle. An expired record is ErrNotFound.
func decodeIdentity(handle string, data []byte, now time.Time) (*Session, error) {
	s := &Session{}
	if err := json.Unmarshal(data, &record{Session: s}); err != nil {
		return nil, fmt.Errorf("session: stored record unreadable (%v): %w", err, ErrNotFound)
	}
	if !now.Before(s.ExpiresAt) {
		return nil, ErrNotFound
	}
	s.Handle = handle
	return s, nil
}

// withoutTokens returns a copy of s with its tokens left out.
func withoutTokens(s *Session) *Session {
	c := *s
	c.HasRefreshToken = s.RefreshToken != "" || s.HasRefreshToken
	c.IDToken, c.AccessToken, c.RefreshToken = "", "", ""
	return &c
}

// laterOf returns the later of a and b.
func laterOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
