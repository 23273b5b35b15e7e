package record

import (
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/session"
)

// Limits on what a record may hold. A record is read whole and its groups
// each become a string, so whoever can write to the store could otherwise
// make every lookup, listing or sign-out allocate without bound (a 32 MiB
// record of empty groups made a listing allocate 1.6 GiB). Both limits are
// far above what a provider's claims carry (Entra ID, for one, sends at
// most 200 groups in a token), and a session beyond them is refused when
// it is saved, never written.
const (
	MaxBytes  = 1 << 20 // a whole stored record, tokens included
	MaxGroups = 10000
)

// Format is the format a record is written in; every format is read.
type Format int

const (
	// V3 is a version byte and a protobuf message (record.proto): the
	// default.
	V3 Format = iota
	// V2 is the JSON format of releases before v3, for a rolling upgrade
	// from one: write it until no replica of the earlier release is left.
	V2
)

// ParseFormat reads a format's name, "v3" or "v2" ("" is V3).
func ParseFormat(name string) (Format, error) {
	switch name {
	case "", "v3":
		return V3, nil
	case "v2":
		return V2, nil
	}
	return 0, fmt.Errorf(`record format %q: want "v3" or "v2"`, name)
}

// Encode is EncodeAs in the V3 format.
func Encode(s *session.Session, now time.Time) (key string, data []byte, ttl time.Duration, err error) {
	return EncodeAs(s, now, V3)
}

// EncodeAs checks s before a store writes it and returns its key (the
// Handle), its sealed record in format f, and how long it has left to live
// at now.
func EncodeAs(s *session.Session, now time.Time, f Format) (key string, data []byte, ttl time.Duration, err error) {
	if s == nil {
		return "", nil, 0, errors.New("session: save: nil session")
	}
	key, err = session.HandleOf(s.ID)
	if err != nil {
		return "", nil, 0, fmt.Errorf("session: save: %w", err)
	}
	ttl = s.ExpiresAt.Sub(now)
	if s.ExpiresAt.IsZero() || ttl <= 0 {
		return "", nil, 0, fmt.Errorf("session: save: ExpiresAt %s is not in the future: %w",
			s.ExpiresAt.UTC().Format(time.RFC3339), session.ErrExpired)
	}
	if len(s.Groups) > MaxGroups {
		return "", nil, 0, fmt.Errorf("session: save: %d groups, more than the %d a session may hold: %w", len(s.Groups), MaxGroups, session.ErrTooLarge)
	}
	if f == V2 {
		data, err = encodeV2(s)
	} else {
		data, err = encodeV3(s)
	}
	if err != nil {
		return "", nil, 0, fmt.Errorf("session: save: encode: %w", err)
	}
	if len(data) > MaxBytes {
		return "", nil, 0, fmt.Errorf("session: save: the record is %d bytes, more than the %d a session may take: %w", len(data), MaxBytes, session.ErrTooLarge)
	}
	return key, data, ttl, nil
}

// Decode turns a stored record (v3, or v2 from an earlier release) back
// into a session.Session for id, times in UTC. A record that has expired at
// now is reported as session.ErrNotFound. A record that cannot be decoded
// (written by an incompatible version, or altered in the store) is also
// reported as session.ErrNotFound, wrapped with the reason, so the user
// signs in again rather than being refused until the record expires.
func Decode(id string, data []byte, now time.Time) (*session.Session, error) {
	s, err := decode(id, data)
	if err != nil {
		return nil, fmt.Errorf("session: stored record unreadable (%v): %w", err, session.ErrNotFound)
	}
	if !now.Before(s.ExpiresAt) {
		return nil, session.ErrNotFound
	}
	return s, nil
}

// formatOf tells a stored record's format by its first byte, refusing an
// empty record and one larger than MaxBytes before anything parses it.
func formatOf(data []byte) (Format, error) {
	switch {
	case len(data) == 0:
		return 0, errors.New("empty record")
	case len(data) > MaxBytes:
		return 0, fmt.Errorf("record of %d bytes, more than %d", len(data), MaxBytes)
	case data[0] == versionV3:
		return V3, nil
	case data[0] == '{':
		return V2, nil
	}
	return 0, fmt.Errorf("unknown record version %#x", data[0])
}

// decode opens a record of either format with id.
func decode(id string, data []byte) (*session.Session, error) {
	idBytes, err := session.ParseID(id)
	if err != nil {
		return nil, err
	}
	f, err := formatOf(data)
	if err != nil {
		return nil, err
	}
	var s *session.Session
	if f == V2 {
		s, err = decodeV2(idBytes, data)
	} else {
		s, err = decodeV3(idBytes, data)
	}
	if err != nil {
		return nil, err
	}
	s.ID = id
	return s, nil
}

// DecodeIdentity decodes a stored record without its tokens (which only the
// ID can open), for List and LoadByHandle. An expired record is ErrNotFound.
func DecodeIdentity(handle string, data []byte, now time.Time) (*session.Session, error) {
	s, err := Identity(data)
	if err != nil {
		return nil, fmt.Errorf("session: stored record unreadable (%v): %w", err, session.ErrNotFound)
	}
	if !now.Before(s.ExpiresAt) {
		return nil, session.ErrNotFound
	}
	s.Handle = handle
	return s, nil
}

// Identity decodes the clear part of a stored record (v3 or v2), whatever
// its expiry. It is not authenticated: only Decode, with the ID, checks it.
func Identity(data []byte) (*session.Session, error) {
	f, err := formatOf(data)
	if err != nil {
		return nil, err
	}
	if f == V2 {
		return identityV2(data)
	}
	return identityV3(data)
}
