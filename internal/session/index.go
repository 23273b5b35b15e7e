package session

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
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
