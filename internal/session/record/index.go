package record

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strings"

	"github.com/gatehouse/gatehouse/internal/session"
)

// Kind names the attribute an index groups sessions by.
type Kind string

// The kinds of index.
const (
	KindUser  Kind = "user"  // issuer + subject
	KindSID   Kind = "sid"   // issuer + provider session ID
	KindSub   Kind = "sub"   // subject alone (admin lookups without issuer)
	KindEmail Kind = "email" // lower-cased email
)

// Index is an index's kind and the hash of the values it groups by.
type Index struct {
	Kind Kind
	Hash string
}

// Hash hashes kind and length-prefixed parts, so ("ab","c") and ("a","bc")
// differ; 128 bits name an index without collisions in practice.
func Hash(kind Kind, parts ...string) string {
	h := sha256.New()
	var n [8]byte
	for _, p := range append([]string{string(kind)}, parts...) {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// IndexesOf returns every index s belongs to.
func IndexesOf(s *session.Session) []Index {
	out := make([]Index, 0, 4)
	if s.Subject != "" {
		out = append(out, Index{KindUser, Hash(KindUser, s.Issuer, s.Subject)},
			Index{KindSub, Hash(KindSub, s.Subject)})
	}
	if s.SID != "" {
		out = append(out, Index{KindSID, Hash(KindSID, s.Issuer, s.SID)})
	}
	if s.Email != "" {
		out = append(out, Index{KindEmail, Hash(KindEmail, strings.ToLower(s.Email))})
	}
	return out
}

// ListIndex picks the narrowest index that serves f for List.
func ListIndex(f session.Filter) (Index, error) {
	switch {
	case f.Issuer != "" && f.SID != "":
		return Index{KindSID, Hash(KindSID, f.Issuer, f.SID)}, nil
	case f.Issuer != "" && f.Subject != "":
		return Index{KindUser, Hash(KindUser, f.Issuer, f.Subject)}, nil
	case f.Subject != "":
		return Index{KindSub, Hash(KindSub, f.Subject)}, nil
	case f.Email != "":
		return Index{KindEmail, Hash(KindEmail, strings.ToLower(f.Email))}, nil
	}
	return Index{}, session.ErrBadFilter
}

// DeleteIndex picks the index for DeleteMatching, which needs Issuer with
// SID or Subject.
func DeleteIndex(f session.Filter) (Index, error) {
	if f.Issuer == "" || (f.SID == "" && f.Subject == "") {
		return Index{}, session.ErrBadFilter
	}
	return ListIndex(f)
}
